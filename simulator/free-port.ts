import { createServer, type AddressInfo } from 'node:net';

/** A free TCP port on `host`, as the kernel hands them out (bind to 0, read, close): free now, for a server started moments later. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
