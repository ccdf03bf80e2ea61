import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Secrets are never written, whatever object a log line is given: a password, a token or an
 * Authorization header, at the top level or nested up to three deep (a config, a command, a
 * request), is replaced by '[secret]'.
 */
const SECRET_KEYS = ['password', 'token', 'authorization', 'passwordFile'] as const;
const SECRET_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

/** The bridge's logger settings (exported for tests that log to memory). */
export const loggerOptions = (level: string): LoggerOptions => ({ level, base: undefined, redact: { paths: SECRET_PATHS, censor: '[secret]' } });

/** Structured JSON logs (journald/systemd friendly). `destination` 2 = stderr. */
export function createLogger(level: string = 'info', destination: 1 | 2 = 1): Logger {
  return pino(loggerOptions(level), pino.destination(destination));
}

export const silentLogger: Logger = pino({ level: 'silent' });
