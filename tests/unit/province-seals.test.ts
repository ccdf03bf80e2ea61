import { describe, expect, it } from 'vitest';
import { RecordSealer } from '../../bridge/identity/record-sealer.js';
import { RECORD_FORMATS } from '../../protocol/record-formats/index.js';
import { GENESIS } from '../../protocol/seal/seal.js';
import { SealLedger, TerminalKeys } from '../../simulator/province-seals.js';
import { strayPress } from '../support/stray-press.js';
import { testIdentity } from '../support/terminal-key.js';

const old = testIdentity();
const replacement = testIdentity();

function sealedBy(identity = old, seq = 1, prev = GENESIS) {
  const sealed = new RecordSealer(RECORD_FORMATS.v2, 'provincial-5-high', identity.sign).seal(strayPress(`r-${seq}`), seq, prev);
  return { body: JSON.parse(sealed.body) as Record<string, unknown>, hash: sealed.hash };
}

describe('the province emulator: key pinning', () => {
  it('pins the first key; the same again changes nothing; another waits for the operator and is applied only by approve', () => {
    const keys = new TerminalKeys();
    expect(keys.offer('T-1', { publicKey: old.publicKey })).toBe('pinned');
    expect(keys.offer('T-1', { publicKey: old.publicKey })).toBe('same');
    expect(keys.offer('T-1', { publicKey: replacement.publicKey, with: { hallCode: 'elsewhere' } })).toBe('pending');
    expect(keys.pinned('T-1')).toBe(old.publicKey);
    expect(keys.approve('T-2')).toBeUndefined();
    expect(keys.approve('T-1')).toEqual({ publicKey: replacement.publicKey, with: { hallCode: 'elsewhere' } });
    expect(keys.pinned('T-1')).toBe(replacement.publicKey);
    expect(keys.pending('T-1')).toBeUndefined();
  });
});

describe('the province emulator: what it does with a record by its seal', () => {
  it('no key yet: held (no ack), reported once however often it comes', () => {
    const ledger = new SealLedger(new TerminalKeys());
    const { body } = sealedBy();
    expect(ledger.check('T-1', 'r-1', body)).toMatchObject({ action: 'hold', reason: expect.stringContaining('no public key registered') });
    ledger.check('T-1', 'r-1', body);
    expect(ledger.reports()).toEqual([expect.objectContaining({ id: 'r-1', verdict: 'held' })]);
  });

  it("a replaced terminal's records are held while its new key is pending, and accepted once the operator approves it", () => {
    const keys = new TerminalKeys();
    keys.offer('T-1', { publicKey: old.publicKey });
    const ledger = new SealLedger(keys);
    const first = sealedBy(old);
    expect(ledger.check('T-1', 'r-1', first.body)).toEqual({ action: 'accept' });
    keys.offer('T-1', { publicKey: replacement.publicKey });
    const next = sealedBy(replacement, 2, first.hash);
    expect(ledger.check('T-1', 'r-2', next.body)).toMatchObject({ action: 'hold', reason: expect.stringContaining('waits for the operator') });
    keys.approve('T-1');
    expect(ledger.check('T-1', 'r-2', next.body)).toEqual({ action: 'accept' });
    expect(ledger.gaps('T-1')).toEqual([]);
  });

  it('refuses a forgery, accepts layout 1 flagged unsigned, and accepts a record after a missing one flagged gap', () => {
    const keys = new TerminalKeys();
    keys.offer('T-1', { publicKey: old.publicKey });
    const ledger = new SealLedger(keys);
    expect(ledger.check('T-1', 'f-1', sealedBy(replacement).body)).toMatchObject({ action: 'reject', reason: expect.stringMatching(/^bad_signature: /) });
    expect(ledger.check('T-1', 'u-1', { ...strayPress('u-1'), seq: 1 })).toEqual({ action: 'accept', flag: 'unsigned' });
    expect(ledger.check('T-1', 'r-3', sealedBy(old, 3, 'a'.repeat(64)).body)).toEqual({ action: 'accept', flag: 'gap' });
    expect(ledger.gaps('T-1')).toEqual([{ from: 1, to: 2 }]);
    expect(ledger.reports().map((r) => r.verdict)).toEqual(['bad_signature', 'unsigned', 'gap']);
  });

  it('an unsigned record after the terminal began sealing (a sealed row stripped of its seal on the Pi) is refused', () => {
    const keys = new TerminalKeys();
    keys.offer('T-1', { publicKey: old.publicKey });
    const ledger = new SealLedger(keys);
    expect(ledger.check('T-1', 'r-5', sealedBy(old, 5).body)).toEqual({ action: 'accept' });
    expect(ledger.check('T-1', 'u-4', { ...strayPress('u-4'), seq: 4 })).toEqual({ action: 'accept', flag: 'unsigned' });
    expect(ledger.check('T-1', 'u-6', { ...strayPress('u-6'), seq: 6 })).toMatchObject({ action: 'reject', reason: expect.stringContaining('seals its records since seq 5') });
  });
});
