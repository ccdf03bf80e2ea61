import { createServer, type AddressInfo } from 'node:net';

/** A free TCP port on `host`, as the kernel hands them out (bind to 0, read, close): free now, for a server started moments later. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return bindAndRelease(0, host);
}

/** `port` when it is free on `host` now, else any free one (a second hall on one machine): which, and whether it fell back. */
export async function portOrFree(port: number, host = '127.0.0.1'): Promise<{ port: number; fellBack: boolean }> {
  try {
    return { port: await bindAndRelease(port, host), fellBack: false };
  } catch {
    return { port: await freePort(host), fellBack: port !== 0 };
  }
}

async function bindAndRelease(wanted: number, host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(wanted, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
