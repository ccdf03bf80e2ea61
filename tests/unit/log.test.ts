import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions } from '../../bridge/log.js';

/** The bridge logger's settings (bridge/log.ts), on a logger writing to memory. */
function capture(): { logger: pino.Logger; text: () => string } {
  const lines: string[] = [];
  const logger = pino(loggerOptions('info'), new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
  return { logger, text: () => lines.join('') };
}

describe('the bridge log never writes a secret', () => {
  it('passwords, tokens and Authorization headers are replaced at any depth up to three', () => {
    const { logger, text } = capture();
    logger.info({ password: 'p0-secret', mqtt: { url: 'mqtts://b', password: 'p1-secret', probe: { username: 'd', password: 'p2-secret' } } }, 'config');
    logger.info({ http: { token: 't1-secret' }, req: { headers: { authorization: 'Bearer t2-secret' } }, a: { b: { c: { token: 't3-secret' } } } }, 'request');
    const out = text();
    expect(out).not.toMatch(/p[0-2]-secret|t[1-3]-secret/);
    expect(out).toContain('"password":"[secret]"');
    expect(out).toContain('"url":"mqtts://b"');
    expect(out).toContain('"username":"d"');
  });
});
