import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../bridge/config.js';

/** A server the gateway runs: where it answers, and how it stops (every connection closed). */
export interface ListeningServer {
  /** e.g. http://127.0.0.1:8470 */
  url: string;
  stop(): Promise<void>;
}

/**
 * Listens on host:port; an address it cannot take is refused as a setting to fix (ConfigError
 * naming `setting`, e.g. "http" or "rateLater"), with `inUse` said when another program has it.
 */
export async function listenOrRefuse(server: Server, host: string, port: number, setting: string, inUse: string): Promise<ListeningServer> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    const at = `${host}:${port}`;
    throw new ConfigError(
      (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `${setting}.port: ${at} is in use by another program${inUse}: choose another port` : `${setting}: cannot listen on ${at}: ${(err as Error).message}`,
      [],
    );
  }
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${shown}:${address.port}`,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
