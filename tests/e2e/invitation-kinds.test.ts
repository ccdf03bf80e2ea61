import { describe, expect, it } from 'vitest';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';

/** Each kind of invitation DOMAIN.md defines gets exactly one rating, through the whole path. */
const halls = useHall(BROKERS[0]!);
const item = (caseNo: string, itemCode = '330106-XK-0012', itemName = '食品经营许可') => ({ itemCode, itemName, caseNo });

describe('invitation kinds', () => {
  it('batch (批量): one rating applies to every case of the item', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const services = [item('B-1'), item('B-2'), item('B-3')];
    const id = await w.invite({ services, mode: 'batch' });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    await w.terminal.press(0);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ mode: 'batch', services, outcome: 'rated', rating: { grade: 'very_satisfied' } });
    expect(hall.province.recordsOf(w.terminalId).filter((r) => r.kind === 'invitation')).toHaveLength(1);
  });

  it('theme service (一件事): one overall rating for linked items', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const services = [item('T-1', '330106-DJ-0031', '个体工商户设立登记'), item('T-2', '330106-XK-0012', '食品经营许可')];
    const id = await w.invite({ services, mode: 'theme' });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    await w.terminal.press(2);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ mode: 'theme', services, rating: { grade: 'basically_satisfied' } });
  });

  it('assisted or proxy service (帮办代办): one rating only, marked proxy', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await w.invite({ services: [item('P-1')], proxy: true });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    await w.terminal.press(1);
    await w.terminal.press(3); // the applicant after the helper: changes nothing
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ proxy: true, mode: 'single', rating: { grade: 'satisfied' } });
  });

  it('cancel: the terminal confirms, the outcome is cancelled; a closed invitation cannot be cancelled', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const id = await w.invite({ services: [item('X-1')] });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
    const cancel = await w.api('POST', `/api/v1/invitations/${id}/cancel`, { reason: 'citizen_left' });
    expect(cancel).toMatchObject({ status: 202, body: { state: 'cancelling' } });
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'cancelled', flags: [] });
    expect(w.terminal.core.state).toBe('idle');
    expect(await w.api('POST', `/api/v1/invitations/${id}/cancel`, { reason: 'citizen_left' })).toMatchObject({ status: 409, body: { error: { code: 'invitation_closed' } } });
    expect((await w.api('POST', '/api/v1/invitations/nope/cancel', { reason: 'citizen_left' })).status).toBe(404);
  });

  it("today's counts and participation rate", async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { invitation: { timeoutSeconds: 1, deviceGraceSeconds: 5 } } });
    const ids = [await hall.serve(w, 'D-1', 0)];
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating');
    ids.push(await hall.serve(w, 'D-2', 3));
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating');
    ids.push(await hall.serve(w, 'D-3', null)); // times out
    await hall.expectExactlyOnce(w, ids);
    const today = (await w.api('GET', '/api/v1/stats/today')).body;
    expect(today).toMatchObject({
      invitations: 3,
      rated: 2,
      notRated: 1,
      cancelled: 0,
      participationRate: 0.667,
      date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
    });
    // Totals only: the counter never learns the grades.
    expect(today).not.toHaveProperty('byGrade');
  });

  it('with a token configured, the API answers only requests that carry it', async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { http: { token: 'window-pc-token-0123456789' } } });
    const bare = await fetch(`${w.bridge.httpUrl}/api/v1/status`);
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { error: { message: string } }).error.message).toMatch(/Authorization: Bearer/);
    const authorised = await fetch(`${w.bridge.httpUrl}/api/v1/status`, { headers: { authorization: 'Bearer window-pc-token-0123456789' } });
    expect(authorised.status).toBe(200);
  });
});
