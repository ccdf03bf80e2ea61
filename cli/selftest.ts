import { createInterface } from 'node:readline/promises';
import { Bridge } from '../bridge/bridge.js';
import { loadConfigFile, type BridgeConfig } from '../bridge/config.js';
import { createLogger } from '../bridge/log.js';
import { terminalOpener } from './run.js';
import { formatStep, type SelftestIO, type SelftestReport } from '../bridge/selftest/selftest.js';

export interface SelftestCommandOptions {
  config: string;
  /** No questions: the buttons, LEDs and buzzer are skipped (a scripted check of the rest). */
  unattended?: boolean;
  json?: boolean;
}

/**
 * `hcp selftest --config FILE`: runs the self-test at the counter, with the bridge service
 * stopped (this command is the bridge for a few minutes: same config, same database).
 */
export async function selftestCommand(options: SelftestCommandOptions): Promise<void> {
  const config = loadConfigFile(options.config);
  const running = await serviceAnswers(config);
  if (running) {
    console.error(`hcp: the bridge service answers on ${running}: stop it first (sudo systemctl stop hcp-bridge), run hcp selftest, then start it again`);
    process.exit(2);
  }
  const logger = createLogger('warn');
  const bridge = await Bridge.start(
    // Its own API port: the service's may be taken by something else, and nobody calls this one.
    { ...config, http: { ...config.http, host: '127.0.0.1', port: 0 } },
    { openPort: terminalOpener(config, logger), logger },
  );
  const console_ = options.json ? undefined : createInterface({ input: process.stdin, output: process.stdout });
  let report: SelftestReport;
  try {
    if (!options.json) console.log(`Self-test of terminal ${config.terminal.id}, window ${config.terminal.windowNo}. Answer y or n.\n`);
    report = await bridge.selftest(technicianConsole(console_, options.unattended ?? false), (step) => {
      if (!options.json) console.log(formatStep(step));
    });
  } finally {
    console_?.close();
    await bridge.stop();
  }
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const count = (outcome: string): number => report.steps.filter((s) => s.outcome === outcome).length;
    console.log(`\nSelf-test ${report.passed ? 'PASSED' : 'FAILED'}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
  }
  process.exitCode = report.passed ? 0 : 1;
}

/** The technician at the console; with no console (or unattended), nobody to ask. */
function technicianConsole(rl: ReturnType<typeof createInterface> | undefined, unattended: boolean): SelftestIO {
  if (!rl || unattended) return { say: () => {} };
  let closed = false;
  rl.once('close', () => (closed = true));
  return {
    say: (text) => console.log(`  → ${text}`),
    async confirm(question) {
      // Input ended (a script that ran out of answers): "no", rather than waiting for ever.
      if (closed) return false;
      const answer = await Promise.race([rl.question(`  ? ${question} [y/n] `), new Promise<string>((resolve) => rl.once('close', () => resolve('')))]);
      return /^\s*(y|yes|是|对)\s*$/i.test(answer);
    },
  };
}

/** Whether the bridge service is up on the config's API port: its URL, or undefined. */
export async function serviceAnswers(config: BridgeConfig): Promise<string | undefined> {
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
  try {
    await fetch(`${url}/api/v1/status`, { signal: AbortSignal.timeout(1000) });
    return url;
  } catch {
    return undefined;
  }
}
