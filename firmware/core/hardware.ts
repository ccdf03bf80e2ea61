import type { Timers } from '../../protocol/timers.js';

/** What the terminal core needs from the board it runs on. Adapters: johnny-five, Espruino, simulator. */
export interface TerminalHardware {
  /** Lights exactly the LEDs whose entry is true (one per button: BUTTON_COUNT, protocol/grades.ts). */
  setLeds(pattern: readonly boolean[]): void;
  /** Sounds the buzzer for a moment. */
  beep(ms: number): void;
  /**
   * Plays spoken prompt `clip` (protocol/voice-prompts.ts) on the terminal's own sound module, if
   * it has one: a terminal without it acknowledges the bridge's `say` and stays silent.
   */
  play?(clip: number): void;
  /** Writes one encoded frame to the serial line. */
  write(frame: string): void;
  /** Monotonic time and timers. */
  timers: Timers;
  /**
   * Non-volatile memory for reports not yet acknowledged (flash on an MCU, a file on a Pi), so
   * that a reset between a press and its acknowledgement does not lose the rating. Optional: a
   * terminal without one loses such reports on reset.
   */
  journal?: ReportJournal;
}

/** Unacknowledged reports, kept across resets. Entries are JSON texts of reports. */
export interface ReportJournal {
  load(): string[];
  save(entries: readonly string[]): void;
}

/** The pairing key (64 lower-case hex digits) in non-volatile memory; null while unpaired. */
export interface KeyStore {
  loadKey(): string | null;
  saveKey(key: string): void;
}
