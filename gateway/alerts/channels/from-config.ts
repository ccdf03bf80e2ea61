import { z } from 'zod';
import { ConfigError } from '../../../bridge/config.js';
import { readSecretFile } from '../../../bridge/secret-file.js';
import type { GatewayConfig } from '../../config.js';
import type { Clock } from '../../ports.js';
import type { AlertChannel, HttpChannelDeps } from './channel.js';
import { DingtalkChannel } from './dingtalk.js';
import { WebhookChannel } from './webhook.js';
import { WecomChannel } from './wecom.js';

export type ChannelConfig = GatewayConfig['alerts']['channels'][number];

const robotUrlSchema = z.url({ protocol: /^https?$/ });

/**
 * The channels of gateway.yaml `alerts.channels`, their addresses and secrets read from their
 * files (owner-only, as every secret file). A ConfigError names the file and what is wrong, never
 * what is in it.
 */
export function channelsFromConfig(channels: readonly ChannelConfig[], deps: HttpChannelDeps & { clock: Clock }): AlertChannel[] {
  const names = new Set<string>();
  return channels.map((channel, i) => {
    const name = channel.name ?? `${channel.kind}#${i + 1}`;
    if (names.has(name)) throw new ConfigError('alerts.channels is invalid:', [`channels.${i}.name: "${name}" is used twice: give each channel a name of its own`]);
    names.add(name);
    const where = `alerts.channels.${i}`;
    switch (channel.kind) {
      case 'wecom':
        return new WecomChannel({ name, url: robotUrl(channel.urlFile, `${where}.urlFile`), clock: deps.clock }, deps);
      case 'dingtalk':
        return new DingtalkChannel({ name, url: robotUrl(channel.urlFile, `${where}.urlFile`), secret: optionalSecret(channel.secretFile, where), clock: deps.clock }, deps);
      case 'webhook':
        return new WebhookChannel({ name, url: channel.url, secret: optionalSecret(channel.secretFile, where), clock: deps.clock }, deps);
    }
  });
}

function optionalSecret(path: string | undefined, where: string): string | undefined {
  return path === undefined ? undefined : secret(path, `${where}.secretFile`);
}

function secret(path: string, field: string): string {
  let text: string;
  try {
    text = readSecretFile(path, { ownerOnly: true }).trim();
  } catch (err) {
    throw new ConfigError(`${field} (${path}) cannot be read: ${(err as Error).message}`, []);
  }
  if (text.length === 0) throw new ConfigError(`${field} (${path}) is empty: write the robot's address or secret in it`, []);
  return text;
}

function robotUrl(path: string, field: string): string {
  const url = secret(path, field);
  if (!robotUrlSchema.safeParse(url).success) throw new ConfigError(`${field} (${path}) does not hold an http(s) address: write the robot's webhook address in it, alone on one line`, []);
  return url;
}
