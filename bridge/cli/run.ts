import { Bridge } from '../bridge.js';
import { loadConfigFile, terminalPort } from '../config.js';
import { boardTerminalOpener, openSystemSerialPort } from '../device/board-terminal.js';
import { createLogger } from '../log.js';

/** `hcp run --config FILE`: one bridge against a real terminal, printer and broker. */
export async function runBridge(configPath: string): Promise<void> {
  const config = loadConfigFile(configPath);
  const logger = createLogger(config.log.level);
  // With a board, this process runs the terminal itself, on the Arduino at board.path.
  const openPort = config.board ? boardTerminalOpener(config, { openSerialPort: openSystemSerialPort, logger }) : openSystemSerialPort;
  const bridge = await Bridge.start(config, { openPort, logger });
  logger.info({ http: bridge.httpUrl, terminal: config.terminal.id, [config.board ? 'board' : 'serial']: terminalPort(config).path }, 'bridge started');
  await untilSignal();
  logger.info('stopping');
  await bridge.stop();
}

export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
