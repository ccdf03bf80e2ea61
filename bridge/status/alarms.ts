import { ALARM_CODES, type Alarm } from '../../protocol/alarms.js';
import type { PrinterCondition } from '../../protocol/printer.js';

/** What the alarms are decided from: a few facts out of the bridge's status. */
export interface AlarmFacts {
  terminalAlive: boolean;
  /** A device other than the paired one answered on the terminal line (until re-paired). */
  terminalReplaced: boolean;
  brokerConnected: boolean;
  clockSynced: boolean;
  storageFull: boolean;
  /** SQLite's code while commits are failing (full disk, I/O error, read-only); null when they succeed. */
  storageFault: string | null;
  quarantined: number;
  /** The receipt printer's condition; null without a printer. */
  printer: PrinterCondition | null;
  /** Voice prompts are configured and the last one could not be played (no sound device, a player error). */
  soundFault: boolean;
}

/** One rule per alarm code: a new code in protocol/alarms.ts does not compile without its rule. */
const RULES: Record<Alarm, (facts: AlarmFacts) => boolean> = {
  terminal_offline: (f) => !f.terminalAlive,
  terminal_replaced: (f) => f.terminalReplaced,
  broker_offline: (f) => !f.brokerConnected,
  clock_unsynced: (f) => !f.clockSynced,
  storage_full: (f) => f.storageFull || f.storageFault === 'SQLITE_FULL',
  storage_error: (f) => f.storageFault !== null && f.storageFault !== 'SQLITE_FULL',
  records_quarantined: (f) => f.quarantined > 0,
  printer_offline: (f) => f.printer === 'offline' || f.printer === 'disconnected',
  printer_paper_out: (f) => f.printer === 'paper_out',
  printer_paper_low: (f) => f.printer === 'paper_low',
  printer_cover_open: (f) => f.printer === 'cover_open',
  sound_device: (f) => f.soundFault,
};

/** The alarms raised by these facts, in the order of protocol/alarms.ts. */
export function alarms(facts: AlarmFacts): Alarm[] {
  return ALARM_CODES.filter((code) => RULES[code](facts));
}
