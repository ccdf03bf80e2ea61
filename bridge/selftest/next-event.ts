import type { EventEmitter } from 'node:events';
import type { Timers } from '../../protocol/timers.js';

/**
 * The arguments of the next `event` that `accept` takes, or null after `ms`. Listens only while
 * waiting: nothing is left attached either way.
 */
export function nextEvent<A extends unknown[]>(
  timers: Timers,
  emitter: EventEmitter,
  event: string,
  ms: number,
  accept: (...args: A) => boolean = () => true,
): Promise<A | null> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]): void => {
      if (!accept(...(args as A))) return;
      done(args as A);
    };
    const timer = timers.setTimeout(() => done(null), ms);
    const done = (value: A | null): void => {
      timers.clearTimeout(timer);
      emitter.off(event, listener);
      resolve(value);
    };
    emitter.on(event, listener);
  });
}
