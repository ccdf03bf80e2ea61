import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { answerTimeProbe } from '../../gateway/ingest/time-probes.js';
import { chainGaps } from '../../gateway/store/chain-store.js';
import { listRefusals } from '../../gateway/store/refusals.js';
import { GENESIS, withTimeCorrection } from '../../protocol/seal/seal.js';
import { terminalTopics } from '../../protocol/topics.js';
import { strayPress } from '../support/stray-press.js';
import { deliver, emptyTables, FlakyDatabase, makeIngest, ManualClock, PREFIX, putTerminal, RecordingPublisher, SealingTerminal, useTestDatabase } from './gateway-ingest-fixture.js';

/*
 * The gateway's ingest on an in-memory PGlite: validate, then store, then ack, by the province
 * emulator's rules (seal before dedupe, hold vs reject, supersede) and only after the commit.
 */

const database = useTestDatabase();
let db: PgliteDatabase;
beforeEach(async () => {
  db = database();
  await emptyTables(db);
});

async function approved(terminalId = 'T-1'): Promise<SealingTerminal> {
  const terminal = new SealingTerminal(terminalId);
  await putTerminal(db, terminalId, { status: 'approved', publicKey: terminal.publicKey });
  return terminal;
}

async function storedRecord(id: string) {
  const { rows } = await db.query<{ seal: string; payload: string; record: { id: string }; instance: string; seq: number; kind: string; superseded_by: string | null; received_at: Date }>(
    'SELECT seal, payload, record, instance, seq, kind, superseded_by, received_at FROM records WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** The seal flag of each record, in order ('absent' if not stored). */
async function seals(messages: readonly { id: string }[]): Promise<string[]> {
  return Promise.all(messages.map(async (m) => (await storedRecord(m.id))?.seal ?? 'absent'));
}

async function count(table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}

describe('gateway ingest: validate, store, ack', () => {
  it('stores a sealed record verbatim with its chain link, then acks it accepted with serverTime at QoS 0; the same again is a duplicate, stored once', async () => {
    const t = await approved();
    const { ingest, publisher, clock } = makeIngest(db);
    const first = t.event();
    await deliver(ingest, [first]);
    const row = await storedRecord(first.id);
    expect(row).toMatchObject({ seal: 'ok', payload: first.payload.toString(), instance: 'gw-test', seq: 1, kind: 'event', received_at: clock.now() });
    expect(row?.record.id).toBe(first.id);
    expect(publisher.sent).toEqual([{ terminalId: 'T-1', qos: 0, ack: { ids: [first.id], status: 'accepted', serverTime: clock.now().toISOString() } }]);
    expect(await count('chain_links')).toBe(1);

    await deliver(ingest, [first]);
    expect(publisher.statusOf(first.id)).toBe('duplicate');
    expect(await count('records')).toBe(1);
    expect(ingest.stats()).toMatchObject({ received: 2, accepted: 1, duplicates: 1, queued: 0, batches: 2, acksSent: 2, dbUp: true });
  });

  it('accepts an invitation rated on the customer screen (channel screen) and stores its channel', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    const screen = t.invitation({ channel: 'screen', outcome: 'rated', rating: { grade: 'satisfied', reasons: [], reasonCatalogVersion: null, pressedAt: '2026-11-30T02:00:03.000Z', latencyMs: 3000 } });
    await deliver(ingest, [screen]);
    expect(publisher.statusOf(screen.id)).toBe('accepted');
    const { rows } = await db.query<{ channel: string }>('SELECT channel FROM records WHERE id = $1', [screen.id]);
    expect(rows).toEqual([{ channel: 'screen' }]);
  });

  it('an altered resend of a stored record is rejected bad_signature, not called a duplicate, and kept as a refusal', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    const genuine = t.event();
    await deliver(ingest, [genuine]);
    const altered = { ...genuine, payload: Buffer.from(genuine.payload.toString().replace('"satisfied"', '"very_satisfied"')) };
    await deliver(ingest, [altered]);
    expect(publisher.statusOf(genuine.id)).toBe('rejected');
    expect(publisher.reasonOf(genuine.id)).toMatch(/^bad_signature: record .* sig: does not verify/);
    expect(await listRefusals(db, { limit: 10 })).toEqual([expect.objectContaining({ id: genuine.id, terminalId: 'T-1', disposition: 'rejected', verdict: 'bad_signature', payload: altered.payload.toString(), attempts: 1 })]);
    expect(JSON.stringify((await storedRecord(genuine.id))?.record)).not.toContain('very_satisfied');
  });

  it('a record signed by another key under this terminal is rejected; one signed by its pending key is held', async () => {
    const t = await approved();
    const forger = new SealingTerminal('T-1');
    const { ingest, publisher } = makeIngest(db);
    const forged = forger.event();
    await deliver(ingest, [forged]);
    expect(publisher.reasonOf(forged.id)).toMatch(/^bad_signature: /);

    await putTerminal(db, 'T-1', { status: 'approved', publicKey: t.publicKey, pendingKey: forger.publicKey });
    const underPending = forger.event({ seq: 1, prev: GENESIS });
    await deliver(ingest, [underPending]);
    expect(publisher.statusOf(underPending.id)).toBeUndefined();
    expect(await listRefusals(db, { limit: 10, disposition: 'held' })).toEqual([expect.objectContaining({ id: underPending.id, verdict: 'pending_key', reason: expect.stringContaining('waits for the operator') })]);
    expect(await count('records')).toBe(0);
    expect(ingest.stats()).toMatchObject({ rejected: 1, held: 1, accepted: 0 });
  });

  it('unsigned records before the first sealed seq (from the database, across instances) are accepted flagged; after it, a stripped seal, rejected', async () => {
    const t = await approved();
    const one = makeIngest(db);
    const sealed = t.event({ seq: 5 });
    await deliver(one.ingest, [sealed]);
    // Another instance, with nothing in memory, applies the same rule.
    const other = makeIngest(db, { instance: 'gw-other' });
    const before = t.unsigned(4);
    const stripped = t.unsigned(6);
    await deliver(other.ingest, [before, stripped]);
    expect(other.publisher.statusOf(before.id)).toBe('accepted');
    expect((await storedRecord(before.id))?.seal).toBe('unsigned');
    expect(other.publisher.reasonOf(stripped.id)).toMatch(/^unsigned: .*seals its records since seq 5: a sealed record stripped of its seal/);
    expect(await storedRecord(stripped.id)).toBeUndefined();
  });

  it('a record after a missing one is accepted flagged gap and the gap listed until the missing one arrives; two records for one seq break the chain', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    const r1 = t.event();
    const r2 = t.event();
    const r3 = t.event();
    await deliver(ingest, [r1, r3]);
    expect((await storedRecord(r3.id))?.seal).toBe('gap');
    expect(await chainGaps(db, 'T-1')).toEqual([{ from: 2, to: 2 }]);
    await deliver(ingest, [r2]);
    expect((await storedRecord(r2.id))?.seal).toBe('ok');
    expect(await chainGaps(db, 'T-1')).toEqual([]);

    const rival = t.event({ seq: 2, prev: JSON.parse(r1.payload.toString()).prev as string });
    await deliver(ingest, [rival]);
    expect(publisher.reasonOf(rival.id)).toMatch(/^broken_chain: .*two records claim one place/);
    expect(await listRefusals(db, { limit: 10 })).toEqual([expect.objectContaining({ id: rival.id, verdict: 'broken_chain', disposition: 'rejected' })]);
  });

  it('a record flagged gap is flagged ok once its predecessor is stored: in a later batch, by another instance, or in the same batch after it', async () => {
    const t = await approved();
    const a = makeIngest(db);
    const b = makeIngest(db, { instance: 'gw-other' });
    const [r1, r2, r3, r4, r5, r6, r7] = Array.from({ length: 7 }, () => t.event());
    await deliver(a.ingest, [r1!, r3!]);
    await deliver(b.ingest, [r5!]);
    expect(await seals([r1!, r3!, r5!])).toEqual(['ok', 'gap', 'gap']);
    // r4 arrives at the other instance: r5 (its successor) is ok now; r3 still waits for r2.
    await deliver(b.ingest, [r4!]);
    expect(await seals([r3!, r4!, r5!])).toEqual(['gap', 'ok', 'ok']);
    expect(await chainGaps(db, 'T-1')).toEqual([{ from: 2, to: 2 }]);
    await deliver(a.ingest, [r2!]);
    expect(await seals([r1!, r2!, r3!, r4!, r5!])).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(await chainGaps(db, 'T-1')).toEqual([]);
    // Successor before predecessor within one batch.
    await deliver(a.ingest, [r7!, r6!]);
    expect(await seals([r6!, r7!])).toEqual(['ok', 'ok']);
    expect(a.ingest.stats().accepted + b.ingest.stats().accepted).toBe(7);
  });

  it('the record after a held first record is flagged gap until that first record is approved and stored, then ok; a gap nothing fills stays flagged', async () => {
    const t = new SealingTerminal('T-LATE');
    const { ingest, publisher } = makeIngest(db);
    const [r1, r2, r3, r4, r5] = Array.from({ length: 5 }, () => t.event());
    await deliver(ingest, [r1!]); // before the operator approved the terminal
    expect(publisher.sent).toEqual([]);
    await putTerminal(db, 'T-LATE', { status: 'approved', publicKey: t.publicKey });
    await deliver(ingest, [r2!, r3!, r5!]);
    expect(await seals([r2!, r3!, r5!])).toEqual(['gap', 'ok', 'gap']);
    await deliver(ingest, [r1!]); // its bridge publishes it again
    expect(publisher.statusOf(r1!.id)).toBe('accepted');
    expect(await seals([r1!, r2!, r3!, r5!])).toEqual(['ok', 'ok', 'ok', 'gap']);
    expect(await chainGaps(db, 'T-LATE')).toEqual([{ from: 4, to: 4 }]);
    // A duplicate of the predecessor changes nothing; the record filling the gap does.
    await deliver(ingest, [r3!]);
    expect(await seals([r5!])).toEqual(['gap']);
    await deliver(ingest, [r4!]);
    expect(await seals([r4!, r5!])).toEqual(['ok', 'ok']);
  });

  it('an unknown terminal is held (counted per attempt) and accepted once an operator approves it; its refusal is then resolved', async () => {
    const t = new SealingTerminal('T-NEW');
    const { ingest, publisher, clock } = makeIngest(db);
    const r = t.event();
    await deliver(ingest, [r]);
    await deliver(ingest, [r]);
    expect(publisher.sent).toEqual([]);
    expect(await listRefusals(db, { limit: 10 })).toEqual([
      expect.objectContaining({ id: r.id, terminalId: 'T-NEW', disposition: 'held', verdict: 'unknown_terminal', attempts: 2, resolvedAt: null }),
    ]);
    await putTerminal(db, 'T-NEW', { status: 'pending', pendingKey: t.publicKey });
    await deliver(ingest, [r]);
    expect(await listRefusals(db, { limit: 10 })).toEqual(expect.arrayContaining([expect.objectContaining({ verdict: 'pending_key', disposition: 'held' })]));

    await putTerminal(db, 'T-NEW', { status: 'approved', publicKey: t.publicKey });
    clock.ms += 60_000;
    await deliver(ingest, [r]);
    expect(publisher.statusOf(r.id)).toBe('accepted');
    expect(await listRefusals(db, { limit: 10, open: true })).toEqual([]);
    expect((await listRefusals(db, { limit: 10, terminalId: 'T-NEW' })).map((x) => x.resolvedAt)).toEqual([clock.now(), clock.now()]);
    expect(ingest.stats()).toMatchObject({ held: 3, accepted: 1 });
  });

  it('a revoked terminal is rejected naming when the operator revoked it', async () => {
    const t = new SealingTerminal('T-OLD');
    await putTerminal(db, 'T-OLD', { status: 'revoked', publicKey: t.publicKey, decidedAt: new Date('2026-03-01T08:00:00Z') });
    const { ingest, publisher } = makeIngest(db);
    const r = t.event();
    await deliver(ingest, [r]);
    expect(publisher.reasonOf(r.id)).toBe('terminal T-OLD was revoked by the operator at 2026-03-01T08:00:00.000Z');
    expect(await listRefusals(db, { limit: 10 })).toEqual([expect.objectContaining({ verdict: 'revoked', disposition: 'rejected' })]);
  });

  it('a record naming another terminal than its topic is rejected and kept; an invalid one is rejected with the field and kept nowhere', async () => {
    const t = await approved('T-1');
    await approved('T-2');
    const { ingest, publisher } = makeIngest(db);
    const r = t.event();
    const onOther = { ...r, topic: terminalTopics('T-2', PREFIX).records };
    await putTerminal(db, 'T-2', { status: 'approved', publicKey: t.publicKey });
    await deliver(ingest, [onOther]);
    expect(publisher.reasonOf(r.id)).toBe('terminalId: record names terminal "T-1" but was published on the topic of terminal "T-2"');
    expect(await listRefusals(db, { limit: 10 })).toEqual([expect.objectContaining({ terminalId: 'T-2', verdict: 'terminal_mismatch' })]);

    // Only an id and a kind: no terminal, area, hall, clock…
    const invalid = t.unsigned(1, { id: uuidv7(), kind: 'event' } as never);
    await deliver(ingest, [invalid]);
    expect(publisher.statusOf(invalid.id)).toBe('rejected');
    expect(publisher.reasonOf(invalid.id)).toMatch(/terminalId|areaCode|required/);
    expect(await count('records')).toBe(0);
    expect(await count('refusals')).toBe(1);
    expect(ingest.stats()).toMatchObject({ invalid: 1, rejected: 1 });
  });

  it('a genuine valid record the database could not keep (NUL, lone surrogate, year 0000) is rejected unstorable; its batch is stored', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    const nul = t.seal({ ...strayPress(uuidv7()), terminalId: 'T-1', detail: { note: 'a\u0000b' } });
    const surrogate = t.seal({ ...strayPress(uuidv7()), terminalId: 'T-1', hallCode: 'H\ud800' });
    const year0 = t.seal({ ...strayPress(uuidv7()), terminalId: 'T-1', at: '0000-01-01T00:00:00.000Z' });
    const fine = t.event();
    await deliver(ingest, [nul, surrogate, year0, fine]);
    expect(publisher.reasonOf(nul.id)).toBe('detail.note: holds a NUL character or a lone surrogate, which the database cannot keep');
    expect(publisher.reasonOf(surrogate.id)).toMatch(/^hallCode: holds a NUL/);
    expect(publisher.reasonOf(year0.id)).toBe('at: the year 0000 is not a time the database keeps');
    expect(publisher.statusOf(fine.id)).toBe('accepted');
    expect(ingest.stats()).toMatchObject({ accepted: 1, rejected: 3, failed: 0, dbFailures: 0 });
  });

  it('a record whose time correction moves its times out of range is refused (forged: bad_signature; genuine: invalid); its batch goes on', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    const unsynced = { ...strayPress(uuidv7()), terminalId: 'T-1', clock: { synced: false, bootId: 'b', monoMs: 0 } };
    const forged = t.seal(unsynced, { mutate: (body) => void (body.timeCorrection = { offsetMs: 9_000_000_000_000_000, sig: 'AAAA' }) });
    const genuineRecord = { ...unsynced, id: uuidv7() };
    const genuine = t.seal(genuineRecord, { mutate: (body) => Object.assign(body, withTimeCorrection(body as Record<string, unknown> & { id: string }, 9_000_000_000_000_000, t.identity.sign)) });
    const fine = t.event();
    await deliver(ingest, [forged, genuine, fine]);
    expect(publisher.reasonOf(forged.id)).toMatch(/^bad_signature: .*timeCorrection\.sig/);
    expect(publisher.reasonOf(genuine.id)).toMatch(/^not a readable record: /);
    expect(publisher.statusOf(fine.id)).toBe('accepted');
    expect(ingest.stats()).toMatchObject({ rejected: 1, invalid: 1, accepted: 1, failed: 0, dbFailures: 0 });
  });

  it('unreadable messages are counted, never acked nor stored', async () => {
    await approved();
    const { ingest, publisher } = makeIngest(db);
    const records = terminalTopics('T-1', PREFIX).records;
    await deliver(ingest, [
      { topic: records, payload: Buffer.from('not json') },
      { topic: records, payload: Buffer.from('{"no":"id"}') },
      { topic: 'hcp/v1/T-1/elsewhere', payload: Buffer.from('{"id":"x"}') },
      { topic: 'hcp/v1/bad id!/records', payload: Buffer.from('{"id":"x"}') },
      { topic: records, payload: Buffer.from('{"id":"a\\u0000b"}') },
    ]);
    expect(publisher.sent).toEqual([]);
    expect(ingest.stats()).toMatchObject({ received: 5, unreadable: 5 });
    expect(await count('refusals')).toBe(0);
  });
});

describe('gateway ingest: supersedes', () => {
  const rating = { grade: 'dissatisfied' as const, reasons: ['R01'], reasonCatalogVersion: '2026.1', pressedAt: '2026-03-02T01:00:05.000Z', latencyMs: 5000 };

  it('a reconciling record takes the place of an invitation closed without the terminal, in either order; a rated one is never replaced', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    const silent = t.invitation({ flags: ['device_silent'], device: null });
    const late = t.invitation({ outcome: 'rated', rating, device: 'DEV-1', flags: ['reconciled'], supersedes: silent.id });
    await deliver(ingest, [silent]);
    await deliver(ingest, [late]);
    expect(publisher.statusOf(late.id)).toBe('accepted');
    expect((await storedRecord(silent.id))?.superseded_by).toBe(late.id);

    // Backlog order: the superseding one first, in the same batch.
    const silent2 = t.invitation({ flags: ['report_overdue'], device: null, invitedAt: '2026-03-02T01:10:00.000Z' });
    const late2 = t.invitation({ outcome: 'rated', rating, device: 'DEV-1', supersedes: silent2.id, invitedAt: '2026-03-02T01:10:00.000Z' });
    await deliver(ingest, [late2, silent2]);
    expect((await storedRecord(silent2.id))?.superseded_by).toBe(late2.id);

    const rated = t.invitation({ outcome: 'rated', rating, device: 'DEV-1', invitedAt: '2026-03-02T01:20:00.000Z' });
    const intruder = t.invitation({ outcome: 'rated', rating, device: 'DEV-1', supersedes: rated.id, invitedAt: '2026-03-02T01:20:00.000Z' });
    await deliver(ingest, [rated, intruder]);
    expect(publisher.reasonOf(intruder.id)).toBe(`supersedes: record ${rated.id} is rated: a rating is never replaced`);
    expect(await listRefusals(db, { limit: 10 })).toEqual([expect.objectContaining({ id: intruder.id, verdict: 'supersede' })]);
    const again = t.invitation({ outcome: 'rated', rating, device: 'DEV-1', supersedes: silent.id });
    await deliver(ingest, [again]);
    expect(publisher.reasonOf(again.id)).toBe(`supersedes: record ${silent.id} was already superseded`);
    // A resend of the accepted superseding record is a duplicate, not "already superseded".
    await deliver(ingest, [late]);
    expect(publisher.statusOf(late.id)).toBe('duplicate');
  });

  it('a stray superseding record stored before an earlier one that may not be replaced is set aside when the earlier arrives', async () => {
    const t = await approved();
    const { ingest } = makeIngest(db);
    const rated = t.invitation({ outcome: 'rated', rating, device: 'DEV-1' });
    const stray = t.invitation({ outcome: 'rated', rating, device: 'DEV-1', supersedes: rated.id });
    await deliver(ingest, [stray]);
    await deliver(ingest, [rated]);
    expect((await storedRecord(rated.id))?.superseded_by).toBeNull();
    expect((await storedRecord(stray.id))?.superseded_by).toBe(rated.id);
  });
});

describe('gateway ingest: acks only after the commit', () => {
  it('a failed commit acks nothing, says the database is down without its password, and is retried after a backoff, then acked', async () => {
    const t = await approved();
    const flaky = new FlakyDatabase(db);
    flaky.failCommits = 2;
    const { ingest, publisher, timers } = makeIngest(flaky, { retryMs: { first: 100, max: 1000 } });
    const r = t.event();
    ingest.receive(r.topic, r.payload);
    await vi.waitFor(() => expect(ingest.stats().dbFailures).toBe(1));
    expect(publisher.sent).toEqual([]);
    expect(await count('records')).toBe(0);
    expect(ingest.stats()).toMatchObject({ dbUp: false, queued: 1 });
    expect(ingest.stats().lastDbError).toContain('Connection terminated');
    expect(ingest.stats().lastDbError).not.toContain('s3cret');

    timers.advance(99);
    expect(ingest.stats().dbFailures).toBe(1);
    timers.advance(1);
    await vi.waitFor(() => expect(ingest.stats().dbFailures).toBe(2));
    timers.advance(200); // doubled
    await ingest.idle();
    expect(publisher.statusOf(r.id)).toBe('accepted');
    expect(ingest.stats()).toMatchObject({ dbUp: true, accepted: 1, queued: 0, received: 1 });
  });

  it('a transaction the database rolls back (a deadlock with another instance) is tried again at once, not counted as the database down', async () => {
    const t = await approved();
    const flaky = new FlakyDatabase(db);
    flaky.failCommits = 2;
    flaky.failCommitsCode = '40P01';
    const { ingest, publisher } = makeIngest(flaky);
    const r = t.event();
    await deliver(ingest, [r]);
    expect(publisher.statusOf(r.id)).toBe('accepted');
    expect(ingest.stats()).toMatchObject({ dbFailures: 0, dbUp: true, accepted: 1 });
  });

  it('while the database is down the queue keeps up to maxQueue messages; beyond it the oldest are shed, counted', async () => {
    const t = await approved();
    const flaky = new FlakyDatabase(db);
    flaky.failCommits = 1;
    const { ingest, publisher, timers } = makeIngest(flaky, { maxQueue: 3, retryMs: { first: 100, max: 100 } });
    const records = Array.from({ length: 6 }, () => t.event());
    ingest.receive(records[0]!.topic, records[0]!.payload);
    await vi.waitFor(() => expect(ingest.stats().dbFailures).toBe(1));
    for (const r of records.slice(1)) ingest.receive(r.topic, r.payload);
    expect(ingest.stats()).toMatchObject({ shed: 3, queued: 3 });
    timers.advance(100);
    await ingest.idle();
    expect(publisher.ids().sort()).toEqual(records.slice(3).map((r) => r.id).sort());
    const s = ingest.stats();
    expect(s.received).toBe(s.accepted + s.shed);
  });

  it('a message the database refuses for its data is isolated and left unacked; the rest of its batch is stored', async () => {
    const t = await approved();
    const flaky = new FlakyDatabase(db);
    const records = Array.from({ length: 8 }, () => t.event());
    flaky.refuseData = { ids: new Set([records[5]!.id]), code: '22P05' };
    const { ingest, publisher } = makeIngest(flaky);
    await deliver(ingest, records);
    expect(publisher.statusOf(records[5]!.id)).toBeUndefined();
    expect(ingest.stats()).toMatchObject({ accepted: 7, failed: 1, dbFailures: 0 });
  });

  it('a publisher that fails is counted; the records stay stored and are acked duplicate when published again', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    publisher.fail = true;
    const r = t.event();
    await deliver(ingest, [r]);
    expect(ingest.stats()).toMatchObject({ accepted: 1, ackFailures: 1, acksSent: 0 });
    publisher.fail = false;
    await deliver(ingest, [r]);
    expect(publisher.statusOf(r.id)).toBe('duplicate');
  });

  it('emits settled, record and refused after the commit', async () => {
    const t = await approved();
    const { ingest } = makeIngest(db);
    const seen: string[] = [];
    ingest.on('record', (record, terminalId) => seen.push(`record ${record.id} ${terminalId}`));
    ingest.on('refused', (refusal) => seen.push(`refused ${refusal.id} ${refusal.verdict}`));
    ingest.on('settled', (batch) => seen.push(`settled ${batch.accepted}/${batch.rejected}`));
    const good = t.event();
    const forged = new SealingTerminal('T-1').event();
    await deliver(ingest, [good, forged]);
    expect(seen).toEqual(['settled 1/1', `record ${good.id} T-1`, `refused ${forged.id} bad_signature`]);
  });
});

describe('gateway ingest: batches', () => {
  it('settles records of many terminals in few batches, acks grouped per terminal, at most 500 ids each', async () => {
    const terminals = await Promise.all(Array.from({ length: 12 }, (_, i) => approved(`T-${i}`)));
    const { ingest, publisher } = makeIngest(db, { maxBatch: 1000 });
    const messages = terminals.flatMap((t) => Array.from({ length: 20 }, () => t.event()));
    const big = terminals[0]!;
    const bulk = Array.from({ length: 1100 }, () => big.event());
    await deliver(ingest, [...messages, ...bulk]);
    expect(await count('records')).toBe(messages.length + bulk.length);
    expect(ingest.stats().batches).toBeLessThanOrEqual(3);
    expect(Math.max(...publisher.sent.map((s) => s.ack.ids.length))).toBeLessThanOrEqual(500);
    const topicOf = new Map([...messages, ...bulk].map((m) => [m.id, m.topic]));
    for (const s of publisher.sent) expect(s.ack.ids.every((id) => topicOf.get(id) === terminalTopics(s.terminalId, PREFIX).records)).toBe(true);
    expect(new Set(publisher.ids()).size).toBe(messages.length + bulk.length);
    expect(await chainGaps(db, 'T-0')).toEqual([]);
  });

  it('stop() finishes the batch in flight and its acks; what arrives after is ignored', async () => {
    const t = await approved();
    const { ingest, publisher } = makeIngest(db);
    const r = t.event();
    ingest.receive(r.topic, r.payload);
    await vi.waitFor(() => expect(ingest.stats().queued).toBe(1));
    await ingest.idle();
    await ingest.stop();
    const late = t.event();
    ingest.receive(late.topic, late.payload);
    expect(publisher.ids()).toEqual([r.id]);
    expect(ingest.stats().received).toBe(1);
  });
});

describe('gateway: time probes', () => {
  it('answers a probe on the terminal acks topic with serverTime; ignores anything else', async () => {
    const publisher = new RecordingPublisher();
    const clock = new ManualClock();
    const deps = { publisher, prefix: PREFIX, clock, logger: pino({ level: 'silent' }) };
    expect(await answerTimeProbe(deps, 'hcp/v1/T-9/time', Buffer.from('{"probe":"p-1"}'))).toBe('answered');
    expect(publisher.sent).toEqual([{ terminalId: 'T-9', qos: 1, ack: { ids: ['p-1'], status: 'accepted', serverTime: clock.now().toISOString() } }]);
    expect(await answerTimeProbe(deps, 'hcp/v1/T-9/time', Buffer.from('nope'))).toBe('ignored');
    expect(await answerTimeProbe(deps, 'hcp/v1/T-9/time', Buffer.from('{"probe":""}'))).toBe('ignored');
    expect(await answerTimeProbe(deps, 'hcp/v1/T-9/records', Buffer.from('{"probe":"p"}'))).toBe('ignored');
    publisher.fail = true;
    expect(await answerTimeProbe(deps, 'hcp/v1/T-9/time', Buffer.from('{"probe":"p-2"}'))).toBe('failed');
    expect(publisher.sent).toHaveLength(1);
  });
});
