import { statfsSync } from 'node:fs';
import { loadConfigFile, type BridgeConfig } from '../config.js';
import { spawnTool, type SpawnTool } from '../../firmware/adapters/gpio/gpiod-tools.js';
import { checkGpioLines } from '../terminal/gpio-probe.js';
import { checkBoardTerminal, checkGpioTerminal, checkTerminal, type BoardProbeDeps, type GpioTerminalProbeDeps } from '../terminal/probe.js';
import { openSystemSerialPort } from '../terminal/board-terminal.js';
import { checkPrinter } from '../printer/probe.js';
import { checkDatabase, checkDisk, defaultDatabaseDeps, type DatabaseDeps } from '../store/probe.js';
import { checkClock } from '../time/probe.js';
import { timedatectlSynced } from '../time/wall-source.js';
import { checkPorts, defaultPresenceDeps, openSerialProbe } from '../transport/probe.js';
import type { PresenceDeps } from '../transport/transport.js';
import type { OpenSerialPort } from '../transport/transport.js';
import { checkBrokerTransport, checkUplink, defaultConnect, type BrokerDeps } from '../uplink/probe.js';
import { checkScreen, type ScreenProbeDeps } from '../screen/probe.js';
import { checkVoice, type VoiceProbeDeps } from '../voice/probe.js';
import { fail, type CheckResult } from './check.js';
import { checkConfig } from './config-probe.js';
import { askRunningService, defaultStatusFetch, type StatusFetch } from './running-service.js';

/**
 * `hcp doctor`: every part's probe, run against a config. Meant for a stopped service; while it
 * runs, the ports it holds are reported busy and the broker is seen through its status.
 */
export interface DoctorDeps {
  loadConfig: (path: string) => BridgeConfig;
  ports: PresenceDeps;
  openPort: OpenSerialPort;
  /** For a terminal on an Arduino (config `board`, io firmata). */
  openArduinoPort: BoardProbeDeps['openSerialPort'];
  /** For a terminal on the Pi's GPIO (board.io gpio): runs the gpiod tools (gpioset --version, gpiodetect, gpioinfo). */
  gpioTools: SpawnTool;
  /** The GPIO lines the terminal is started on (default: the gpiod tools). */
  gpioLines?: GpioTerminalProbeDeps['lines'];
  connect: BrokerDeps['connect'];
  /** Asks the running service's HTTP API for its status (is it running, is its uplink connected). */
  statusFetch: StatusFetch;
  ntpSynced: () => Promise<boolean | undefined>;
  database: DatabaseDeps;
  statfs: (path: string) => { bavail: number; bsize: number };
  /** The customer screen's port and pairings (default: a real listen, the bridge's database). */
  screen?: ScreenProbeDeps;
  /** The voice's aplay and espeak-ng (default: the real programs). */
  voice?: VoiceProbeDeps;
}

export const defaultDoctorDeps: DoctorDeps = {
  loadConfig: loadConfigFile,
  ports: defaultPresenceDeps,
  openPort: openSerialProbe,
  openArduinoPort: openSystemSerialPort,
  gpioTools: spawnTool,
  connect: defaultConnect,
  statusFetch: defaultStatusFetch,
  ntpSynced: timedatectlSynced,
  database: defaultDatabaseDeps,
  statfs: statfsSync,
};

/** Runs every check; the results come in a fixed order whatever order they finish in. */
export async function runDoctor(configPath: string, timeoutMs: number, deps: DoctorDeps = defaultDoctorDeps): Promise<CheckResult[]> {
  const { result, config } = checkConfig(configPath, deps.loadConfig);
  if (!config) return [result];
  const { board } = config;
  // The Pi's GPIO has no port: its line says what the gpiod tools find of the chip and the lines.
  const ports = [...(board?.io === 'gpio' ? [await checkGpioLines(board, { spawn: deps.gpioTools, timeoutMs })] : []), ...(await checkPorts(config, deps.ports))];
  // Held by our own tools (the service running) is a warning on the GPIO line, and the terminal check says more.
  const terminalPortPresent = board?.io === 'gpio' ? ports[0]?.level !== 'fail' : ports[0]?.level === 'ok';
  const printerPortPresent = ports[1]?.level === 'ok';
  const service = askRunningService(config, { fetch: deps.statusFetch, timeoutMs: Math.min(timeoutMs, 3000) });
  const [terminal, broker, clock, printer, screen, voice] = await Promise.all([
    terminalPortPresent
      ? board?.io === 'firmata'
        ? checkBoardTerminal(config, { openSerialPort: deps.openArduinoPort, timeoutMs })
        : board?.io === 'gpio'
          ? checkGpioTerminal(config, { ...(deps.gpioLines && { lines: deps.gpioLines }), timeoutMs })
          : checkTerminal(config, { openPort: deps.openPort, timeoutMs })
      : Promise.resolve(fail('terminal', 'not asked: its port is missing', ['fix the terminal port first'])),
    service.then((answer) => checkUplink(config, answer, { connect: deps.connect, timeoutMs })),
    checkClock(deps.ntpSynced),
    config.printer && !printerPortPresent
      ? Promise.resolve(fail('printer', 'not asked: its port is missing', ['fix the printer port first']))
      : checkPrinter(config, { openPort: deps.openPort, timeoutMs: Math.min(timeoutMs, Math.max(config.printer?.statusTimeoutMs ?? 0, 2000)) }),
    service.then((answer) => checkScreen(config, answer, deps.screen)),
    checkVoice(config, deps.voice),
  ]);
  const transport = checkBrokerTransport(config);
  const results = [result, ...ports, terminal, broker, ...(transport ? [transport] : []), clock, checkDatabase(config, deps.database), checkDisk(config, deps.statfs)];
  if (printer) results.push(printer);
  results.push(...screen, ...voice);
  return results;
}
