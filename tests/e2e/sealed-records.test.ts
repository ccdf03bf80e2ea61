import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { terminalTopics } from '../../protocol/topics.js';
import { recordHash, sealBody } from '../../protocol/seal/seal.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import type { SimWindow } from '../../simulator/sim-window.js';
import { TcpProxy } from '../../simulator/tcp-proxy.js';
import { waitUntil } from '../../simulator/wait.js';
import { FAST_RECONNECT, HallFixture } from '../support/hall-fixture.js';
import { testIdentity } from '../support/terminal-key.js';

/**
 * Records sealed at the source (ARCHITECTURE invariant 7), end to end through the simulator: what
 * someone does to the records on the Pi, or under another terminal's name at the broker, is seen
 * by the province emulator (protocol/seal/verify.ts) and never counted as genuine.
 */

let broker: EmbeddedBroker | undefined;
let proxy: TcpProxy | undefined;
let hall: HallFixture | undefined;

afterEach(async () => {
  await hall?.close();
  await proxy?.stop();
  await broker?.stop();
  hall = proxy = broker = undefined;
});

async function rate(h: HallFixture, w: SimWindow, caseNo: string, button: number): Promise<string> {
  const id = await h.serve(w, caseNo, button);
  await waitUntil(() => w.bridge.desk.current() === undefined && w.bridge.outbox.get(id) !== undefined, `rating ${id} to be stored`);
  return id;
}

describe('records sealed at the source', () => {
  it('a pending record edited on the Pi is refused as bad_signature and quarantined; a deleted one, and the refused one, show as gaps', async () => {
    broker = await EmbeddedBroker.start();
    hall = await HallFixture.start(broker.url);
    proxy = await TcpProxy.start({ target: { host: '127.0.0.1', port: broker.port } });
    const w = await hall.window({ brokerUrl: proxy.url, config: { mqtt: { url: proxy.url, ...FAST_RECONNECT } } });
    const before = await rate(hall, w, 'C-SEAL-0', 1);
    await hall.expectExactlyOnce(w, [before]);

    proxy.cut();
    await waitUntil(() => !w.bridge.status().broker.connected, 'the bridge to notice the cut');
    const deleted = await rate(hall, w, 'C-SEAL-1', 1);
    const between = await rate(hall, w, 'C-SEAL-2', 0);
    const edited = await rate(hall, w, 'C-SEAL-3', 2); // 基本满意, to be made 非常满意
    const after = await rate(hall, w, 'C-SEAL-4', 0);
    const seqOf = (id: string) => w.bridge.outbox.get(id)!.seq;
    const [deletedSeq, editedSeq] = [seqOf(deleted), seqOf(edited)];

    // As someone with sqlite3 on the Pi would, in the bridge's own database file, while it runs.
    const db = new Database(w.bridge.config.database.path);
    db.prepare(`UPDATE records SET body = json_set(body, '$.rating.grade', 'very_satisfied') WHERE id = ?`).run(edited);
    db.prepare(`DELETE FROM records WHERE id = ?`).run(deleted);
    db.close();

    proxy.restore();
    const { province } = hall;
    await province.waitFor(() => province.rejections().some((r) => r.id === edited) && province.recordsOf(w.terminalId).some((r) => r.id === after), { timeoutMs: 20_000 });
    expect(province.rejections().find((r) => r.id === edited)?.reason).toMatch(new RegExp(`^bad_signature: record ${edited} \\(seq ${editedSeq}\\): sig: does not verify`));
    const genuine = province.recordsOf(w.terminalId).map((r) => r.id);
    expect(genuine).toEqual(expect.arrayContaining([before, between, after]));
    expect(genuine).not.toContain(edited);
    expect(genuine).not.toContain(deleted);
    expect(province.gaps(w.terminalId)).toEqual([
      { from: deletedSeq, to: deletedSeq },
      { from: editedSeq, to: editedSeq },
    ]);
    // Reported as they were found: on the record after each missing one (a rating, or a staff action such as the next invitation).
    expect(province.sealReports()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ verdict: 'gap', reason: expect.stringContaining(`records ${deletedSeq}..${deletedSeq} of this terminal have not been seen`) }),
        expect.objectContaining({ id: edited, verdict: 'bad_signature' }),
        expect.objectContaining({ verdict: 'gap', reason: expect.stringContaining(`records ${editedSeq}..${editedSeq} of this terminal have not been seen`) }),
      ]),
    );
    // The province's refusal reaches the bridge: the edited record is quarantined, never deleted.
    await waitUntil(() => w.bridge.outbox.get(edited)?.state === 'quarantined', 'the edited record to be quarantined');
  });

  it('a record forged under another terminal id is refused; a registration bringing another key is not applied, and records signed with it are held, never counted', async () => {
    broker = await EmbeddedBroker.start();
    hall = await HallFixture.start(broker.url);
    const { province } = hall;
    const w = await hall.window();
    const first = await rate(hall, w, 'C-FORGE-0', 3);
    await hall.expectExactlyOnce(w, [first]);
    const pinned = province.publicKeyOf(w.terminalId);
    expect(pinned).toBeDefined();

    // Another terminal's account (or a stolen password) publishing on this terminal's topics.
    const forger = testIdentity();
    const topics = terminalTopics(w.terminalId);
    const attacker = await mqtt.connectAsync(broker.url);
    const genuine = JSON.parse(w.bridge.outbox.get(first)!.sealed!) as Record<string, unknown> & { seq: number };
    const forge = () =>
      sealBody({ ...genuine, id: uuidv7(), seq: genuine.seq + 1, rating: { ...(genuine.rating as object), grade: 'very_satisfied', gradeCode: 5 } }, recordHash(genuine), forger.sign);
    const forged = forge();
    await attacker.publishAsync(topics.records, JSON.stringify(forged), { qos: 1 });
    await province.waitFor(() => province.rejections().find((r) => r.id === forged.id));
    expect(province.rejections().find((r) => r.id === forged.id)?.reason).toMatch(/^bad_signature: .*sig: does not verify with the terminal's registered key/);

    const registration = { online: false, provisioning: true, at: new Date().toISOString(), publicKey: forger.publicKey, areaCode: '330106', hallCode: 'XH-01', windowNo: 'F1', bridge: '0.1.0' };
    await attacker.publishAsync(topics.state, JSON.stringify(registration), { qos: 1, retain: true });
    await province.waitFor(() => province.pendingKey(w.terminalId) === forger.publicKey);
    expect(province.publicKeyOf(w.terminalId)).toBe(pinned);
    expect(province.registrations().get(w.terminalId)?.publicKey).not.toBe(forger.publicKey);

    const underPendingKey = forge();
    await attacker.publishAsync(topics.records, JSON.stringify(underPendingKey), { qos: 1 });
    await province.waitFor(() => province.sealReports().find((r) => r.id === underPendingKey.id && r.verdict === 'held'));
    expect(province.stats.held).toBeGreaterThanOrEqual(1);
    await attacker.endAsync();

    // The genuine terminal goes on as before: its next record takes the place the forgeries claimed.
    const next = await rate(hall, w, 'C-FORGE-1', 0);
    await hall.expectExactlyOnce(w, [first, next]);
    expect(province.recordsOf(w.terminalId).map((r) => r.id)).toEqual(expect.not.arrayContaining([forged.id, underPendingKey.id]));
    expect(province.gaps(w.terminalId)).toEqual([]);
  });

  it('staff and remote actions go upstream as sealed staff_action events, kept in the append-only audit; a normal day raises no seal report', async () => {
    broker = await EmbeddedBroker.start();
    hall = await HallFixture.start(broker.url);
    const { province } = hall;
    const w = await hall.window();
    const rated = await rate(hall, w, 'C-AUDIT-0', 1);
    const topics = terminalTopics(w.terminalId);
    const operator = await mqtt.connectAsync(broker.url);
    await operator.publishAsync(topics.cmd, JSON.stringify({ id: 'cmd-audit-1', command: 'status' }), { qos: 1 });
    await operator.endAsync();
    const upstream = await province.waitFor(() =>
      province.recordsOf(w.terminalId).find((r) => r.kind === 'event' && r.type === 'staff_action' && r.detail.command === 'status'),
    );
    expect(upstream).toMatchObject({ schema: 2, detail: { action: 'remote_command', actor: 'province', id: 'cmd-audit-1', ok: true } });
    await hall.expectExactlyOnce(w, [rated]);

    const db = new Database(w.bridge.config.database.path);
    const row = db.prepare(`SELECT action, actor, record_id AS recordId FROM audit WHERE record_id = ?`).get(upstream.id);
    expect(row).toEqual({ action: 'remote_command', actor: 'province', recordId: upstream.id });
    expect(() => db.prepare(`UPDATE audit SET actor = 'nobody'`).run()).toThrow(/never changed/);
    expect(() => db.prepare(`DELETE FROM audit`).run()).toThrow(/kept 400 days/);
    db.close();

    expect(province.sealReports().filter((r) => r.terminalId === w.terminalId)).toEqual([]);
    expect(province.gaps(w.terminalId)).toEqual([]);
  });
});
