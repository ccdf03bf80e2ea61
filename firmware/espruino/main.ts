/**
 * The terminal on an Espruino board: the platform-free core (firmware/core) wired to Espruino's
 * globals. Bundled into one file by build.ts (npm run build:espruino); see docs/espruino.md.
 *
 * It starts on E.on('init'): after uploading, type save() (which runs the init handlers) and the
 * board starts the terminal on every power-up from then on.
 */
// First, so that Map is in place before any other module body runs.
import './polyfills.js';
import type { Timers } from '../../protocol/timers.js';
import { BUTTON_COUNT } from '../../protocol/grades.js';
import type { KeyStore, TerminalHardware } from '../core/hardware.js';
import { TerminalCore } from '../core/terminal-core.js';
import { DFPLAYER_BAUD, dfplayerPlayFrame } from '../adapters/dfplayer.js';
import { board } from './board.js';
import { BUTTON_PINS, BUZZER_PIN, JOURNAL_FILE, JOURNAL_LIMIT, KEY_FILE, LED_PINS, SOUND_MODULE } from './config.js';
import type { EspruinoE, Pin, SerialPort, StorageModule } from './espruino.js';
import { JOURNAL_SLACK, storageJournal } from './storage-journal.js';

// ---- Espruino globals, declared here rather than globally (see espruino.d.ts) --------------------
// (The pins, the line and the chip id are the board port's: board.ts.)
declare const E: EspruinoE;
declare const Serial2: SerialPort;
/** Seconds since start (a float), unless someone calls setTime(). */
declare function getTime(): number;
/** Espruino's setTimeout/clearTimeout: numeric ids; clearing an unknown id throws. */
type EspruinoSetTimeout = (fn: () => void, ms: number) => number;
type EspruinoClearTimeout = (id: number) => void;

const FIRMWARE_SERIAL_PREFIX = 'espruino-';

/**
 * Timers on Espruino. Espruino's clearTimeout throws for an id that already fired (and with no
 * argument clears every timer), while the core clears timers freely: so live ids are tracked here
 * and only those are cleared.
 */
export function espruinoTimers(set: EspruinoSetTimeout, clear: EspruinoClearTimeout, seconds: () => number): Timers {
  const live: Record<string, true> = {};
  return {
    now: () => seconds() * 1000,
    setTimeout(fn, ms) {
      const id = set(() => {
        delete live[String(id)];
        fn();
      }, ms);
      live[String(id)] = true;
      return id;
    },
    clearTimeout(handle) {
      if (typeof handle !== 'number' || !live[String(handle)]) return;
      delete live[String(handle)];
      clear(handle);
    },
  };
}

/** The pairing key as a small JSON file in flash (written once per pairing). */
export function storageKeyStore(storage: StorageModule, file: string): KeyStore {
  return {
    loadKey() {
      const key = storage.readJSON(file, true);
      return typeof key === 'string' ? key : null;
    },
    saveKey(key) {
      storage.writeJSON(file, key);
    },
  };
}

/** 16 lowercase hex digits from the hardware random source. */
export function makeBootId(random32: () => number): string {
  let id = '';
  for (let i = 0; i < 2; i++) id += ('0000000' + (random32() >>> 0).toString(16)).slice(-8);
  return id;
}

function loadStorage(): StorageModule {
  // Espruino's built-in module loader; esbuild leaves it alone (Storage is marked external).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- not Node's require: there is no import on Espruino
  return require('Storage') as StorageModule;
}

let core: TerminalCore | undefined;

/** Sets up the pins and the line and starts the core; a second call (another init) does nothing. */
function start(): void {
  if (core) return;
  const timers = espruinoTimers(setTimeout as unknown as EspruinoSetTimeout, clearTimeout as unknown as EspruinoClearTimeout, getTime);
  const line = board.line();
  LED_PINS.forEach((pin) => board.out(pin, false));
  if (BUZZER_PIN !== undefined) board.out(BUZZER_PIN, false);
  let beepTimer: unknown;

  const hardware: TerminalHardware = {
    setLeds: (pattern) => {
      for (let i = 0; i < BUTTON_COUNT; i++) board.out(LED_PINS[i] as Pin, pattern[i] === true);
    },
    beep: (ms) => {
      const buzzer = BUZZER_PIN;
      if (buzzer === undefined) return;
      timers.clearTimeout(beepTimer); // a new beep restarts the tone rather than being cut short
      board.out(buzzer, true);
      beepTimer = timers.setTimeout(() => board.out(buzzer, false), ms);
    },
    write: (frame) => line.write(frame),
    timers,
  };
  if (JOURNAL_FILE !== undefined) hardware.journal = storageJournal(loadStorage(), JOURNAL_FILE, E.CRC32, JOURNAL_SLACK);
  if (SOUND_MODULE !== undefined) {
    Serial2.setup(DFPLAYER_BAUD, { tx: SOUND_MODULE.tx, rx: SOUND_MODULE.rx });
    hardware.play = (clip) => Serial2.write(dfplayerPlayFrame(clip));
  }

  const terminal = new TerminalCore(hardware, {
    serial: FIRMWARE_SERIAL_PREFIX + board.serial(),
    bootId: makeBootId(board.random32),
    keyStore: storageKeyStore(loadStorage(), KEY_FILE),
    journalLimit: JOURNAL_LIMIT,
  });
  core = terminal;

  BUTTON_PINS.forEach((pin, index) => board.watch(pin, (down) => terminal.buttonEdge(index, down)));
  line.on('data', (chunk: string) => terminal.receiveData(chunk));
  terminal.start();
}

E.on('init', start);
