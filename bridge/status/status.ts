import type { Alarm } from '../../protocol/alarms.js';
import type { GradeCodeProfileName } from '../../protocol/grades.js';
import type { BridgeConfig } from '../config.js';
import type { TerminalLinkStatus } from '../terminal/terminal-link.js';
import type { DeskCounters, InvitationDesk, OpenInvitation } from '../desk/invitation-desk.js';
import type { ReceiptService, ReceiptStatus } from '../printer/receipt-service.js';
import type { GradeProfileStore } from '../province/grade-profile.js';
import type { ReasonCatalogStore } from '../province/reason-catalog.js';
import type { StaffRosterStore } from '../province/staff-roster.js';
import type { StaffSignIn, StaffVerification } from '../http/staff-sign-in.js';
import type { Outbox, OutboxCounts, QuarantinedEntry } from '../store/outbox.js';
import type { StorageStatus } from '../store/storage.js';
import type { TimeKeeper } from '../time/time-keeper.js';
import type { UplinkStatus } from '../uplink/uplink.js';
import type { VoiceStatus } from '../voice/voice-output.js';
import type { ScreenStatus } from '../screen/customer-screen.js';
import { alarms } from './alarms.js';
import type { Tally } from './tally.js';

/** The bridge's status: GET /api/v1/status, the `status` command, `hcp status`, telemetry. */
export interface BridgeStatus {
  terminal: { id: string; areaCode: string; hallCode: string; hallName: string | null; windowNo: string };
  alarms: Alarm[];
  staffId: string | null;
  /** Staff paused the window (暂停服务): no invitations until they resume it. */
  paused: boolean;
  /** What the buttons and the customer screen did that changed nothing: a second press, the terminal's answer to a screen rating. */
  presses: DeskCounters;
  invitation: OpenInvitation | null;
  /** The serial line to the terminal, and who answers on it. */
  link: TerminalLinkStatus;
  broker: UplinkStatus;
  backlog: OutboxCounts & { oldestPendingAgeMs: number | null; recentlyQuarantined: QuarantinedEntry[] };
  clock: { synced: boolean; trustedFrom: string | null; bootId: string; now: string };
  storage: StorageStatus;
  /** The province's bad-review reason catalogue in use, if it has sent one. */
  reasonCatalog: { version: string; reasons: number } | null;
  /**
   * The numbering records' grade codes are laid out with (a grade code profile), and whether the
   * province's config chose it or mqtt.gradeProfile. Named without "grade": the counter's
   * status carries no field about grades (tests/e2e/console.test.ts).
   */
  codeProfile: { name: GradeCodeProfileName; from: 'province' | 'config' };
  /**
   * How sign-ins are checked: by the province's roster, not at all (http.allowUnverifiedStaff, a
   * warning), or refused until a roster comes; and how many were refused for a wrong PIN or id.
   */
  staffSignIn: { verification: StaffVerification; roster: { version: string; staff: number } | null; failures: number };
  printer: (ReceiptStatus & { configured: true; publicKey: string }) | { configured: false };
  /** Spoken prompts: where they play, what became of them, the last error (docs/audio.md). */
  voice: VoiceStatus;
  /** The customer screen: where it is served (or why it cannot listen), pages following it, paired tablets. */
  screen: ScreenStatus;
  http: { rejected: Record<string, number> };
  versions: Record<string, string>;
}

/** Where the status is read from: the bridge's parts. */
export interface StatusSources {
  terminal: BridgeConfig['terminal'];
  desk: Pick<InvitationDesk, 'staffId' | 'current' | 'paused' | 'counters'>;
  link: { status(): TerminalLinkStatus };
  uplink: { status(): UplinkStatus };
  outbox: Pick<Outbox, 'stats' | 'quarantined'>;
  clock: TimeKeeper;
  storage(): StorageStatus;
  reasons: Pick<ReasonCatalogStore, 'current'>;
  gradeProfile: Pick<GradeProfileStore, 'current' | 'inEffect'>;
  roster: Pick<StaffRosterStore, 'current'>;
  staffSignIn: Pick<StaffSignIn, 'verification' | 'failures'>;
  /** The receipt printer and the public key its QR codes are signed for, when there is one. */
  printer: { receipts: Pick<ReceiptService, 'status'>; publicKey: string } | undefined;
  httpRejected: Tally;
  /** The voice, when it is configured. */
  voice: { status(): VoiceStatus } | undefined;
  /** The customer screen, when it is configured. */
  screen: { status(): ScreenStatus } | undefined;
  versions: Record<string, string>;
}

/** Reads every part once and decides the alarms from what it read. */
export function readStatus(src: StatusSources): BridgeStatus {
  const { terminal, clock } = src;
  const backlog = src.outbox.stats();
  const link = src.link.status();
  const broker = src.uplink.status();
  const storage = src.storage();
  const catalog = src.reasons.current();
  const roster = src.roster.current();
  const voice = src.voice?.status() ?? { configured: false as const };
  const printer = src.printer && { configured: true as const, publicKey: src.printer.publicKey, ...src.printer.receipts.status() };
  const now = clock.now();
  return {
    terminal: { id: terminal.id, areaCode: terminal.areaCode, hallCode: terminal.hallCode, hallName: terminal.hallName ?? null, windowNo: terminal.windowNo },
    alarms: alarms({
      terminalAlive: link.alive,
      terminalReplaced: link.pairing.replacedBy !== null,
      brokerConnected: broker.connected,
      clockSynced: clock.isSynced(),
      storageFull: storage.full,
      storageFault: storage.fault?.code ?? null,
      quarantined: backlog.quarantined,
      printer: printer?.condition ?? null,
      soundFault: voice.configured && voice.fault,
    }),
    staffId: src.desk.staffId,
    paused: src.desk.paused,
    presses: src.desk.counters,
    invitation: src.desk.current() ?? null,
    link,
    broker,
    backlog: {
      ...backlog,
      oldestPendingAgeMs: backlog.oldestPendingAt ? now.getTime() - Date.parse(backlog.oldestPendingAt) : null,
      recentlyQuarantined: src.outbox.quarantined(5),
    },
    clock: { synced: clock.isSynced(), trustedFrom: clock.trustedFrom, bootId: clock.bootId, now: now.toISOString() },
    storage,
    reasonCatalog: catalog ? { version: catalog.version, reasons: catalog.reasons.length } : null,
    codeProfile: { name: src.gradeProfile.inEffect(), from: src.gradeProfile.current() ? 'province' : 'config' },
    staffSignIn: {
      verification: src.staffSignIn.verification,
      roster: roster ? { version: roster.version, staff: roster.staff.length } : null,
      failures: src.staffSignIn.failures,
    },
    printer: printer ?? { configured: false },
    voice,
    screen: src.screen?.status() ?? { configured: false },
    http: { rejected: src.httpRejected.counts() },
    versions: src.versions,
  };
}
