import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BridgeEvents } from '../../bridge/bridge-events.js';
import type { BridgeConfig } from '../../bridge/config.js';
import type { ServiceAnswer } from '../../bridge/diagnose/running-service.js';
import { screenConfigSchema } from '../../bridge/screen/config.js';
import { CustomerScreen, SCREEN_RETRY_MS } from '../../bridge/screen/customer-screen.js';
import { checkScreen, defaultScreenProbeDeps, type ScreenProbeDeps } from '../../bridge/screen/probe.js';
import { pairingsIn } from '../../bridge/screen/screen-pairing.js';
import { StaffCards } from '../../bridge/screen/staff-cards.js';
import { openDatabase } from '../../bridge/store/database.js';
import type { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { waitUntil } from '../../simulator/wait.js';
import { ManualTimers } from '../support/manual-timers.js';

/**
 * The customer screen is an extra: a port another program holds does not stop the bridge. The
 * screen says why, tries again on the bridge's timers (manual here) and comes up once the port is
 * free. And doctor's lines for it (bridge/screen/probe.ts).
 */

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** Another program on a port of this machine. */
async function holdPort(): Promise<{ port: number; free(): Promise<void> }> {
  const holder = createServer((_req, res) => res.end('another program'));
  servers.push(holder);
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as { port: number };
  return { port, free: () => new Promise<void>((resolve) => holder.close(() => resolve())) };
}

const config = (screen: object = {}): BridgeConfig =>
  ({
    terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H1', hallName: '市民中心', windowNo: '3' },
    database: { path: '/nonexistent/hcp.db' },
    screen: screenConfigSchema.parse(screen),
  }) as unknown as BridgeConfig;

function customerScreen(port: number): { screen: CustomerScreen; timers: ManualTimers; logged: Array<{ level: number; msg: string }> } {
  const timers = new ManualTimers();
  const logged: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (logged.push(JSON.parse(chunk.toString('utf8')) as { level: number; msg: string }), done()) }));
  const map = new Map<string, string>();
  const settings = { get: (key: string) => map.get(key), set: (key: string, value: string | null) => void (value === null ? map.delete(key) : map.set(key, value)) };
  const refuse = (): never => {
    throw new Error('not called');
  };
  const cfg = config({ port });
  const screen = new CustomerScreen(
    {
      events: new EventEmitter<BridgeEvents>(),
      config: cfg,
      timers,
      clock: { now: () => new Date('2026-11-30T10:00:00Z') } as TimeKeeper,
      logger,
      receipts: undefined,
      desk: { current: () => undefined, staffId: null, paused: false, screenPress: refuse, screenReason: refuse },
      staffCards: new StaffCards({ settings, roster: () => null, stars: () => null }),
      settings,
      transaction: (fn) => fn(),
    },
    cfg.screen!,
  );
  return { screen, timers, logged };
}

describe('the customer screen when its port is taken', () => {
  it('starts without it, says why once, tries again every SCREEN_RETRY_MS on the injected timers, and serves once the port is free', async () => {
    const held = await holdPort();
    const { screen, timers, logged } = customerScreen(held.port);
    const armed = vi.spyOn(timers, 'setTimeout');
    await screen.start();
    const taken = `screen.port: 127.0.0.1:${held.port} is in use by another program (another hcp run?): stop it, or choose another port`;
    expect(screen.status()).toEqual({ configured: true, url: null, listenError: taken, following: 0, pairedTablets: 0 });
    expect(armed.mock.calls.map(([, ms]) => ms)).toEqual([SCREEN_RETRY_MS]);

    timers.advance(SCREEN_RETRY_MS - 1);
    expect(armed).toHaveBeenCalledTimes(1);
    timers.advance(1);
    await waitUntil(() => armed.mock.calls.length === 2, 'the second try to fail and arm the next');
    expect(logged.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([`customer screen not served: ${taken}. The bridge rates without it, and tries again every ${SCREEN_RETRY_MS / 1000} s`]);

    await held.free();
    timers.advance(SCREEN_RETRY_MS);
    await waitUntil(() => screen.status().configured && (screen.status() as { url: string | null }).url !== null, 'the screen to listen');
    expect(screen.status()).toEqual({ configured: true, url: `http://127.0.0.1:${held.port}/`, listenError: null, following: 0, pairedTablets: 0 });
    expect(logged.at(-1)?.msg).toBe('customer screen served at last: its address is free now');
    const meta = await fetch(`http://127.0.0.1:${held.port}/api/meta`);
    expect(meta.status).toBe(200);
    await screen.stop();
  });

  it('stopped while it waits to try again: no try is left armed', async () => {
    const held = await holdPort();
    const { screen, timers } = customerScreen(held.port);
    await screen.start();
    await screen.stop();
    expect(timers.advanceToNext()).toBe(false);
  });
});

describe("doctor's customer screen lines", () => {
  const notRunning: ServiceAnswer = { running: false, apiUrl: 'http://127.0.0.1:8080' };
  const running = (screen: object): ServiceAnswer => ({
    running: true,
    apiUrl: 'http://127.0.0.1:8080',
    status: { terminal: { id: 'T-1' }, broker: { connected: true, url: 'mqtt://x' }, screen: { configured: true, ...screen } },
  });
  const deps = (refused: string | null, paired?: number): ScreenProbeDeps => ({ tryListen: () => Promise.resolve(refused), pairedTablets: () => paired });
  const taken = 'screen.port: 127.0.0.1:8081 is in use by another program (another hcp run?): stop it, or choose another port';

  it('no screen section: no line', async () => {
    expect(await checkScreen({ ...config(), screen: undefined }, notRunning, deps(null))).toEqual([]);
  });

  it('a free port is fine; one held by another program fails with who holds it', async () => {
    expect(await checkScreen(config(), notRunning, deps(null))).toEqual([{ level: 'ok', name: 'customer screen', message: '127.0.0.1:8081 is free for the screen\'s page' }]);
    expect(await checkScreen(config(), notRunning, deps(taken))).toEqual([
      { level: 'fail', name: 'customer screen', message: taken, fix: ["see which program holds it: sudo ss -ltnp 'sport = :8081'", 'docs/customer-screen.md, "When its port is taken"'] },
    ]);
  });

  it("the running bridge's own screen is fine; a running bridge waiting for the port is said", async () => {
    const served: ScreenProbeDeps = { tryListen: () => Promise.reject(new Error('the port is not tried when the bridge serves it')), pairedTablets: () => undefined };
    expect(await checkScreen(config(), running({ url: 'http://127.0.0.1:8081/', listenError: null, pairedTablets: 0 }), served)).toEqual([
      { level: 'ok', name: 'customer screen', message: 'served by the running bridge at http://127.0.0.1:8081/' },
    ]);
    const [waiting] = await checkScreen(config(), running({ url: null, listenError: taken, pairedTablets: 0 }), deps(taken));
    expect(waiting?.level).toBe('fail');
    expect(waiting?.fix).toContain(`meanwhile the running bridge rates without its screen and tries again every ${SCREEN_RETRY_MS / 1000} s`);
    const [freed] = await checkScreen(config(), running({ url: null, listenError: taken, pairedTablets: 0 }), deps(null));
    expect(freed).toMatchObject({ level: 'warn', message: expect.stringContaining('127.0.0.1:8081 is free now') as unknown });
  });

  it('a screen served to the LAN with no tablet paired is a warning: pair one, or keep it on loopback', async () => {
    const lan = config({ host: '0.0.0.0' });
    const [, none] = await checkScreen(lan, notRunning, deps(null, 0));
    expect(none).toEqual({
      level: 'warn',
      name: 'screen on the LAN',
      message: "screen.host 0.0.0.0 serves the screen to the window's LAN, but no tablet is paired: none can rate there",
      fix: ['pair the tablet on the Pi: sudo -u hcp hcp screen pair --config <config> (docs/customer-screen.md)', "or, for the Pi's own touchscreen only, set screen.host: 127.0.0.1"],
    });
    // The running bridge's count first, then the database's.
    expect((await checkScreen(lan, running({ url: 'http://0.0.0.0:8081/', pairedTablets: 2 }), deps(null, 0)))[1]).toMatchObject({ level: 'ok', message: expect.stringContaining('2 tablet(s) paired') as unknown });
    expect((await checkScreen(lan, notRunning, deps(null, undefined)))[1]).toMatchObject({ level: 'ok', message: expect.stringContaining('tablets rate once paired') as unknown });
    expect(await checkScreen(config({ host: 'localhost' }), notRunning, deps(null, 0))).toHaveLength(1);
  });

  it('the real probe: a listen at the address and the database the pairings are in', async () => {
    const held = await holdPort();
    expect(await defaultScreenProbeDeps.tryListen({ host: '127.0.0.1', port: held.port })).toBe(`screen.port: 127.0.0.1:${held.port} is in use by another program (another hcp run?): stop it, or choose another port`);
    await held.free();
    expect(await defaultScreenProbeDeps.tryListen({ host: '127.0.0.1', port: held.port })).toBeNull();
    // Free again afterwards: the probe let go of it.
    expect(await defaultScreenProbeDeps.tryListen({ host: '127.0.0.1', port: held.port })).toBeNull();

    const dir = mkdtempSync(join(tmpdir(), 'hcp-screen-probe-'));
    try {
      const path = join(dir, 'hcp.db');
      expect(defaultScreenProbeDeps.pairedTablets(path)).toBeUndefined();
      const db = openDatabase(path);
      const pairing = pairingsIn(db);
      expect(pairing.redeem(pairing.offer().code).ok).toBe(true);
      db.close();
      expect(defaultScreenProbeDeps.pairedTablets(path)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
