import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { mqttPasswordSchema } from '../../bridge/config.js';
import { answerProblems, PROVISION_FIELDS, SOUND_ANSWERS } from '../../bridge/provision/fields.js';
import { givenPassword, PASSWORD_ENV, PasswordRefused, passwordProblem } from '../../bridge/provision/password.js';
import { readSecretFile } from '../../bridge/secret-file.js';

/**
 * The broker password's three sources (a file, the environment, the prompt), fed hostile text:
 * line breaks, NULs, escapes, bytes that are not UTF-8, huge inputs. Invariants: a password is
 * taken exactly as given (less one final line break from a file) or refused with a
 * PasswordRefused naming its source; nothing else is thrown; no refusal repeats the password.
 */
const SEED = 20261206;
const dir = mkdtempSync(join(tmpdir(), 'hcp-fuzz-password-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOSTILE = ['', '\n', '\r\n', '\0', 'a\0b', 'pass\nword', 'pass\rword', '\u001b[31m', '\u007f', 'tab\there', ' ', 'ok', '口令🔑', 'x'.repeat(4096), 'x'.repeat(4097)];
const text: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('a', '\n', '\0', '\r', '口'), maxLength: 20 }),
  fc.integer({ min: 4000, max: 70_000 }).map((n) => 'p'.repeat(n)),
);

/** Does the message show the secret? (Short ones are left out: "a" is in every sentence.) */
const leaks = (message: string, secret: string): boolean => secret.trim().length >= 6 && message.includes(secret);

function outcome(run: () => ReturnType<typeof givenPassword>): { password: string } | { refused: string } {
  try {
    const given = run();
    if (!given) throw new Error('no password');
    return { password: given.password };
  } catch (err) {
    if (err instanceof PasswordRefused) return { refused: err.message };
    throw err;
  }
}

describe('broker password sources, fuzzed', () => {
  it('HCP_MQTT_PASSWORD: taken as it is, or refused naming the variable and not the password', () => {
    fc.assert(
      fc.property(text, (value) => {
        const result = outcome(() => givenPassword({ env: { [PASSWORD_ENV]: value } }));
        const acceptable = mqttPasswordSchema.safeParse(value).success;
        if ('password' in result) {
          expect(acceptable).toBe(true);
          expect(result.password).toBe(value);
        } else {
          expect(acceptable).toBe(false);
          expect(result.refused.startsWith(`${PASSWORD_ENV}: the password `)).toBe(true);
          expect(leaks(result.refused, value)).toBe(false);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('--password-file: its text less one final line break, or refused naming the file; bytes of any kind', () => {
    const bytes: fc.Arbitrary<Uint8Array> = fc.oneof(
      text.map((t) => new TextEncoder().encode(t)),
      text.map((t) => new TextEncoder().encode(`${t}\n`)),
      fc.uint8Array({ maxLength: 64 }),
      fc.constant(new Uint8Array(64 * 1024 + 1).fill(0x61)),
    );
    let n = 0;
    fc.assert(
      fc.property(bytes, (content) => {
        const file = join(dir, `pw-${(n += 1)}`);
        writeFileSync(file, content);
        const result = outcome(() => givenPassword({ file, env: {} }));
        let decoded: string | undefined;
        try {
          decoded = new TextDecoder('utf-8', { fatal: true }).decode(content).replace(/\r?\n$/, '');
        } catch {
          decoded = undefined;
        }
        const acceptable = content.length <= 64 * 1024 && decoded !== undefined && mqttPasswordSchema.safeParse(decoded).success;
        if ('password' in result) {
          expect(acceptable).toBe(true);
          expect(result.password).toBe(decoded);
        } else {
          expect(acceptable).toBe(false);
          expect(result.refused.startsWith(`--password-file ${file}: `)).toBe(true);
          if (decoded !== undefined) expect(leaks(result.refused, decoded)).toBe(false);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('the prompt: an answer is refused exactly when the config would refuse it, with --password named and the password not shown', () => {
    const field = PROVISION_FIELDS.find((f) => f.flag === 'password')!;
    expect(field.secret).toBe(true);
    fc.assert(
      fc.property(text, (typed) => {
        const problems = answerProblems({ ...SOUND_ANSWERS, password: typed }, field);
        // An empty answer is "no password" (the field is optional), as the prompt takes it.
        const acceptable = typed === '' || passwordProblem(typed) === undefined;
        expect(problems.length === 0, problems.join('; ')).toBe(acceptable);
        for (const line of problems) {
          expect(line.startsWith('--password: ')).toBe(true);
          expect(leaks(line, typed)).toBe(false);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('--password-file that is not a file', () => {
  it('a folder, a FIFO (without waiting for a writer) and a missing file are refused', () => {
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    expect(() => readSecretFile(folder)).toThrow(/not a regular file/);
    const fifo = join(dir, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => readSecretFile(fifo)).toThrow(/not a regular file/);
    expect(outcome(() => givenPassword({ file: join(dir, 'missing'), env: {} }))).toEqual({ refused: expect.stringMatching(/missing: cannot read it: ENOENT/) });
  });

  it('both sources at once are refused rather than one silently chosen', () => {
    const file = join(dir, 'both');
    writeFileSync(file, 'from-file\n');
    expect(outcome(() => givenPassword({ file, env: { [PASSWORD_ENV]: 'from-env' } }))).toEqual({ refused: expect.stringContaining('both given') });
    expect(givenPassword({ env: {} })).toBeUndefined();
  });
});
