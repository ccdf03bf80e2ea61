import { describe, expect, it } from 'vitest';
import type { SelftestTimeouts } from '../../bridge/selftest/selftest.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';
import { technicianAt } from '../support/technician.js';
import { notAudit } from '../support/audit-events.js';

/** The terminal's self-test, at the counter (hcp selftest runs exactly this) and remotely. */
const halls = useHall(BROKERS[0]!);
const QUICK: SelftestTimeouts = { helloMs: 5000, pressMs: 5000, printMs: 10_000, provinceMs: 10_000 };

describe('self-test', () => {
  it('passes every step on a sound terminal, and the province gets a test record it never counts', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'never' } });
    const technician = technicianAt(w);
    const steps: string[] = [];
    const running = w.bridge.selftest(technician, (r) => steps.push(`${r.outcome} ${r.step}`), QUICK);
    // No invitation while the terminal is under test.
    await waitUntil(() => technician.heard.length > 0, 'the first instruction');
    const refused = await w.api('POST', '/api/v1/invitations', { services: [{ itemCode: 'X', caseNo: 'C-ST-1' }] });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'self_test' } } });

    const report = await running;
    await technician.settle();
    expect(steps).toEqual([
      'pass terminal',
      ...[1, 2, 3, 4, 5].map((n) => `pass button-${n}`),
      ...[1, 2, 3, 4, 5].map((n) => `pass led-${n}`),
      'pass buzzer',
      'pass printer',
      'pass province',
    ]);
    expect(report.passed).toBe(true);
    const [record] = hall.province.recordsOf(w.terminalId).filter(notAudit);
    expect(record).toMatchObject({ id: report.recordId, kind: 'event', type: 'selftest', test: true, detail: { failed: null } });
    // Test mode is over: the terminal takes invitations again, and a stray press is a stray again.
    expect(w.terminal.core.state).toBe('idle');
    await hall.serve(w, 'C-ST-2', 1);
    await hall.province.waitFor(() => hall.province.recordsOf(w.terminalId).filter(notAudit).length === 2);
  });

  it('fails the step with what went wrong: buttons wired out of order, a terminal that is not there, no province', async () => {
    let provinceSilent = false;
    const hall = await halls.start({ dropAck: () => provinceSilent });
    const w = await hall.window();
    const technician = technicianAt(w, { wrongButtons: { 1: 2 } });
    const report = await w.bridge.selftest(technician, undefined, QUICK);
    await technician.settle();
    expect(report.passed).toBe(false);
    expect(report.steps.find((s) => s.step === 'button-2')).toMatchObject({
      outcome: 'fail',
      message: 'expected button 2 (满意), the terminal saw button 3 (基本满意)',
      fix: expect.stringMatching(/wired in another order/),
    });
    expect(report.steps.find((s) => s.step === 'printer')).toMatchObject({ outcome: 'skip', message: 'no printer configured' });
    expect(report.steps.find((s) => s.step === 'province')).toMatchObject({ outcome: 'pass' });
    // The province sees which steps failed.
    await hall.province.waitFor(() => hall.province.recordsOf(w.terminalId).filter(notAudit).length === 1);
    expect(hall.province.recordsOf(w.terminalId).filter(notAudit)[0]).toMatchObject({ type: 'selftest', detail: { failed: 'button-2' } });

    await w.terminal.unplug();
    provinceSilent = true;
    const cut = await w.bridge.selftest(technicianAt(w), undefined, { ...QUICK, helloMs: 300, provinceMs: 300 });
    expect(cut.steps.map((s) => `${s.outcome} ${s.step}`)).toEqual(['fail terminal', 'skip buttons', 'skip leds', 'skip buzzer', 'skip printer', 'fail province']);
    expect(cut.steps.at(-1)?.message).toMatch(/not acknowledged within 0.3 s \(the broker is connected; the province did not answer\)/);
  });
});
