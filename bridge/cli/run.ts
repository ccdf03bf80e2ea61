import { SerialPort } from 'serialport';
import { Bridge } from '../bridge.js';
import { loadConfigFile } from '../config.js';
import { createLogger } from '../log.js';
import type { SerialPortLike } from '../device/device-link.js';

/** `hcp run --config FILE`: one bridge against a real terminal, printer and broker. */
export async function runBridge(configPath: string): Promise<void> {
  const config = loadConfigFile(configPath);
  const logger = createLogger(config.log.level);
  const bridge = await Bridge.start(config, {
    openPort: (path, baudRate) => new SerialPort({ path, baudRate, autoOpen: false }) as SerialPortLike,
    logger,
  });
  logger.info({ http: bridge.httpUrl, terminal: config.terminal.id, serial: config.serial.path }, 'bridge started');
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
