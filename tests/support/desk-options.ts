import type { HonestyRules } from '../../bridge/desk/honesty.js';
import type { InvitationDeskOptions, OpenInvitation } from '../../bridge/desk/invitation-desk.js';
import { silentLogger } from '../../bridge/log.js';
import { Commits } from '../../bridge/store/commits.js';
import { openDatabase, type Db } from '../../bridge/store/database.js';
import { OpenInvitationStore } from '../../bridge/store/open-invitation-store.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { Settings } from '../../bridge/store/settings.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import { manualWall } from './manual-clock.js';
import { ManualTimers } from './manual-timers.js';

export const TIMEOUT_MS = 30_000;
export const REASON_MS = 15_000;
export const GRACE_MS = 10_000;
export const CATALOG: ReasonCatalog = { version: '2026.1', reasons: [{ code: 'R1', label: '等待太久' }, { code: 'R2', label: '态度不好' }] };
export const RULES: HonestyRules = { minPressMs: 800, strayWindowMs: 60_000, burstCount: 3, burstWindowMs: 600_000 };

/**
 * A desk's options for tests: its database (in memory, as the caller opened it) and commits as the
 * bridge wires them, its backstops on manual timers, ids UUIDv7-shaped (as the record layout wants)
 * and the same on every run; it sends nothing unless the caller says where to.
 */
export function deskOptions(db: Db, clock: TimeKeeper, timers: ManualTimers, commits = new Commits(db, clock, silentLogger)): InvitationDeskOptions {
  let ids = 0;
  return {
    identity: { terminalId: 'T-1', areaCode: '330106', hallCode: 'H-1', windowNo: '07' },
    outbox: new Outbox(db, clock),
    openStore: new OpenInvitationStore<OpenInvitation>(db),
    transaction: (fn) => commits.run(fn),
    settings: new Settings(db),
    clock,
    timers,
    newId: () => `0190f0a0-0000-7000-8000-${String(++ids).padStart(12, '0')}`,
    logger: silentLogger,
    timeoutMs: TIMEOUT_MS,
    graceMs: GRACE_MS,
    reasonTimeoutMs: REASON_MS,
    honesty: RULES,
    terminalReady: () => true,
    storageFull: () => false,
    selfTesting: () => false,
    reasonCatalog: () => CATALOG,
    sendInvite: () => undefined,
    sendCancel: () => undefined,
    sendPause: () => undefined,
  };
}

/**
 * A desk's parts for a unit test: manual timers, a clock on them, an in-memory database and its
 * commits, and the desk's options on these (deskOptions) with every invite and cancel it sends the
 * terminal noted in `sent` (`invite <inv>`, `cancel <inv>`).
 */
export function deskParts(): { timers: ManualTimers; clock: TimeKeeper; db: Db; commits: Commits; sent: string[]; options: InvitationDeskOptions } {
  const timers = new ManualTimers();
  const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
  const db = openDatabase(':memory:');
  const commits = new Commits(db, clock, silentLogger);
  const sent: string[] = [];
  const options: InvitationDeskOptions = {
    ...deskOptions(db, clock, timers, commits),
    sendInvite: (inv) => void sent.push(`invite ${inv}`),
    sendCancel: (inv) => void sent.push(`cancel ${inv}`),
  };
  return { timers, clock, db, commits, sent, options };
}
