import { createHash, randomBytes } from 'node:crypto';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { TcpProxy } from '../../simulator/tcp-proxy.js';
import { waitUntil } from '../../simulator/wait.js';

/** Everything a test opened, closed after it whatever happened. */
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TCP echo server that remembers its sockets. */
async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await TcpProxy.start({ target: { host: '127.0.0.1', port } });
  cleanups.push(() => proxy.stop());
  return proxy;
}

/** A raw client socket with everything it receives, and whether it closed. */
async function rawClient(port: number): Promise<{ socket: Socket; received: () => Buffer; closed: () => boolean }> {
  const socket = createConnection({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  cleanups.push(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed };
}

function mqttClient(url: string, options: IClientOptions = {}): MqttClient {
  const client = connect(url, { reconnectPeriod: 20, connectTimeout: 2000, ...options });
  client.on('error', () => undefined);
  cleanups.push(() => client.endAsync(true));
  return client;
}

async function embeddedBroker(): Promise<EmbeddedBroker> {
  const broker = await EmbeddedBroker.start();
  cleanups.push(() => broker.stop());
  return broker;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('TcpProxy', () => {
  it('carries bytes both ways, in order, with backpressure, and closes both sides together', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.port);
    expect(proxy.url).toBe(`mqtt://127.0.0.1:${proxy.port}`);
    const c = await rawClient(proxy.port);
    await waitUntil(() => proxy.connections() === 1 && echo.sockets.size === 1, 'the connection pair');

    const payload = randomBytes(8 * 1024 * 1024);
    c.socket.write(payload);
    await waitUntil(() => c.received().length === payload.length, 'the echo of 8 MiB', { timeoutMs: 10_000 });
    expect(sha(c.received())).toBe(sha(payload));
    expect(proxy.stats).toMatchObject({ accepted: 1, bytesToTarget: payload.length, bytesToClient: payload.length, dropped: 0 });

    // The client closes: the target's side closes too.
    c.socket.end();
    await waitUntil(() => echo.sockets.size === 0 && proxy.connections() === 0 && c.closed(), 'both sides to close');

    // The target closes: the client's side closes too.
    const d = await rawClient(proxy.port);
    await waitUntil(() => echo.sockets.size === 1, 'the second connection to reach the target');
    for (const s of echo.sockets) s.destroy();
    await waitUntil(() => d.closed() && proxy.connections() === 0, 'the client to see the target close');
  });

  it('cut(): an mqtt.js client sees its connection close and cannot reconnect until restore()', async () => {
    const broker = await embeddedBroker();
    const proxy = await proxyTo(broker.port);
    const client = mqttClient(proxy.url);
    let connects = 0;
    let closes = 0;
    client.on('connect', () => (connects += 1));
    client.on('close', () => (closes += 1));
    await waitUntil(() => client.connected, 'the client to connect through the proxy');
    expect(proxy.connections()).toBe(1);

    proxy.cut();
    expect(proxy.isCut).toBe(true);
    expect(proxy.connections()).toBe(0);
    await waitUntil(() => closes >= 1 && !client.connected, 'the client to see the cut');
    await waitUntil(() => broker.clientCount() === 0, 'the broker to see the cut too');
    // Its reconnect attempts reach the proxy and are reset, again and again.
    await waitUntil(() => proxy.stats.refused >= 3, 'several refused reconnect attempts');
    expect(client.connected).toBe(false);
    expect(connects).toBe(1);

    proxy.restore();
    expect(proxy.isCut).toBe(false);
    await waitUntil(() => client.connected && connects === 2, 'the client to reconnect after restore()');
    await client.publishAsync('through/proxy', 'x', { qos: 1 });
  });

  it('resets a client whose target is down, as if there were no proxy', async () => {
    const echo = await echoServer();
    const port = echo.port;
    const proxy = await proxyTo(port);
    await new Promise<void>((resolve) => echo.server.close(() => resolve()));
    const socket = createConnection({ host: '127.0.0.1', port: proxy.port });
    cleanups.push(() => void socket.destroy());
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    expect(error.code).toBe('ECONNRESET');
    expect(proxy.stats.refused).toBe(1);
    expect(proxy.connections()).toBe(0);
  });

  it('blackhole(): the connection stays open but no byte passes either way, not even a close', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.port);
    const c = await rawClient(proxy.port);
    c.socket.write('ping');
    await waitUntil(() => c.received().toString() === 'ping', 'the echo before the black hole');

    proxy.blackhole();
    expect(proxy.isBlackholed).toBe(true);
    c.socket.write('lost in the hole');
    await waitUntil(() => proxy.stats.dropped === 'lost in the hole'.length, 'the proxy to swallow the bytes');
    // Proving that nothing happens needs a short wait: no echo, and nobody closed.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(c.received().toString()).toBe('ping');
    expect(c.closed()).toBe(false);
    expect(proxy.connections()).toBe(1);
    expect(proxy.stats.bytesToTarget).toBe(4);

    // The client gives up and closes; through a black hole the target does not learn of it.
    c.socket.end();
    await waitUntil(() => c.closed(), 'the client side to close');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(echo.sockets.size).toBe(1);

    // When the path is back, the stale half is reset (its stream has holes) and new connections pass.
    proxy.restore();
    await waitUntil(() => echo.sockets.size === 0 && proxy.connections() === 0, 'the stale connection to be reset');
    const d = await rawClient(proxy.port);
    d.socket.write('pong');
    await waitUntil(() => d.received().toString() === 'pong', 'the echo after restore()');
  });

  it('blackhole(): only the MQTT keepalive notices, and the client reconnects after restore()', async () => {
    const broker = await embeddedBroker();
    const proxy = await proxyTo(broker.port);
    const client = mqttClient(proxy.url, { keepalive: 1, reconnectPeriod: 50 });
    let connects = 0;
    client.on('connect', () => (connects += 1));
    await waitUntil(() => client.connected && broker.clientCount() === 1, 'the client to connect');

    proxy.blackhole();
    await client.publishAsync('into/the/hole', 'x', { qos: 0 }); // "sent": TCP accepted it
    await waitUntil(() => !client.connected, 'the client keepalive to notice the black hole', { timeoutMs: 10_000 });
    expect(proxy.stats.dropped).toBeGreaterThan(0);
    expect(connects).toBe(1);
    // (The broker learns only through its own keepalive, on the same 1 s clock: not asserted.)

    proxy.restore();
    await waitUntil(() => client.connected && connects === 2, 'the client to reconnect after restore()');
    await waitUntil(() => broker.clientCount() === 1 && proxy.connections() === 1, 'only the new connection to remain');
  });

  it('setLatency(): delays each direction and keeps the byte order', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.port);
    proxy.setLatency(100);
    expect(proxy.latencyMs).toBe(100);
    expect(() => proxy.setLatency(-1)).toThrow(RangeError);
    const c = await rawClient(proxy.port);
    const sentAt = Date.now();
    for (let i = 0; i < 20; i++) c.socket.write(`${i},`);
    const expected = Array.from({ length: 20 }, (_, i) => `${i},`).join('');
    await waitUntil(() => c.received().toString() === expected, 'the delayed echo, in order');
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(195); // one way each, there and back

    proxy.setLatency(0);
    c.socket.write('now');
    await waitUntil(() => c.received().toString() === `${expected}now`, 'the echo without latency');
  });

  it('stop(): closes every connection and frees the port; idempotent', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.port);
    const c = await rawClient(proxy.port);
    await waitUntil(() => echo.sockets.size === 1, 'the connection to reach the target');
    await Promise.all([proxy.stop(), proxy.stop()]);
    await waitUntil(() => c.closed() && echo.sockets.size === 0, 'both sides to close');
    expect(proxy.connections()).toBe(0);

    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(proxy.port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });
});
