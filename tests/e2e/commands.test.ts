import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../bridge/config.js';
import type { SelftestReport } from '../../bridge/selftest/selftest.js';
import { describe, expect, it } from 'vitest';
import { commandResultSchema, type CommandResult } from '../../protocol/commands.js';
import { terminalTopics } from '../../protocol/topics.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall, type HallFixture } from '../support/hall-fixture.js';
import { notAudit } from '../support/audit-events.js';

/** The province operates a terminal remotely: commands on …/cmd, results on …/cmd/result. */
const halls = useHall(BROKERS[0]!);

async function operator(hall: HallFixture, w: SimWindow) {
  const topics = terminalTopics(w.terminalId);
  const client = await mqtt.connectAsync(hall.brokerUrl);
  const results: CommandResult[] = [];
  client.on('message', (_t, payload) => results.push(commandResultSchema.parse(JSON.parse(payload.toString()))));
  await client.subscribeAsync(topics.cmdResult, { qos: 1 });
  return {
    send: (command: unknown) => client.publishAsync(topics.cmd, typeof command === 'string' ? command : JSON.stringify(command), { qos: 1 }),
    result: (id: string | null) => waitUntil(() => results.find((r) => r.id === id), `the result of command ${id}`),
    close: () => client.endAsync(),
  };
}

describe('remote commands', () => {
  it('status, resend of a range the province lost, and reprint', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'never' } });
    const op = await operator(hall, w);
    const ids = [await hall.serve(w, 'C-CMD-1', 0)];
    await waitUntil(() => w.bridge.desk.current() === undefined, 'the rating');
    ids.push(await hall.serve(w, 'C-CMD-2', 1));
    await waitUntil(() => ids.every((id) => w.bridge.outbox.get(id)?.state === 'acked') && w.bridge.outbox.stats().pending === 0, 'both acknowledged');

    await op.send({ id: 'c1', command: 'status' });
    expect(await op.result('c1')).toMatchObject({ ok: true, result: { terminal: { id: w.terminalId }, backlog: { pending: 0 } } });

    // The range from the first rating to the second: the staff actions between them (the audit) go again too.
    const [fromSeq, toSeq] = ids.map((id) => w.bridge.outbox.get(id)!.seq) as [number, number];
    const before = hall.province.stats.duplicates;
    await op.send({ id: 'c2', command: 'resend', fromSeq, toSeq });
    expect(await op.result('c2')).toEqual({ id: 'c2', ok: true, result: { requeued: toSeq - fromSeq + 1 } });
    await hall.province.waitFor(() => hall.province.stats.duplicates === before + toSeq - fromSeq + 1);
    await waitUntil(() => w.bridge.outbox.stats().pending === 0, 'settled again');

    await op.send({ id: 'c3', command: 'reprint', invitationId: ids[0] });
    expect(await op.result('c3')).toMatchObject({ ok: true, result: { receiptId: expect.any(String) } });
    const receipt = await w.printer!.waitForReceipt(undefined, { timeoutMs: 10_000 });
    expect(receipt.lines().join('')).toContain('C-CMD-1');
    await op.close();
  });

  it('answers a bad command with what was wrong, and does nothing', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    const op = await operator(hall, w);
    await op.send({ id: 'b1', command: 'reboot' });
    expect(await op.result('b1')).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid command: command: /) });
    await op.send({ id: 'b2', command: 'resend', fromSeq: 5, toSeq: 2 });
    expect(await op.result('b2')).toEqual({ id: 'b2', ok: false, error: 'toSeq: must not be below fromSeq' });
    await op.send({ id: 'b3', command: 'reprint', invitationId: 'x' });
    expect(await op.result('b3')).toMatchObject({ ok: false, error: expect.stringMatching(/no receipt printer/) });
    await op.send('not json');
    expect(await op.result(null)).toMatchObject({ ok: false, error: expect.stringMatching(/not JSON/) });
    await op.close();
  });

  it('selftest: the steps that need nobody at the counter, reported on cmd/result', async () => {
    const hall = await halls.start();
    const w = await hall.window({ printer: { print: 'never' } });
    const op = await operator(hall, w);
    await op.send({ id: 's1', command: 'selftest' });
    const { ok, result } = await op.result('s1');
    expect(ok).toBe(true);
    const report = selftestReportOf(result);
    expect(report.steps.map((s) => `${s.outcome} ${s.step}`)).toEqual(['pass terminal', 'skip buttons', 'skip leds', 'skip buzzer', 'pass printer', 'pass province']);
    // The test receipt came out, marked as a test.
    const receipt = await w.printer!.waitForReceipt();
    expect(receipt.text()).toMatch(/SELFTEST/);
    expect(hall.province.recordsOf(w.terminalId).filter(notAudit)).toEqual([expect.objectContaining({ id: report.recordId, type: 'selftest', test: true })]);
    await op.close();
  });

  it('update-config: changes operational settings in the file, keeps its comments, refuses identity and invalid changes', async () => {
    const hall = await halls.start();
    const dir = mkdtempSync(join(tmpdir(), 'hcp-update-'));
    const configFile = join(dir, 'bridge.yaml');
    const w = await hall.window({ bridgeDeps: { configFile } });
    writeFileSync(configFile, stringify({ ...w.bridge.config, printer: undefined }).replace('invitation:', '# set by the technician\ninvitation:'));
    const restarts: string[] = [];
    w.bridge.on('restartRequested', (why) => restarts.push(why));
    const op = await operator(hall, w);

    await op.send({ id: 'u1', command: 'update-config', changes: { invitation: { timeoutSeconds: 45 }, mqtt: { drainRatePerSecond: 50 } } });
    expect(await op.result('u1')).toEqual({
      id: 'u1',
      ok: true,
      result: { changed: ['invitation.timeoutSeconds: 30 → 45', 'mqtt.drainRatePerSecond: 20 → 50'], restarting: true },
    });
    await waitUntil(() => restarts.length === 1, 'the restart request');
    const text = readFileSync(configFile, 'utf8');
    expect(text).toContain('# set by the technician');
    expect(loadConfigFile(configFile)).toMatchObject({ invitation: { timeoutSeconds: 45 }, mqtt: { drainRatePerSecond: 50 } });

    await op.send({ id: 'u2', command: 'update-config', changes: { mqtt: { url: 'mqtt://elsewhere:1883' } } });
    expect(await op.result('u2')).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid command: changes\.mqtt: .*url/) });
    await op.send({ id: 'u3', command: 'update-config', changes: { printer: { print: 'always' } } });
    expect(await op.result('u3')).toMatchObject({ ok: false, error: expect.stringMatching(/after the update is invalid.*printer\.path/) });
    expect(readFileSync(configFile, 'utf8')).toBe(text);
    await op.send({ id: 'u4', command: 'update-config', changes: { invitation: { timeoutSeconds: 45 } } });
    expect(await op.result('u4')).toEqual({ id: 'u4', ok: true, result: { changed: [], restarting: false } });
    expect(restarts).toHaveLength(1);
    await op.close();
  });
});

function selftestReportOf(result: unknown): SelftestReport {
  return result as SelftestReport;
}


describe('settings the config takes work at the terminal', () => {
  it('a timeout to the tenth or hundredth of a second (16.1 s, 2.01 s) reaches the terminal as whole milliseconds', async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { invitation: { timeoutSeconds: 16.1, reasonTimeoutSeconds: 2.01 } } });
    await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1' });
    await w.invite({ services: [{ itemCode: 'I-1', itemName: '事项', caseNo: 'C-161' }] });
    await waitUntil(() => w.terminal.core.state === 'invited', 'the terminal to take the invitation');
  });
});
