import { describe, expect, it } from 'vitest';
import type { InvitationRecord } from '../../protocol/records.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';

/** Ratings that look wrong are flagged, never dropped: the province decides. */
const halls = useHall(BROKERS[0]!);
const flagsOf = (r: unknown): string[] => (r as InvitationRecord).flags;

describe('honest ratings', () => {
  it('flags a press sooner than the configured minimum after the invitation (fast_press)', async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { invitation: { flags: { minPressMs: 60_000 } } } });
    const [record] = await hall.expectExactlyOnce(w, [await hall.serve(w, 'C-FAST-1', 0)]);
    expect(flagsOf(record)).toEqual(['fast_press']);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'very_satisfied' } });
  });

  it('flags an invitation right after stray presses (stray_nearby) and a case invited again (repeat_case)', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    await w.terminal.press(0);
    await hall.province.waitFor(() => hall.province.recordsOf(w.terminalId).find((r) => r.kind === 'event'));
    const first = await hall.serve(w, 'C-REPEAT-1', 1);
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the first rating');
    const second = await hall.serve(w, 'C-REPEAT-1', 1);
    const [a, b] = await hall.expectExactlyOnce(w, [first, second]);
    expect(flagsOf(a)).toEqual(['stray_nearby']);
    expect(flagsOf(b)).toEqual(['repeat_case', 'stray_nearby']);
  });

  it('flags a burst of identical grades at one window (grade_burst), and keeps every rating', async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { invitation: { flags: { burstCount: 3, burstWindowMinutes: 10 } } } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(await hall.serve(w, `C-BURST-${i}`, 0));
      await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating');
    }
    const records = await hall.expectExactlyOnce(w, ids);
    expect(records.map(flagsOf)).toEqual([[], [], ['grade_burst'], ['grade_burst']]);
  });

  it('reports a held button as a fault event, not a rating', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    await w.terminal.hold(2);
    const event = await hall.province.waitFor(() => hall.province.recordsOf(w.terminalId).find((r) => r.kind === 'event' && r.type === 'stuck_button'), { timeoutMs: 10_000 });
    expect(event).toMatchObject({ detail: { button: 2 } });
    await w.terminal.release(2);
    expect(hall.province.recordsOf(w.terminalId).filter((r) => r.kind === 'invitation')).toHaveLength(0);
  });

  it('a terminal silent past its deadline: the bridge closes the invitation (device_silent); its late rating is reconciled (tests/e2e/outcome-races.test.ts)', async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { invitation: { timeoutSeconds: 1, deviceGraceSeconds: 0, reasonTimeoutSeconds: 1 } } });
    const id = await hall.serve(w, 'C-SILENT-1', null);
    await w.terminal.unplug(); // the cable is out: the rating below cannot reach the bridge in time
    await w.terminal.press(1);
    const [record] = await hall.expectExactlyOnce(w, [id], 10_000);
    expect(record).toMatchObject({ outcome: 'not_rated', flags: ['device_silent'] });
    await w.terminal.plug(); // now the rating arrives: it takes the place of the bridge's outcome, one outcome still
    const late = await hall.province.waitFor(
      () => hall.province.recordsOf(w.terminalId).find((r) => r.kind === 'invitation' && r.supersedes === id),
      { timeoutMs: 10_000 },
    );
    expect(late).toMatchObject({ outcome: 'rated', flags: ['reconciled'], rating: { grade: 'satisfied' } });
    expect(hall.province.recordsOf(w.terminalId).filter((r) => r.kind === 'invitation')).toHaveLength(1);
  });

  it('marks training and provisioning invitations test, and test records never count today', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await w.invite({ services: [{ itemCode: 'X-1', caseNo: 'C-TEST-1' }], test: true });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    await w.terminal.press(0);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ test: true, outcome: 'rated' });
    expect((await w.api('GET', '/api/v1/stats/today')).body).toMatchObject({ invitations: 0, rated: 0 });
  });
});
