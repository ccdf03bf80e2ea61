import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { BRIDGE_VERSION } from '../bridge/bridge.js';
import { parseConfig, type BridgeConfig } from '../bridge/config.js';
import { writeConfigFile } from '../bridge/config-file.js';
import { loadOrCreateSigningKey, publicKeyText, terminalKeyFile } from '../bridge/identity/terminal-key.js';
import { answerProblems, configFromAnswers, PROVISION_FIELDS, type Answers, type ProvisionField } from '../bridge/provision/fields.js';
import { givenPassword, PASSWORD_ON_ARGV, PasswordRefused, type GivenPassword } from '../bridge/provision/password.js';
import { askRunningService, defaultStatusFetch, type StatusFetch } from '../bridge/diagnose/running-service.js';
import { registerWithProvince } from '../bridge/provision/register.js';
import { loadOrCreatePairing, pairingFile } from '../bridge/terminal/pairing.js';
import { plaintextPasswordRisk } from '../bridge/uplink/mqtt-options.js';

export interface ProvisionOptions {
  config: string;
  force?: boolean;
  /** false: every answer comes from flags (scripted rollouts); a missing one is an error. */
  interactive: boolean;
  register: boolean;
  registerTimeoutSeconds: number;
  /** The field answers given as flags, by flag name. */
  answers: Answers;
  /** --password-file: the broker password, on the first line of this file. */
  passwordFile?: string | undefined;
  /** --allow-plaintext: a password over plain mqtt:// to another host is only warned about (a lab). */
  allowPlaintext?: boolean;
  /** Where HCP_MQTT_PASSWORD is read; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** How the running service is asked whether it runs (not registering beside it); default fetch. */
  statusFetch?: StatusFetch;
}

/** Exit codes: 2 no config written (bad input, or a path it cannot write), 3 written but not registered. */
export async function provisionCommand(options: ProvisionOptions): Promise<void> {
  if (existsSync(options.config) && !options.force) {
    fail(`${options.config} exists: this terminal is provisioned already. Give --force to replace it (the old file is kept as ${options.config}.bak)`);
  }
  if (options.answers.password !== undefined) fail(`--password is refused: ${PASSWORD_ON_ARGV}`);
  const answers = { ...options.answers };
  const password = passwordFromFileOrEnv(options);
  if (password) answers.password = password.password;
  if (options.interactive) await ask(answers);
  const problems = answerProblems(answers);
  if (problems.length > 0) fail(`cannot provision:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const config = parseConfig(configFromAnswers(answers), 'the answers');
  const plaintext = plaintextPasswordRisk(config.mqtt);
  if (plaintext && !options.allowPlaintext) fail(`--broker-url: ${plaintext}. Only for a lab broker: --allow-plaintext`);
  if (plaintext) console.error(`hcp provision: WARNING (--allow-plaintext): ${plaintext}`);

  // Every folder and the key before the config file: a run that fails has written no config,
  // so "nothing written" is true and the next run is not refused as provisioned already.
  const keyFile = terminalKeyFile(config);
  step('-c', 'make the folder', dirname(options.config), () => mkdirSync(dirname(options.config), { recursive: true }));
  step('--database', 'make the folder', dirname(config.database.path), () => mkdirSync(dirname(config.database.path), { recursive: true }));
  const key = step('--database', "make the terminal's key (kept beside the database)", keyFile, () => loadOrCreateSigningKey(keyFile));
  const onlyKey = `; no config written${key.created ? `, only the terminal's key ${keyFile} (the next run keeps it)` : ''}`;
  const passwordFile = resolve(dirname(options.config), PASSWORD_FILE_NAME);
  step('-c', 'write', options.config, () => {
    if (existsSync(options.config)) copyFileSync(options.config, `${options.config}.bak`);
    // The password in a file of its own: the config, shown around or rewritten by update-config, holds no secret.
    if (config.mqtt.password === undefined) rmSync(passwordFile, { force: true });
    else writeConfigFile(passwordFile, `${config.mqtt.password}\n`);
    const header = `# ${config.terminal.id}: written by hcp provision ${BRIDGE_VERSION} on ${new Date().toISOString()}.\n# Every setting is explained in docs/bridge.example.yaml.\n`;
    writeConfigFile(options.config, header + stringify(passwordApart(configFromAnswers(answers), passwordFile)));
  }, onlyKey);
  // The key the terminal line is authenticated with (docs/technician.md, pairing): made now, the
  // terminal pinned when it first takes it. A failure here is not fatal: the bridge makes it at start.
  const pairingPath = pairingFile(config);
  const pairing = step('--database', 'make the pairing key for the terminal line', pairingPath, () => loadOrCreatePairing(pairingPath), '; the config is written (the bridge makes the pairing key at its first start)');
  const publicKey = publicKeyText(key.publicKey);

  const report = [
    `Provisioned terminal ${config.terminal.id}: area ${config.terminal.areaCode}, hall ${config.terminal.hallCode}, window ${config.terminal.windowNo}`,
    `  config      ${options.config} (mode 600)`,
    `  terminal    ${terminalLine(config)}`,
    `  printer     ${config.printer ? `${config.printer.path}, ${config.printer.profile.columns} columns` : 'none'}`,
    `  broker      ${config.mqtt.url}${config.mqtt.username ? ` as ${config.mqtt.username}` : ''}${config.mqtt.tls ? ' (TLS files set)' : ''}${config.mqtt.password === undefined ? '' : `, password from ${password?.from ?? 'the prompt'} kept in ${passwordFile} (mode 600)`}${plaintext ? ' — UNENCRYPTED' : ''}`,
    `  key         ${keyFile} (${key.created ? 'made now' : 'kept: it was there'})`,
    `  public key  ${publicKey}`,
    `  pairing     ${pairingPath} (${pairing.serial === null ? 'no terminal yet: the first to answer on the line takes the key and is pinned' : `kept: paired with ${pairing.serial}`})`,
  ];
  let registered = true;
  const service = options.register ? await askRunningService(config, { fetch: options.statusFetch ?? defaultStatusFetch, timeoutMs: 2000 }) : undefined;
  if (service?.running === true) {
    // Its account connecting a second time would take over the running service's broker session.
    registered = false;
    report.push(
      `  province    NOT contacted: this terminal's service is running (${service.apiUrl}), and registering with its account would throw it off the broker`,
      '              fix: `sudo systemctl restart hcp-bridge`: the service announces the terminal and its key to the province as it connects, on the new config',
    );
  } else if (options.register) {
    const outcome = await registerWithProvince(
      config,
      { at: new Date().toISOString(), publicKey, areaCode: config.terminal.areaCode, hallCode: config.terminal.hallCode, windowNo: config.terminal.windowNo, bridge: BRIDGE_VERSION },
      options.registerTimeoutSeconds * 1000,
    );
    registered = outcome.ok;
    report.push(
      outcome.ok
        ? `  province    registered; config received in ${outcome.waitedMs} ms${outcome.config.reasonCatalog ? ` (reason catalogue ${outcome.config.reasonCatalog.version}, ${outcome.config.reasonCatalog.reasons.length} reasons)` : ''}`
        : `  province    NOT registered: ${outcome.reason}\n              fix: ${outcome.fix}`,
    );
  } else {
    report.push('  province    not contacted (--no-register)');
  }
  report.push(
    '',
    'Next:',
    `  hcp doctor -c ${options.config}          # every part, with fixes`,
    `  hcp selftest -c ${options.config}        # buttons, LEDs, buzzer, printer, province`,
    '  sudo systemctl enable --now hcp-bridge',
  );
  console.log(report.join('\n'));
  if (!registered) process.exitCode = 3;
}

/** How the terminal is reached, for the report: its serial line, or the board and its pins. */
function terminalLine(config: BridgeConfig): string {
  const { board } = config;
  if (!board) return config.serial?.path ?? '';
  const { pins } = board;
  const wiring = `buttons ${pins.buttons.join(',')}, LEDs ${pins.leds.join(',')}${pins.buzzer === undefined ? '' : `, buzzer ${pins.buzzer}`}`;
  return board.io === 'firmata' ? `Arduino at ${board.path}: ${wiring}` : `the Pi's GPIO (chip ${board.chip}, BCM numbers, ${board.bias}): ${wiring}`;
}

/** Beside the config: where the bridge reads the broker password (mqtt.passwordFile). */
const PASSWORD_FILE_NAME = 'mqtt-password';

/** The config as written: its broker password replaced by mqtt.passwordFile, the file that holds it. */
function passwordApart(config: Record<string, unknown>, file: string): Record<string, unknown> {
  const { password, ...mqtt } = config.mqtt as Record<string, unknown>;
  return password === undefined ? config : { ...config, mqtt: { ...mqtt, passwordFile: file } };
}

/** The password from --password-file or HCP_MQTT_PASSWORD, if given; a bad one ends the run (exit 2). */
function passwordFromFileOrEnv(options: ProvisionOptions): GivenPassword | undefined {
  try {
    return givenPassword({ file: options.passwordFile, env: options.env ?? process.env });
  } catch (err) {
    if (err instanceof PasswordRefused) fail(err.message);
    throw err;
  }
}

/** Asks for every field not given as a flag, checking each answer as it comes. */
async function ask(answers: Answers): Promise<void> {
  const muted = new MutableOutput();
  const rl = createInterface({ input: process.stdin, output: muted, terminal: process.stdin.isTTY });
  // Lines are taken from an iterator, which buffers them: answers piped in all at once (a
  // script) are not lost between two questions.
  const lines = rl[Symbol.asyncIterator]();
  try {
    for (const field of PROVISION_FIELDS) {
      if (answers[field.flag] !== undefined) continue;
      if (field.when && !field.when(answers)) continue;
      answers[field.flag] = await askOne(lines, muted, field, answers);
    }
  } finally {
    rl.close();
  }
}

async function askOne(lines: AsyncIterator<string>, output: MutableOutput, field: ProvisionField, answers: Answers): Promise<string> {
  for (;;) {
    const hint = field.default ? ` [${field.default}]` : field.optional ? ' (optional)' : '';
    process.stdout.write(`${field.ask}${hint}: `);
    output.muted = field.secret === true;
    const line = await lines.next();
    output.muted = false;
    if (line.done) fail(`input ended before every answer was given (next: --${field.flag}); give the rest as flags`);
    const typed = String(line.value).trim();
    if (field.secret) process.stdout.write('\n');
    const answer = typed === '' ? (field.default ?? '') : typed;
    if (answer === '' && !field.optional) {
      console.log('  required');
      continue;
    }
    const problems = answerProblems({ ...answers, [field.flag]: answer }, field);
    if (problems.length === 0) return answer;
    for (const problem of problems) console.log(`  ${problem}`);
  }
}

/** stdout for readline, silent while a secret is typed. */
class MutableOutput extends Writable {
  muted = false;
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    if (!this.muted) process.stdout.write(chunk);
    callback();
  }
}

/** Why a file or folder could not be written, with what to do, by the system's error code. */
const WRITE_FAILURES: Record<string, string> = {
  EACCES: 'permission denied: run it with sudo, or give a path you may write',
  EPERM: 'permission denied: run it with sudo, or give a path you may write',
  EROFS: 'the file system is read-only: give a path on a writable disk',
  ENOTDIR: 'a file is in the way, not a folder: give another path, or move the file',
  EEXIST: 'a file is in the way, not a folder: give another path, or move the file',
  ENOSPC: 'the disk is full',
};

/** One writing step of provision; a failure names the flag whose path it was, and says what was written. */
function step<T>(flag: string, what: string, path: string, run: () => T, written = '; nothing written'): T {
  try {
    return run();
  } catch (err) {
    const why = WRITE_FAILURES[(err as NodeJS.ErrnoException).code ?? ''] ?? (err as Error).message;
    fail(`${flag}: cannot ${what} ${path}: ${why}${written}`);
  }
}

function fail(message: string): never {
  console.error(`hcp provision: ${message}`);
  process.exit(2);
}
