import { setImmediate as nextTurn } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { RecordSealer } from '../../bridge/identity/record-sealer.js';
import { openDatabase, type Db } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { Uplink } from '../../bridge/uplink/uplink.js';
import { decodeRecord, RECORD_FORMATS } from '../../protocol/record-formats/index.js';
import { HeldChain } from '../../protocol/seal/chain.js';
import { canonicalJson } from '../../protocol/seal/canonical-json.js';
import { GENESIS, recordHash } from '../../protocol/seal/seal.js';
import { verifySealed, type SealVerdict } from '../../protocol/seal/verify.js';
import { terminalTopics } from '../../protocol/topics.js';
import { FakeBroker } from '../support/fake-broker.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';
import { strayPress } from '../support/stray-press.js';
import { testIdentity } from '../support/terminal-key.js';
import { uplinkOptions } from '../support/uplink-options.js';

const identity = testIdentity();
const other = testIdentity();
type Body = Record<string, unknown> & { id: string; seq: number; prev: string; sig: string };

/** An outbox that seals (layout v2) with `identity`'s key, on a fresh in-memory database. */
function sealingOutbox(db: Db = openDatabase(':memory:')) {
  const timers = new ManualTimers();
  const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
  const sealer = new RecordSealer(RECORD_FORMATS.v2, 'provincial-5-high', identity.sign);
  const outbox = new Outbox(db, clock, undefined, sealer);
  let n = 0;
  const store = (count: number): Body[] =>
    Array.from({ length: count }, () => {
      outbox.append(strayPress(`r-${++n}`, clock.now()));
      return JSON.parse(outbox.get(`r-${n}`)!.sealed!) as Body;
    });
  return { db, outbox, store, timers, clock };
}

/** Verifies bodies in the order given, keeping what passes, as a receiver does. */
function receive(bodies: unknown[], key = identity.publicKey, chain = new HeldChain()): SealVerdict[] {
  return bodies.map((body) => {
    const verdict = verifySealed(body, key, chain);
    if (verdict.verdict === 'ok' || verdict.verdict === 'gap') chain.add(verdict.link);
    return verdict;
  });
}

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined members, writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'é' }], c: undefined }, A: true })).toBe('{"A":true,"a":{"d":[1,{"y":"é","z":null}]},"b":1}');
  });

  it('refuses what JSON cannot carry, rather than writing something else', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/NaN is not a JSON number/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/not JSON data/);
  });
});

describe('the seal at commit (outbox with a sealer)', () => {
  it('stores each record sealed: seq gapless in commit order, prev the hash of the one before, the first prev the genesis value', () => {
    const { store } = sealingOutbox();
    const [a, b, c] = store(3);
    expect([a!.seq, b!.seq, c!.seq]).toEqual([1, 2, 3]);
    expect(a!.prev).toBe(GENESIS);
    expect(b!.prev).toBe(recordHash(a!));
    expect(c!.prev).toBe(recordHash(b!));
    expect(receive([a, b, c]).map((v) => v.verdict)).toEqual(['ok', 'ok', 'ok']);
  });

  it('a record stored twice (same id) is sealed once: the chain does not move', () => {
    const { outbox, store, clock } = sealingOutbox();
    const [a] = store(1);
    expect(outbox.append(strayPress('r-1', clock.now()))).toBe(false);
    const [b] = store(1);
    expect(b).toMatchObject({ seq: 2, prev: recordHash(a!) });
  });

  it('after unsealed rows (an upgraded bridge) the chain starts at the next seq with the genesis prev, and verifies', () => {
    const db = openDatabase(':memory:');
    const plain = new Outbox(db, new TimeKeeper(manualWall(new ManualTimers()), 'boot-1', 'system'));
    plain.append(strayPress('old-1'));
    plain.append(strayPress('old-2'));
    expect(plain.get('old-1')?.sealed).toBeUndefined();
    const [first, second] = sealingOutbox(db).store(2);
    expect(first).toMatchObject({ seq: 3, prev: GENESIS });
    expect(receive([first, second]).map((v) => v.verdict)).toEqual(['ok', 'ok']);
  });

  it('a row edited afterwards with SQL no longer verifies: bad_signature, naming the record and `sig`', () => {
    const { db, outbox, store } = sealingOutbox();
    store(2);
    db.prepare(`UPDATE records SET body = json_set(body, '$.detail.grade', 'very_satisfied') WHERE id = 'r-2'`).run();
    const edited = JSON.parse(outbox.get('r-2')!.sealed!) as Body;
    const [, verdict] = receive([JSON.parse(outbox.get('r-1')!.sealed!), edited]);
    expect(verdict).toEqual({ verdict: 'bad_signature', reason: expect.stringMatching(/^record r-2 \(seq 2\): sig: does not verify/) });
  });

  it('a row deleted before it was sent leaves a gap the receiver reports, from..to', () => {
    const { db, outbox, store } = sealingOutbox();
    const [a] = store(3);
    db.prepare(`DELETE FROM records WHERE id = 'r-2'`).run();
    const [d] = store(1);
    expect(d).toMatchObject({ seq: 4 });
    const chain = new HeldChain();
    const verdicts = receive([a, JSON.parse(outbox.get('r-3')!.sealed!), d], identity.publicKey, chain);
    expect(verdicts.map((v) => v.verdict)).toEqual(['ok', 'gap', 'ok']);
    expect(verdicts[1]).toMatchObject({ from: 2, to: 2 });
    expect(chain.gaps(GENESIS)).toEqual([{ from: 2, to: 2 }]);
  });
});

describe('verifySealed', () => {
  const bodies = () => sealingOutbox().store(4);

  it('takes records out of order (the live lane before the backlog): a gap is reported, then closed', () => {
    const [a, b, c, d] = bodies();
    const chain = new HeldChain();
    expect(receive([a, d], identity.publicKey, chain).map((v) => v.verdict)).toEqual(['ok', 'gap']);
    expect(chain.gaps(GENESIS)).toEqual([{ from: 2, to: 3 }]);
    expect(receive([c, b], identity.publicKey, chain).map((v) => v.verdict)).toEqual(['ok', 'ok']);
    expect(chain.gaps(GENESIS)).toEqual([]);
  });

  it('a resend of a verified record is ok (dedupe follows); another record in its place is broken_chain', () => {
    const [a, b] = bodies();
    const elsewhere = sealingOutbox();
    elsewhere.timers.advance(1000); // the same key, another chain: genuine signatures, wrong places
    const [x, y] = elsewhere.store(2);
    const verdicts = receive([a, b, b, y]);
    expect(verdicts.map((v) => v.verdict)).toEqual(['ok', 'ok', 'ok', 'broken_chain']);
    expect(verdicts[3]).toMatchObject({ reason: expect.stringContaining('another record with seq 2 was already verified') });
    expect(receive([a, x]).map((v) => v.verdict)).toEqual(['ok', 'broken_chain']);
  });

  it('a record signed by another key (another terminal, a forger) is bad_signature; with no key registered, unknown_key', () => {
    const [a] = bodies();
    expect(receive([a], other.publicKey)[0]?.verdict).toBe('bad_signature');
    expect(verifySealed(a, undefined, new HeldChain())).toMatchObject({ verdict: 'unknown_key', reason: 'record r-1 (seq 1): no public key registered for its terminal' });
    expect(verifySealed(a, 'bm90IGEga2V5IGF0IGFsbCwganVzdCBzb21lIHRleHQ=', new HeldChain())).toMatchObject({ verdict: 'unknown_key' });
  });

  it('a layout-1 record is unsigned; a layout-2 record without its seal is malformed, naming the field', () => {
    const [a] = bodies();
    expect(verifySealed({ ...a, schema: 1 }, identity.publicKey, new HeldChain())).toMatchObject({ verdict: 'unsigned', reason: expect.stringContaining('record r-1: schema 1 carries no seal') });
    const { prev: _prev, ...unchained } = a!;
    expect(verifySealed(unchained, identity.publicKey, new HeldChain())).toMatchObject({ verdict: 'malformed', reason: expect.stringContaining('prev: required') });
  });
});

describe('the uplink publishes sealed records as sealed', () => {
  it('a row stored unsealed before an upgrade goes as layout 1 (unsigned, for the receiver to flag), the sealed ones after it as stored', async () => {
    const timers = new ManualTimers();
    const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
    const db = openDatabase(':memory:');
    new Outbox(db, clock).append(strayPress(uuidv7(), clock.now()));
    const outbox = new Outbox(db, clock, undefined, new RecordSealer(RECORD_FORMATS.v2, 'provincial-5-high', identity.sign));
    outbox.append(strayPress(uuidv7(), clock.now()));
    const broker = new FakeBroker(timers, terminalTopics('T-1'));
    const uplink = new Uplink({ ...uplinkOptions({ outbox, clock, timers, identity }, { recordFormat: 'v2', inflight: 10 }), connect: broker.connect });
    uplink.start();
    await nextTurn();
    timers.advance(0);
    await nextTurn();
    const [old, upgraded] = broker.records() as unknown as Body[];
    expect(old).toMatchObject({ schema: 1, seq: 1 });
    expect(old).not.toHaveProperty('sig');
    expect(verifySealed(old, identity.publicKey, new HeldChain())).toMatchObject({ verdict: 'unsigned' });
    expect(upgraded).toMatchObject({ schema: 2, seq: 2, prev: GENESIS });
    expect(receive([upgraded]).map((v) => v.verdict)).toEqual(['ok']);
    await uplink.stop();
  });

  it('verbatim; one made on an untrusted clock goes with a signed time correction that the receiver applies', async () => {
    const timers = new ManualTimers();
    const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'ntp');
    const outbox = new Outbox(openDatabase(':memory:'), clock, undefined, new RecordSealer(RECORD_FORMATS.v2, 'provincial-5-high', identity.sign));
    const broker = new FakeBroker(timers, terminalTopics('T-1'));
    const uplink = new Uplink({ ...uplinkOptions({ outbox, clock, timers, identity }, { recordFormat: 'v2', inflight: 10 }), connect: broker.connect });
    const [early, synced] = [uuidv7(), uuidv7()];
    outbox.append({ ...strayPress(early, clock.now()), clock: { synced: false, bootId: 'boot-1', monoMs: timers.now() } });
    clock.observeServerTime(new Date('2026-11-29T12:00:00Z'));
    outbox.append(strayPress(synced, clock.now()));
    uplink.start();
    await nextTurn();
    timers.advance(0);
    await nextTurn();
    const messages = broker.published.filter((m) => m.topic === 'hcp/v1/T-1/records').map((m) => m.payload);
    expect(messages[1]).toBe(outbox.get(synced)!.sealed);
    const corrected = JSON.parse(messages[0]!) as Body;
    expect(corrected.timeCorrection).toMatchObject({ offsetMs: expect.any(Number) });
    expect(receive([corrected]).map((v) => v.verdict)).toEqual(['ok']);
    expect(receive([{ ...corrected, timeCorrection: { ...(corrected.timeCorrection as object), offsetMs: 1 } }])[0]).toMatchObject({ verdict: 'bad_signature', reason: expect.stringContaining('timeCorrection.sig') });
    expect(decodeRecord(messages[0]!)).toMatchObject({ kind: 'record', record: { flags: ['time_corrected'], clock: { synced: true }, at: '2026-11-29T12:00:00.000Z' } });
    const birth = broker.published.find((m) => m.topic === 'hcp/v1/T-1/state');
    expect(JSON.parse(birth!.payload)).toMatchObject({ online: true, publicKey: identity.publicKey });
    await uplink.stop();
  });
});
