import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { isLoopbackHost, type BridgeConfig } from '../config.js';
import { errorText, fail, ok, warn, type CheckResult } from '../diagnose/check.js';
import type { ServiceAnswer } from '../diagnose/running-service.js';
import { listenAt } from '../http/request-guard.js';
import { Settings } from '../store/settings.js';
import { SCREEN_RETRY_MS } from './customer-screen.js';
import { ScreenPairing } from './screen-pairing.js';

/**
 * What doctor reads of the running service's `screen` status block (bridge/status/status.ts),
 * checked at the boundary: a bridge older than the screen's status says nothing of it, and a block
 * that is not one is read as none (the rest of the status still counts).
 */
export const serviceScreenSchema = z
  .object({
    configured: z.boolean(),
    url: z.string().nullable().optional(),
    listenError: z.string().nullable().optional(),
    pairedTablets: z.number().int().min(0).optional(),
  })
  .optional()
  .catch(undefined);

export interface ScreenProbeDeps {
  /** Listens at the address and lets go at once: null when it could, else why not (a screen.* setting to fix). */
  tryListen(at: { host: string; port: number }): Promise<string | null>;
  /** The tablets paired in the bridge's database (screen.pairing), or undefined when it cannot be read. */
  pairedTablets(databasePath: string): number | undefined;
}

export const defaultScreenProbeDeps: ScreenProbeDeps = {
  async tryListen(at) {
    const server = createServer();
    try {
      await listenAt(server, at, 'screen');
    } catch (err) {
      return errorText(err);
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return null;
  },
  pairedTablets(path) {
    try {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      try {
        return new ScreenPairing({ settings: new Settings(db), transaction: (fn) => fn(), now: () => new Date() }).screens().length;
      } finally {
        db.close();
      }
    } catch {
      return undefined;
    }
  },
};

const FIND_HOLDER = (port: number): string => `see which program holds it: sudo ss -ltnp 'sport = :${port}'`;

/**
 * `hcp doctor`'s customer screen lines (none without a `screen` section): its port is free, or
 * served by this terminal's running bridge; and a screen served beyond this Pi (a non-loopback
 * screen.host) has tablets paired to use it, or it is open to the LAN for nothing.
 */
export async function checkScreen(config: BridgeConfig, service: ServiceAnswer, deps: ScreenProbeDeps = defaultScreenProbeDeps): Promise<CheckResult[]> {
  const { screen } = config;
  if (!screen) return [];
  const running = service.running === true ? service.status.screen : undefined;
  return [await checkPort(screen, running, deps), ...checkHost(screen, running?.pairedTablets ?? deps.pairedTablets(config.database.path))];
}

async function checkPort(screen: NonNullable<BridgeConfig['screen']>, running: z.infer<typeof serviceScreenSchema>, deps: ScreenProbeDeps): Promise<CheckResult> {
  const name = 'customer screen';
  if (running?.url) return ok(name, `served by the running bridge at ${running.url}`);
  const refused = await deps.tryListen(screen);
  const retrying = `the running bridge rates without its screen and tries again every ${SCREEN_RETRY_MS / 1000} s`;
  if (refused === null) {
    if (running?.listenError) return warn(name, `${screen.host}:${screen.port} is free now; ${retrying} (it said: ${running.listenError})`);
    return ok(name, `${screen.host}:${screen.port} is free for the screen's page`);
  }
  return fail(name, refused, [FIND_HOLDER(screen.port), ...(running?.listenError ? [`meanwhile ${retrying}`] : []), 'docs/customer-screen.md, "When its port is taken"']);
}

function checkHost(screen: NonNullable<BridgeConfig['screen']>, paired: number | undefined): CheckResult[] {
  if (isLoopbackHost(screen.host)) return [];
  const name = 'screen on the LAN';
  const served = `screen.host ${screen.host} serves the screen to the window's LAN`;
  const pair = 'pair the tablet on the Pi: sudo -u hcp hcp screen pair --config <config> (docs/customer-screen.md)';
  if (paired === undefined) return [ok(name, `${served}: tablets rate once paired (hcp screen list shows them)`)];
  if (paired === 0) return [warn(name, `${served}, but no tablet is paired: none can rate there`, [pair, "or, for the Pi's own touchscreen only, set screen.host: 127.0.0.1"])];
  return [ok(name, `${served}; ${paired} tablet(s) paired (hcp screen list)`)];
}
