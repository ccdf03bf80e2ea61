/**
 * The Espruino terminal's pin map and line settings (an Espruino Pico; change for another board).
 * Kept apart from main.ts so tests and tools can read it without running the firmware.
 */
import type { Pin } from './espruino.js';

/** Buttons left to right 非常满意 … 非常不满意, each to GND (the internal pull-up holds it high). */
export const BUTTON_PINS: readonly Pin[] = ['B3', 'B4', 'B5', 'B8', 'B9'];
/** The LED above each button, in the same order, each through a resistor to GND (high = lit). */
export const LED_PINS: readonly Pin[] = ['B15', 'B14', 'B13', 'B10', 'B1'];
/** An active buzzer (high = sound); undefined for none. */
export const BUZZER_PIN: Pin | undefined = 'A5';
/** Which line talks to the bridge: 'Serial1' (UART, console stays on USB) or 'USB'. */
export const LINE: 'Serial1' | 'USB' = 'Serial1';
export const LINE_BAUD = 115200;
/** Serial1 pins on the Pico: TX B6, RX B7 (cross them to the Pi's RX/TX, 3.3 V levels). */
export const SERIAL1_PINS = { tx: 'B6', rx: 'B7' } as const;
/** Flash file (Storage) keeping unacknowledged reports across a reset; undefined for none. */
export const JOURNAL_FILE: string | undefined = 'hcpjrnl';
/**
 * Reports held unacknowledged at most, in memory and in the journal (the core's journalLimit; the
 * oldest stray presses go first): on a Pico each costs ~30 of its 5,100 variables, and 64 (the
 * core's default) do not fit beside the program (docs/espruino.md, "Memory").
 */
export const JOURNAL_LIMIT = 32;
/** Flash file (Storage) keeping the pairing key; the board is unpaired while it is absent. */
export const KEY_FILE = 'hcpkey';
/**
 * A DFPlayer Mini sound module on Serial2 for the voice prompts (the bridge's voice.output:
 * terminal sends `say` frames; docs/audio.md): its UART pins, or undefined for a terminal without
 * one. On a Pico, Serial2 is TX A2, RX A3.
 */
export const SOUND_MODULE: { tx: Pin; rx: Pin } | undefined = undefined;
