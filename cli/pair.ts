import { Bridge } from '../bridge/bridge.js';
import { loadConfigFile, terminalPort } from '../bridge/config.js';
import { nextEvent } from '../bridge/selftest/next-event.js';
import type { TerminalInfo } from '../bridge/terminal/terminal-link.js';
import { createLogger } from '../bridge/log.js';
import { pairingFile, readPairing, resetPairing } from '../bridge/terminal/pairing.js';
import { PAIRING_WINDOW_MS } from '../firmware/core/terminal-core.js';
import { hostTimers } from '../protocol/timers.js';
import { terminalOpener } from './run.js';
import { serviceAnswers } from './selftest.js';

export interface PairCommandOptions {
  config: string;
  timeoutSeconds: number;
}

/**
 * `hcp pair --config FILE`: re-pairs this bridge with the terminal on its line (a new terminal,
 * or after terminal_replaced), with the bridge service stopped. A new key replaces the old and no
 * terminal is pinned; then this command runs the bridge until a terminal takes the key and is
 * pinned (recorded as a `pairing` staff action), or the time is up. docs/technician.md.
 */
export async function pairCommand(options: PairCommandOptions): Promise<void> {
  const config = loadConfigFile(options.config);
  const running = await serviceAnswers(config);
  if (running) fail(`the bridge service answers on ${running}: stop it first (sudo systemctl stop hcp-bridge), run hcp pair, then start it again`, 2);
  const path = pairingFile(config);
  let before: string | null = null;
  try {
    before = readPairing(path).serial;
  } catch {
    // No pairing yet, or one unreadable: replaced either way.
  }
  resetPairing(path);
  const port = terminalPort(config).path;
  console.log(`New pairing key in ${path} (mode 600)${before ? `; ${before} is no longer paired` : ''}.`);
  console.log(`Waiting up to ${options.timeoutSeconds} s for the terminal on ${port} to take it.`);
  console.log(`A terminal paired before takes a new key only within ${PAIRING_WINDOW_MS / 1000} s of power-up: power it off and on now.`);

  const logger = createLogger('warn');
  // Its own API port: the service's may be taken by something else, and nobody calls this one.
  const bridge = await Bridge.start({ ...config, http: { ...config.http, host: '127.0.0.1', port: 0 } }, { openPort: terminalOpener(config, logger), logger });
  let serial: string | null;
  try {
    // Taken: the terminal the bridge pinned says hello and is served (its tagged hello accepted).
    const taken = (): string | null => {
      const { alive, pairing } = bridge.status().link;
      return alive ? pairing.serial : null;
    };
    serial = taken();
    if (serial === null) {
      const heard = await nextEvent<[TerminalInfo]>(hostTimers, bridge, 'terminal', options.timeoutSeconds * 1000, (info) => {
        const { pairing } = bridge.status().link;
        return pairing.serial !== null && pairing.serial === info.serial;
      });
      serial = heard ? heard[0].serial : null;
    }
  } finally {
    await bridge.stop();
  }
  if (serial === null) {
    fail(`no terminal took the key on ${port} within ${options.timeoutSeconds} s. Check the cable (hcp doctor), power the terminal off and on, and run hcp pair again. The new key stays; the service pairs the first terminal that takes it.`, 3);
  }
  console.log(`Paired with terminal ${serial}. Start the service again: sudo systemctl start hcp-bridge`);
}

function fail(message: string, code: number): never {
  console.error(`hcp pair: ${message}`);
  process.exit(code);
}
