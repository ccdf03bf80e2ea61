import { readFileSync } from 'node:fs';
import { ConfigError, type BridgeConfig } from '../config.js';

/** The PEM contents mqtt.js takes for TLS (`ca`, `cert`, `key`). */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Reads `mqtt.tls` files, failing with the setting and the file that could not be read. */
export function readTlsFiles(tls: BridgeConfig['mqtt']['tls']): TlsMaterial {
  const material: TlsMaterial = {};
  for (const name of ['ca', 'cert', 'key'] as const) {
    const path = tls?.[name];
    if (path === undefined) continue;
    try {
      material[name] = readFileSync(path);
    } catch (err) {
      throw new ConfigError(`mqtt.tls.${name}: cannot read ${path}: ${(err as Error).message}`, []);
    }
  }
  return material;
}
