import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../simulator/random.js';
import { garbledWrites } from '../../simulator/virtual-serial-line.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';
import { notAudit } from '../support/audit-events.js';

/** The serial side of "every press the terminal acknowledged appears exactly once at the province". */

describe.each(BROKERS)('serial link faults ($name broker)', (kind) => {
  const halls = useHall(kind);

  it('a bridge restarted mid-invitation still gets the rating pressed while it was down, once', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-RESTART-1', null);
    await w.restartBridge(async () => {
      await w.terminal.press(4); // the bridge is down: the terminal keeps the rating and resends it
      expect(w.terminal.core.unacknowledged).toBeGreaterThan(0);
    });
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'very_dissatisfied' }, flags: ['no_reason'] }); // no reason catalogue was published
    await waitUntil(() => w.terminal.core.unacknowledged === 0, 'the terminal to have its rating acknowledged');
    expect(w.bridge.desk.current()).toBeUndefined();
  });

  it('survives a noisy line that garbles and fragments frames: every rating stored once', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const random = seededRandom(42);
    w.line.impair({ maxChunk: 5, corrupt: () => random() < 0.25 });
    const before = garbledWrites();
    const ids: string[] = [];
    const grades = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 0];
    for (const [i, button] of grades.entries()) {
      ids.push(await hall.serve(w, `C-NOISE-${i}`, button));
      await waitUntil(() => w.bridge.desk.current() === undefined, 'the invitation to close', { timeoutMs: 15_000 });
    }
    const records = await hall.expectExactlyOnce(w, ids);
    expect(records.map((r) => (r.kind === 'invitation' ? r.rating?.grade : undefined))).toEqual(
      grades.map((b) => ['very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied'][b]),
    );
    expect(garbledWrites() - before).toBeGreaterThan(0);
    const rejected = w.bridge.status().link.counters.rejected;
    expect((rejected.checksum ?? 0) + (rejected.not_ascii ?? 0) + (rejected.not_json ?? 0) + (rejected.schema ?? 0)).toBeGreaterThan(0);
    expect(hall.province.stats.rejected).toBe(0);
  }, 60_000);

  it('a cable pulled during the press: the rating arrives once the cable is back', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-UNPLUG-1', null);
    await w.terminal.unplug();
    await w.terminal.press(1);
    expect(w.bridge.desk.current()?.id).toBe(id);
    await w.terminal.plug();
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' } });
  });

  it('a burst of garbage between frames is dropped and counted, and changes nothing', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const stored = w.bridge.outbox.maxSeq(); // the audit may hold an entry already (the terminal's pairing)
    w.line.injectToBridge(Buffer.from([0x00, 0xff, 0x13, 0x0a]));
    w.line.injectToBridge('{"type":"rating"}*0000\n' + 'x'.repeat(700) + '\n');
    await waitUntil(() => {
      const r = w.bridge.status().link.counters.rejected;
      return r.not_ascii === 1 && r.checksum === 1 && r.too_long === 1;
    }, 'the three bad lines to be counted');
    expect(w.bridge.outbox.maxSeq()).toBe(stored);
    const id = await hall.serve(w, 'C-GARBAGE-1', 2);
    await hall.expectExactlyOnce(w, [id]);
  });
});

describe.each(BROKERS)('terminal resets ($name broker)', (kind) => {
  const halls = useHall(kind);

  it('a terminal that resets between ratings starts its numbering again; nothing is taken for a resend', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const before = [await hall.serve(w, 'C-RESET-A', 0)];
    await waitUntil(() => w.terminal.core.unacknowledged === 0, 'the rating to be acknowledged');
    await w.rebootTerminal();
    await w.ready();
    await waitUntil(() => w.bridge.status().link.terminal?.boot === w.terminal.bootId, 'the bridge to hear the new boot');
    const after = [await hall.serve(w, 'C-RESET-B', 1)];
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating');
    after.push(await hall.serve(w, 'C-RESET-C', 2));
    const records = await hall.expectExactlyOnce(w, [...before, ...after]);
    expect(records.map((r) => r.kind === 'invitation' && r.rating?.grade)).toEqual(['very_satisfied', 'satisfied', 'basically_satisfied']);
  });

  it('a terminal that resets mid-invitation: the invitation closes not_rated, flagged terminal_reset', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-RESET-D', null);
    await w.rebootTerminal();
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'not_rated', flags: ['terminal_reset'] });
    expect(w.terminal.core.state).toBe('idle');
  });
});

describe.each(BROKERS)('terminal journal ($name broker)', (kind) => {
  const halls = useHall(kind);

  it('a reset between the press and its acknowledgement: the rating is replayed from flash, stored once', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-JOURNAL-1', null);
    await w.terminal.unplug(); // the rating cannot reach the bridge...
    await w.terminal.press(3);
    expect(w.terminal.core.unacknowledged).toBeGreaterThan(0);
    await w.rebootTerminal(); // ...and the terminal loses power before it could resend it
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'dissatisfied' }, flags: ['no_reason'] }); // no reason catalogue was published
  });

  it('a journalled rating replayed long after the new boot said hello still counts: the hello said it was coming', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await hall.serve(w, 'C-JOURNAL-LATE', null);
    await w.terminal.unplug();
    await w.terminal.press(1);
    // After the reboot the hellos get through (the power-up one, and the one answering the
    // bridge's greeting, tagged for the session); everything else is garbled for a while.
    w.line.impair({ corruptLine: (line) => !line.includes('"type":"hello"') }, 'toBridge');
    await w.rebootTerminal();
    await waitUntil(() => w.bridge.status().link.terminal?.boot === w.terminal.bootId, 'the bridge to hear the new boot');
    expect(w.bridge.status().link.terminal?.pending).toEqual([id]);
    // Three resends of the replay garbled: 3.5 s after the hello, past any guessed grace.
    await waitUntil(() => w.terminal.core.counters.link.resent >= 3, 'the replay to be resent three times', { timeoutMs: 10_000 });
    expect(w.bridge.desk.current()?.id).toBe(id);
    w.line.impair(null);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' }, flags: [] });
  });

  it('a stray press whose ack was lost, replayed after a reset, is stored once', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    w.line.impair({ corrupt: () => true }, 'toDevice'); // every ack to the terminal is garbled
    await w.terminal.press(4);
    await hall.province.waitFor(() => hall.province.recordsOf(w.terminalId).filter(notAudit).length === 1);
    expect(w.terminal.core.unacknowledged).toBeGreaterThan(0); // stored, but the terminal does not know
    await w.rebootTerminal();
    w.line.impair(null);
    await waitUntil(() => w.terminal.core.unacknowledged === 0, 'the replayed stray to be acknowledged');
    await waitUntil(() => w.bridge.outbox.stats().pending === 0, 'the province ack');
    expect(hall.province.recordsOf(w.terminalId).filter(notAudit)).toEqual([expect.objectContaining({ kind: 'event', type: 'stray_press' })]);
  });
});
