#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError } from '../bridge/config.js';
import { DatabaseError } from '../bridge/store/database.js';
import { z } from 'zod';
import { PROVISION_FIELDS } from '../bridge/provision/fields.js';
import { PASSWORD_ENV, PASSWORD_ON_ARGV } from '../bridge/provision/password.js';
import { HCP_VERSION } from '../protocol/version.js';
import { flag, intFlag } from './flags.js';
import { addGatewayQrSignCommand } from './gateway-qr-sign.js';
import { deliveryStateSchema } from '../gateway/delivery/status.js';
import { roleSchema } from '../gateway/accounts/scope.js';

const camelCase = (flag: string): string => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

const program = new Command()
  .name('hcp')
  .description('好差评 counter evaluation terminal: bridge, simulator and field tools')
  .version(HCP_VERSION)
  .showHelpAfterError()
  .enablePositionalOptions();

program
  .command('start')
  .description('run a simulated service hall: virtual terminals and printers, bridges, embedded broker, the gateway on the embedded database')
  .option('-w, --windows <n>', 'number of service windows', intFlag(1, 50), 3)
  .option('--seed <n>', 'random seed for the scripted citizens and staff', intFlag(0, 2 ** 31), 1)
  .option('--duration <seconds>', 'stop after this long (0: run until Ctrl-C)', intFlag(0, 86_400), 0)
  .option('--timeout <seconds>', 'invitation timeout on the terminals', intFlag(1, 600), 12)
  .option('--broker-port <port>', 'embedded MQTT broker port (0: any free port)', intFlag(0, 65535), 0)
  .option('--http-port <port>', 'HTTP API port of window 1; window n gets port + n - 1 (0: any free port)', intFlag(0, 65535), 0)
  .option('--data-dir <dir>', 'where the bridges keep their databases (default: a temporary folder)')
  .option('--view-port <port>', 'port of the live hall view web page (0: any free port)', intFlag(0, 65535), 8090)
  .option('--dashboard-port <port>', "port of the managers' dashboard (0: any free port)", intFlag(0, 65535), 8472)
  .option('--screen-port <port>', "port of window 1's customer screen; window n gets port + n - 1 (0: any free port)", intFlag(0, 65535), 0)
  .action(async (options) => {
    const { startHallCommand } = await import('./start.js');
    await startHallCommand(options);
  });

program
  .command('run')
  .description('run one bridge against a real terminal and broker')
  .requiredOption('-c, --config <file>', 'bridge config file (YAML or JSON)')
  .action(async ({ config }: { config: string }) => {
    const { runBridge } = await import('./run.js');
    await runBridge(config);
  });

program
  .command('receipt')
  .description('render a sample case receipt (办件回执) as the paper shows it')
  .requiredOption('--preview', 'write a PNG preview (the only mode for now)')
  .option('-o, --out <file>', 'PNG file to write', 'receipt.png')
  .option('--columns <n>', 'paper width: 32 (58 mm) or 48 (80 mm)', flag(z.enum(['32', '48']).transform((v) => Number(v) as 32 | 48)), 32)
  .option('--qr <how>', 'native (GS ( k) or raster (GS v 0)', flag(z.enum(['native', 'raster'])), 'native')
  .option('--rated', 'as printed after the citizen rated at the counter (no grade is printed)', false)
  .option('--url <url>', 'evaluation page the QR points to', 'https://hcp.province.example/rate')
  .action(async (options) => {
    const { receiptPreviewCommand } = await import('./receipt.js');
    receiptPreviewCommand(options);
  });

program
  .command('status')
  .description("summarise the running bridge's status (GET /api/v1/status)")
  .option('--url <url>', "the bridge's HTTP API", 'http://127.0.0.1:8080')
  .option('--token <token>', 'the API token (http.token), if the bridge has one (or HCP_TOKEN)')
  .option('--json', 'print the raw status JSON')
  .action(async (options: { url: string; token?: string; json?: boolean }) => {
    const { statusCommand } = await import('./status.js');
    await statusCommand(options);
  });

program
  .command('doctor')
  .description("check a terminal setup, best with the service stopped (beside a running one, the broker is read from its status, not probed): config, serial ports, terminal, broker, clock, database, disk, printer")
  .requiredOption('-c, --config <file>', 'bridge config file (YAML or JSON)')
  .option('--timeout-seconds <n>', 'how long to wait for the terminal and the broker', intFlag(1, 120), 5)
  .action(async (options: { config: string; timeoutSeconds: number }) => {
    const { doctorCommand } = await import('./doctor.js');
    await doctorCommand(options);
  });

program
  .command('voice')
  .description('spoken prompts at the counter (docs/audio.md)')
  .command('build')
  .description("synthesize the default voice prompts with espeak-ng into the bridge's prompt cache (a hall's own recordings are left alone)")
  .option('-c, --config <file>', 'bridge config file (YAML or JSON): its voice settings and prompt cache (voice.cacheDir, or beside the database)')
  .option('--cache-dir <folder>', 'write the prompts here instead (with the default settings when no config is given, e.g. for a system image)')
  .action(async (options: { config?: string; cacheDir?: string }) => {
    const { voiceBuildCommand } = await import('./voice.js');
    await voiceBuildCommand(options);
  });

const provision = program
  .command('provision')
  .description("set up this terminal: write a checked config, make the terminal's key pair, register with the province")
  .option('-c, --config <file>', 'config file to write', '/etc/hcp/bridge.yaml')
  .option('--force', 'replace an existing config (kept as .bak)')
  .option('--non-interactive', 'ask nothing: every value comes from the flags (for scripted rollouts)')
  .option('--no-register', 'do not contact the province now')
  .option('--register-timeout-seconds <n>', "how long to wait for the province's config", intFlag(1, 600), 30)
  .option('--password-file <file>', `the broker password: a file holding it on one line (or set ${PASSWORD_ENV}, or type it at the prompt)`)
  .option('--allow-plaintext', 'accept a password over plain mqtt:// or ws:// to another machine (a lab broker only: anyone on the way reads it)');
// --password stays a flag only to be refused with what to do instead.
for (const field of PROVISION_FIELDS) provision.option(`--${field.flag} <value>`, field.secret ? `refused: ${PASSWORD_ON_ARGV}` : field.ask);
provision.action(async (options: Record<string, unknown>) => {
  const { provisionCommand } = await import('./provision.js');
  const answers = Object.fromEntries(
    PROVISION_FIELDS.flatMap((field) => {
      const value = options[camelCase(field.flag)];
      return typeof value === 'string' ? [[field.flag, value]] : [];
    }),
  );
  await provisionCommand({
    config: String(options.config),
    force: options.force === true,
    interactive: options.nonInteractive !== true,
    register: options.register !== false,
    registerTimeoutSeconds: Number(options.registerTimeoutSeconds),
    answers,
    passwordFile: typeof options.passwordFile === 'string' ? options.passwordFile : undefined,
    allowPlaintext: options.allowPlaintext === true,
  });
});

program
  .command('pair')
  .description('re-pair the bridge with the terminal on its line (bridge service stopped): a new key, the terminal that takes it pinned; after terminal_replaced or for a new terminal')
  .requiredOption('-c, --config <file>', 'bridge config file (YAML or JSON)')
  .option('--timeout-seconds <n>', 'how long to wait for the terminal to take the key', intFlag(5, 600), 120)
  .action(async (options: { config: string; timeoutSeconds: number }) => {
    const { pairCommand } = await import('./pair.js');
    await pairCommand(options);
  });

const screen = program.command('screen').description('the customer screen: pair a tablet on the window\'s LAN, list and revoke pairings (beside the running service; run as its user)');
for (const [name, description] of [
  ['pair', 'show a one-time code (6 digits, valid 5 minutes) a tablet enters to rate on this window\'s screen'],
  ['list', 'the paired tablets'],
] as const) {
  screen
    .command(name)
    .description(description)
    .requiredOption('-c, --config <file>', 'bridge config file (YAML or JSON)')
    .action(async (options: { config: string }) => {
      const commands = await import('./screen.js');
      (name === 'pair' ? commands.screenPairCommand : commands.screenListCommand)(options);
    });
}
screen
  .command('revoke')
  .argument('<id>', 'the tablet\'s id (hcp screen list), or all')
  .description('unpair a tablet: its screen asks for a code again')
  .requiredOption('-c, --config <file>', 'bridge config file (YAML or JSON)')
  .action(async (id: string, options: { config: string }) => {
    const { screenRevokeCommand } = await import('./screen.js');
    screenRevokeCommand(id, options);
  });

program
  .command('selftest')
  .description('self-test at the counter (bridge service stopped): buttons, LEDs, buzzer, test receipt, a test record to the province')
  .requiredOption('-c, --config <file>', 'bridge config file (YAML or JSON)')
  .option('--unattended', 'ask nothing: skip the buttons, LEDs and buzzer (they need a person)')
  .option('--json', 'print the report as JSON (implies --unattended)')
  .action(async (options: { config: string; unattended?: boolean; json?: boolean }) => {
    const { selftestCommand } = await import('./selftest.js');
    await selftestCommand(options);
  });

const gateway = program
  .command('gateway')
  .description('run the gateway: every terminal\'s records over MQTT (shared subscription) into PostgreSQL or the embedded database, acknowledged after the commit')
  .option('-c, --config <file>', 'gateway config file (YAML or JSON; see docs/gateway.md)')
  .action(async ({ config }: { config?: string }) => {
    if (config === undefined) return gateway.error('hcp gateway: --config <file> is required to run the gateway (or give a subcommand: see hcp gateway --help)');
    const { runGatewayCommand } = await import('./gateway.js');
    await runGatewayCommand(config);
  });
// `hcp gateway terminals list -c x`: the -c after a subcommand is the subcommand's, not the gateway's own.
gateway.passThroughOptions();

const adminOptions = (command: Command): Command =>
  command
    .option('-c, --config <file>', "the gateway's config: where its admin API listens (http.host, http.port) and the operator token (http.tokenFile)", '/etc/hcp/gateway.yaml')
    .option('--url <url>', "the admin API's URL instead of the config's (the token then from HCP_GATEWAY_TOKEN)")
    .option('--json', 'print the API answer as JSON');

adminOptions(gateway.command('status').description("every gateway instance's heartbeat and figures, from the running gateway's admin API")).action(
  async (options: { config: string; url?: string; json?: boolean }) => {
    const { gatewayStatusCommand } = await import('./gateway-admin.js');
    await gatewayStatusCommand(options);
  },
);

const gatewayTerminals = gateway.command('terminals').description('the terminals registered with the gateway: list, show, approve a key, revoke');
adminOptions(gatewayTerminals.command('list').description('every terminal: status, state, where, approved and pending key fingerprints'))
  .option('--status <status>', 'only pending, approved or revoked ones', flag(z.enum(['pending', 'approved', 'revoked'])))
  .action(async (options: { config: string; url?: string; json?: boolean; status?: string }) => {
    const { gatewayTerminalsListCommand } = await import('./gateway-admin.js');
    await gatewayTerminalsListCommand(options);
  });
adminOptions(gatewayTerminals.command('show').argument('<terminal-id>').description('one terminal in full: keys, registration, state, last telemetry')).action(
  async (terminalId: string, options: { config: string; url?: string; json?: boolean }) => {
    const { gatewayTerminalsShowCommand } = await import('./gateway-admin.js');
    await gatewayTerminalsShowCommand(terminalId, options);
  },
);
adminOptions(gatewayTerminals.command('approve').argument('<terminal-id>').description("approve the key the terminal brought (a new terminal, or a replaced one): its records are accepted and its config sent"))
  .option('--key <fingerprint>', 'the pending key as `terminals list` shows it (8+ hex digits of its fingerprint, or the whole key): refused if the terminal has brought another since')
  .option('--operator <name>', 'who approves, for the operator log (default: admin-api)')
  .action(async (terminalId: string, options: { config: string; url?: string; json?: boolean; key?: string; operator?: string }) => {
    const { gatewayTerminalsApproveCommand } = await import('./gateway-admin.js');
    await gatewayTerminalsApproveCommand(terminalId, options);
  });
adminOptions(gatewayTerminals.command('revoke').argument('<terminal-id>').description('revoke a terminal (stolen, retired): its records are refused from now on'))
  .requiredOption('--reason <text>', 'why, for the operator log')
  .option('--operator <name>', 'who revokes, for the operator log (default: admin-api)')
  .action(async (terminalId: string, options: { config: string; url?: string; json?: boolean; reason: string; operator?: string }) => {
    const { gatewayTerminalsRevokeCommand } = await import('./gateway-admin.js');
    await gatewayTerminalsRevokeCommand(terminalId, options);
  });

adminOptions(gateway.command('refusals').description('records the gateway refused (rejected) or holds (unknown terminal, key pending), newest first'))
  .option('--terminal <id>', "only this terminal's")
  .option('--disposition <which>', 'only rejected or only held ones', flag(z.enum(['rejected', 'held'])))
  .option('--open', 'only those not resolved yet')
  .option('--limit <n>', 'at most this many', intFlag(1, 1000), 50)
  .action(async (options: { config: string; url?: string; json?: boolean; terminal?: string; disposition?: string; open?: boolean; limit: number }) => {
    const { gatewayRefusalsCommand } = await import('./gateway-admin.js');
    await gatewayRefusalsCommand(options);
  });

const gatewayDeliveries = adminOptions(gateway.command('deliveries').description('what the provincial interface has of each case: to send, delivered, rejected (with the province\'s answer)'))
  .option('--state <state>', 'only service, evaluation, delivered, rejected or skipped ones', flag(deliveryStateSchema))
  .option('--case <case-no>', 'only this case number')
  .option('--limit <n>', 'at most this many', intFlag(1, 1000), 50)
  .action(async (options: { config: string; url?: string; json?: boolean; state?: string; case?: string; limit: number }) => {
    const { gatewayDeliveriesCommand } = await import('./gateway-deliveries.js');
    await gatewayDeliveriesCommand(options);
  });
adminOptions(gatewayDeliveries.command('retry').argument('[keys...]', 'deliveries as the list prints them: record/<id>/<case number>').description('send rejected deliveries again, from the phase the province refused (after the profile or the data was mended)'))
  .option('--rejected', 'every rejected delivery')
  .option('--operator <name>', 'who decided, for the audit')
  .action(async (keys: string[], options: { config: string; url?: string; json?: boolean; rejected?: boolean; operator?: string }) => {
    const { gatewayDeliveriesRetryCommand } = await import('./gateway-deliveries.js');
    await gatewayDeliveriesRetryCommand(keys, options);
  });

const gatewayUsers = gateway.command('users').description("the dashboard's accounts: who may sign in, and what each sees (a province, city, county or hall); see docs/accounts.md");
adminOptions(gatewayUsers.command('list').description('every account: what it sees, enabled or not, last sign-in')).action(async (options: { config: string; url?: string; json?: boolean }) => {
  const { gatewayUsersListCommand } = await import('./gateway-users.js');
  await gatewayUsersListCommand(options);
});
const passwordOptions = (command: Command): Command =>
  command
    .option('--password-stdin', 'read the password from stdin (one line) instead of asking for it twice at the terminal')
    .option('--password <value>', 'refused: a password on the command line is seen by every user (ps) and kept in the shell history')
    .option('--operator <name>', 'who does it, for the operator log (default: admin-api)');
passwordOptions(adminOptions(gatewayUsers.command('add').argument('<name>', 'the sign-in name: lowercase letters, digits and . _ -').description('a new account bound to one level and place; the password is asked for twice (or --password-stdin)')))
  .requiredOption('--role <level>', 'province, city, county or hall', flag(roleSchema))
  .requiredOption('--area <digits>', 'the area code it sees: 2 digits for a province, 4 for a city, 6 for a county (and for a hall, its county)')
  .option('--hall <code>', "a hall account's hall, as its terminals name it (hall.code)")
  .option('--name <display>', 'the name the dashboard shows, e.g. 王经理')
  .action(async (name: string, options: { config: string; url?: string; json?: boolean; role: string; area: string; hall?: string; name?: string; passwordStdin?: boolean; password?: string; operator?: string }) => {
    const { gatewayUsersAddCommand } = await import('./gateway-users.js');
    await gatewayUsersAddCommand(name, options);
  });
passwordOptions(adminOptions(gatewayUsers.command('passwd').argument('<name>').description("set a new password (asked for twice, or --password-stdin); ends the account's sessions and lifts a lock"))).action(
  async (name: string, options: { config: string; url?: string; json?: boolean; passwordStdin?: boolean; password?: string; operator?: string }) => {
    const { gatewayUsersPasswdCommand } = await import('./gateway-users.js');
    await gatewayUsersPasswdCommand(name, options);
  },
);
for (const [action, what] of [['disable', 'it cannot sign in, and its sessions end'], ['enable', 'it may sign in again (a lock from wrong passwords is lifted too)']] as const) {
  adminOptions(gatewayUsers.command(action).argument('<name>').description(`${action} an account: ${what}`))
    .option('--operator <name>', 'who does it, for the operator log (default: admin-api)')
    .action(async (name: string, options: { config: string; url?: string; json?: boolean; operator?: string }) => {
      const { gatewayUsersSetDisabledCommand } = await import('./gateway-users.js');
      await gatewayUsersSetDisabledCommand(action, name, options);
    });
}
adminOptions(gatewayUsers.command('remove').argument('<name>').description('remove an account and its sessions (what it did stays in the operator log)'))
  .option('--operator <name>', 'who does it, for the operator log (default: admin-api)')
  .action(async (name: string, options: { config: string; url?: string; json?: boolean; operator?: string }) => {
    const { gatewayUsersRemoveCommand } = await import('./gateway-users.js');
    await gatewayUsersRemoveCommand(name, options);
  });

gateway
  .command('province')
  .description('the provincial interface: keys')
  .command('keygen')
  .description('make the SM2 key pair the gateway signs its calls to the province with; prints the public key to give the province')
  .requiredOption('--out <file>', 'where to write the private key (a new file, mode 600)')
  .action(async (options: { out: string }) => {
    const { provinceKeygenCommand } = await import('./gateway-province.js');
    provinceKeygenCommand(options);
  });

addGatewayQrSignCommand(gateway);


const sim = program.command('sim').description('run one part of the simulator on its own');
sim
  .command('broker')
  .description('an embedded MQTT broker')
  .option('--port <port>', 'port to listen on', intFlag(0, 65535), 1883)
  .action(async ({ port }: { port: number }) => {
    const { runBrokerCommand } = await import('./sim.js');
    await runBrokerCommand(port);
  });
sim
  .command('province')
  .description('the province emulator: validates, dedupes and acknowledges records')
  .requiredOption('--url <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
  .option('--prefix <prefix>', 'topic prefix', 'hcp/v1')
  .action(async ({ url, prefix }: { url: string; prefix: string }) => {
    const { runProvinceCommand } = await import('./sim.js');
    await runProvinceCommand(url, prefix);
  });

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof ConfigError || err instanceof DatabaseError) {
    console.error(`hcp: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
