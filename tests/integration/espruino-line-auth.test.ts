import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The line tags computed by Espruino's own interpreter (built for Linux with a Pico's 5100
 * variables: /work/shared/tools/espruino, or ESPRUINO_LINUX): the terminal's SHA-256 and HMAC are
 * plain integer arithmetic (and Math.pow for the constants), so this checks them where they run.
 */
const ESPRUINO = process.env.ESPRUINO_LINUX ?? '/work/shared/tools/espruino/espruino-linux-5100vars';
const LINE_AUTH = fileURLToPath(new URL('../../protocol/line-auth.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hcp-espruino-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Vector {
  key: string;
  session: string;
  body: string;
}

function expectedTag({ key, session, body }: Vector): string {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(`${session}\n${body}`).digest('hex').slice(0, 16);
}

/** Runs the vectors through protocol/line-auth.ts on Espruino; its console lines, as printed. */
async function onEspruino(vectors: Vector[]): Promise<string[]> {
  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    `import { lineTagger, sealFrameJson, verifyFrameJson } from ${JSON.stringify(LINE_AUTH)};
declare function getTime(): number;
const vectors = ${JSON.stringify(vectors)};
for (let i = 0; i < vectors.length; i++) {
  const v = vectors[i];
  const tagger = lineTagger(v.key);
  const t0 = getTime();
  const tag = tagger(v.session, v.body);
  const ms = Math.round((getTime() - t0) * 1000);
  const sealed = sealFrameJson(tagger, v.session, v.body);
  console.log('RESULT ' + i + ' ' + tag + ' ' + verifyFrameJson(tagger, v.session, sealed) + ' ' + verifyFrameJson(tagger, v.session + '0', sealed) + ' ' + ms);
}
console.log('DONE');
`,
  );
  // Espruino parses ES2015 syntax (it takes let/const as var), and the entry exports nothing.
  const script = join(dir, 'auth.js');
  await esbuild.build({ entryPoints: [entry], bundle: true, format: 'iife', target: 'es2015', outfile: script, logLevel: 'silent' });
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile('timeout', ['30', ESPRUINO, script], { cwd: dir, encoding: 'latin1' }, (err, out) => (out.includes('DONE') ? resolve(out) : reject(err ?? new Error(out))));
    child.stdin?.end();
  });
  return stdout.split('\n').filter((line) => line.startsWith('RESULT '));
}

describe('line tags on the Espruino interpreter', () => {
  it('are the HMAC-SHA256 node:crypto computes, for frames of every size up to a frame', async () => {
    if (!existsSync(ESPRUINO)) throw new Error(`Espruino for Linux is not at ${ESPRUINO}: set ESPRUINO_LINUX (see /work/shared/tools/espruino/README.md)`);
    const vectors: Vector[] = [0, 1, 55, 56, 63, 64, 119, 120, 200, 480].map((length) => ({
      key: randomBytes(32).toString('hex'),
      session: `${randomBytes(8).toString('hex')}.${randomBytes(8).toString('hex')}`,
      body: `{"type":"rating","x":"${'z'.repeat(length)}"}`,
    }));
    const results = await onEspruino(vectors);
    expect(results).toHaveLength(vectors.length);
    const times: number[] = [];
    results.forEach((line, i) => {
      const [, index, tag, holds, holdsElsewhere, ms] = line.split(' ');
      expect(Number(index)).toBe(i);
      expect(tag).toBe(expectedTag(vectors[i] as Vector));
      expect([holds, holdsElsewhere]).toEqual(['true', 'false']);
      times.push(Number(ms));
    });
    // For docs/espruino.md: milliseconds per tag on this machine's interpreter, by frame size.
    console.log(`Espruino for Linux: ms per tag ${times.join(', ')}`);
  });
});
