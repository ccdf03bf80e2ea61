import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs (journald/systemd friendly). `destination` 2 = stderr. */
export function createLogger(level: string = 'info', destination: 1 | 2 = 1): Logger {
  return pino({ level, base: undefined }, pino.destination(destination));
}

export const silentLogger: Logger = pino({ level: 'silent' });
