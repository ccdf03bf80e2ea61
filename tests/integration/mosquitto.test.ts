import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { MosquittoBroker } from '../../simulator/mosquitto.js';
import { waitUntil } from '../../simulator/wait.js';
import { onCI } from '../support/brokers.js';

/** Debian's Mosquitto as a child process. Skipped only off CI when it is not installed. */
const brokers: MosquittoBroker[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

async function startBroker(options: Parameters<typeof MosquittoBroker.start>[0] = {}): Promise<MosquittoBroker> {
  const broker = await MosquittoBroker.start(options);
  brokers.push(broker);
  return broker;
}

async function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(url, { reconnectPeriod: 0, ...options });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

function nextMessage(c: MqttClient, topic: string): Promise<{ payload: string; retain: boolean; qos: number }> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer, packet: { retain: boolean; qos: number }): void => {
      if (t !== topic) return;
      c.off('message', onMessage);
      resolve({ payload: payload.toString(), retain: packet.retain, qos: packet.qos });
    };
    c.on('message', onMessage);
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Alive and not a zombie (Linux /proc; elsewhere signal 0). */
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    try {
      process.kill(pid, 0);
      return process.platform !== 'linux';
    } catch {
      return false;
    }
  }
}

describe.skipIf(!MosquittoBroker.available() && !onCI())('MosquittoBroker', () => {
  it('starts on a free loopback port and round-trips QoS 1 and a retained message', async () => {
    const broker = await startBroker();
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(broker.running).toBe(true);

    const sub = await client(broker.url);
    await sub.subscribeAsync('t/qos1', { qos: 1 });
    const pub = await client(broker.url);
    const received = nextMessage(sub, 't/qos1');
    // For QoS 1, publishAsync resolves only on the broker's PUBACK.
    await pub.publishAsync('t/qos1', 'hello', { qos: 1 });
    expect(await received).toEqual({ payload: 'hello', retain: false, qos: 1 });

    await pub.publishAsync('t/state', '{"online":true}', { qos: 1, retain: true });
    const late = await client(broker.url);
    const retained = nextMessage(late, 't/state');
    await late.subscribeAsync('t/state', { qos: 1 });
    expect(await retained).toEqual({ payload: '{"online":true}', retain: true, qos: 1 });
  });

  it('queues thousands of QoS 1 messages for an offline persistent subscriber (beyond the default 1000)', async () => {
    const broker = await startBroker();
    const sub = await client(broker.url, { clientId: 'province', clean: false });
    await sub.subscribeAsync('q/#', { qos: 1 });
    await sub.endAsync();
    const pub = await client(broker.url);
    const n = 3000;
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync('q/records', String(i), { qos: 1 })));

    const seen = new Set<string>();
    const back = connect(broker.url, { clientId: 'province', clean: false, reconnectPeriod: 0, manualConnect: true });
    clients.push(back);
    back.on('error', () => undefined);
    back.on('message', (_topic, payload) => seen.add(payload.toString()));
    back.connect();
    await waitUntil(() => seen.size === n, `all ${n} queued messages (got ${seen.size})`, { timeoutMs: 10_000 });
  });

  it('restarts on the same port; a client reconnects to the same url', async () => {
    const broker = await startBroker();
    const { port, url } = broker;
    const firstPid = broker.pid;
    let connects = 0;
    let closes = 0;
    const c = await client(url, { reconnectPeriod: 50 });
    c.on('connect', () => (connects += 1));
    c.on('close', () => (closes += 1));

    await broker.restart();
    expect(broker.port).toBe(port);
    expect(broker.url).toBe(url);
    expect(broker.pid).not.toBe(firstPid);
    expect(firstPid !== undefined && processAlive(firstPid)).toBe(false);
    await waitUntil(() => closes >= 1 && connects >= 1 && c.connected, 'the client to reconnect after the restart');
    await c.publishAsync('after/restart', 'x', { qos: 1 }); // resolves on the new broker's PUBACK

    // Stopped, then restarted: the same port again (the broker-down-for-a-while fault).
    await broker.stop();
    await waitUntil(() => !c.connected, 'the client to see the broker gone');
    await broker.restart();
    expect(broker.port).toBe(port);
    await waitUntil(() => c.connected, 'the client to reconnect once the broker is back');
  });

  it('stop() ends the process, frees the port, and is idempotent', async () => {
    const broker = await startBroker();
    const pid = broker.pid;
    expect(pid).toBeDefined();
    const c = await client(broker.url);
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    await Promise.all([broker.stop(), broker.stop()]);
    await broker.stop();
    await closed;
    expect(broker.running).toBe(false);
    expect(broker.pid).toBeUndefined();
    expect(processAlive(pid!)).toBe(false);
    expect(await accepts(broker.port)).toBe(false);
  });

  it('rejects with mosquitto’s own output when it exits early', async () => {
    await expect(startBroker({ extraConfig: ['no_such_option true'] })).rejects.toThrow(
      /exited early \(exit code \d+\).*\n.*Unknown configuration variable "no_such_option"/s,
    );

    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', () => resolve()));
    const { port } = squatter.address() as AddressInfo;
    try {
      await expect(startBroker({ port })).rejects.toThrow(/Address already in use/);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('rejects clearly when the binary is missing', async () => {
    expect(MosquittoBroker.available('/nonexistent/mosquitto')).toBe(false);
    await expect(MosquittoBroker.start({ binary: '/nonexistent/mosquitto' })).rejects.toThrow(/not installed.*apt-get install mosquitto/);
  });

  it('kills its broker when the owning process exits without stopping it', async () => {
    // A separate Node process (with tsx, as vitest would run it) that starts a broker and exits.
    const script = [
      "const { MosquittoBroker } = await import('./simulator/mosquitto.ts');",
      'const b = await MosquittoBroker.start();',
      'console.log(JSON.stringify({ pid: b.pid, port: b.port }));',
      'process.exit(0);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, err).toBe(0);
    const { pid, port } = JSON.parse(out) as { pid: number; port: number };
    await waitUntil(() => !processAlive(pid), `the orphaned mosquitto (pid ${pid}) to be gone`);
    expect(await accepts(port)).toBe(false);
  });
});
