import type { WallSource } from '../../bridge/time/wall-source.js';
import type { ManualTimers } from './manual-timers.js';

/** The machine's clocks moved by a test's ManualTimers: wall time from `startMs`, monotonic time from 0. */
export function manualWall(timers: ManualTimers, startMs = Date.parse('2026-03-02T01:00:00Z')): WallSource {
  return { wallMs: () => startMs + timers.now(), monoMs: () => timers.now(), ntpSynced: async () => undefined };
}
