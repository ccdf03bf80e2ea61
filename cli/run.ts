import { Bridge } from '../bridge/bridge.js';
import { loadConfigFile, terminalPort, type BridgeConfig } from '../bridge/config.js';
import type { OpenSerialPort } from '../bridge/terminal/terminal-link.js';
import { boardTerminalOpener, openSystemSerialPort } from '../bridge/terminal/board-terminal.js';
import { gpioTerminalOpener } from '../bridge/terminal/gpio-terminal.js';
import { createLogger, type Logger } from '../bridge/log.js';
import { plaintextPasswordRisk } from '../bridge/uplink/mqtt-options.js';

/** How the bridge reaches its terminal: a serial port, or (with a board) the terminal run here, on an Arduino or the Pi's own GPIO. */
export function terminalOpener(config: BridgeConfig, logger: Logger): OpenSerialPort {
  switch (config.board?.io) {
    case 'firmata':
      return boardTerminalOpener(config, { openSerialPort: openSystemSerialPort, logger });
    case 'gpio':
      return gpioTerminalOpener(config, { openSerialPort: openSystemSerialPort, logger });
    default:
      return openSystemSerialPort;
  }
}

/**
 * `hcp run --config FILE`: one bridge against a real terminal, printer and broker. When the
 * province changes the config file (update-config), the bridge is stopped and started again on it.
 */
export async function runBridge(configPath: string): Promise<void> {
  const stopSignal = untilSignal();
  for (;;) {
    const config = loadConfigFile(configPath);
    const logger = createLogger(config.log.level);
    const bridge = await Bridge.start(config, { openPort: terminalOpener(config, logger), logger, configFile: configPath });
    logger.info({ http: bridge.httpUrl, terminal: config.terminal.id, [config.board ? 'board' : 'serial']: terminalPort(config).path, ...(config.board && { io: config.board.io }) }, 'bridge started');
    const plaintext = plaintextPasswordRisk(config.mqtt);
    if (plaintext) logger.warn({ url: config.mqtt.url }, `INSECURE: ${plaintext}`);
    const restart = new Promise<string>((resolve) => bridge.once('restartRequested', resolve));
    const why = await Promise.race([stopSignal.then(() => undefined), restart]);
    logger.info(why ? { why } : {}, why ? 'restarting' : 'stopping');
    await bridge.stop();
    if (!why) return;
  }
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
