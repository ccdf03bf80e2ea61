import type { Logger } from 'pino';

/**
 * What the gateway's parts touch of the world, injected so that each rule has a unit test that
 * runs in milliseconds (the same kind of port as firmware/core/hardware.ts).
 */

/** Publishing on the broker (the MQTT session's client, a recorder in tests). Resolves once the broker has it (QoS 1: PUBACK). */
export interface Publisher {
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain?: boolean }): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export type { Logger };
