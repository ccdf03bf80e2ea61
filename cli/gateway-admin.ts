import { formatAge } from '../bridge/diagnose/check.js';
import { readSecretFile } from '../bridge/secret-file.js';
import { loadGatewayConfig } from '../gateway/config.js';
import type { ApproveResult } from '../gateway/registry/terminal-registry.js';
import type { TerminalView } from '../gateway/registry/terminal-rows.js';
import type { RefusalView } from '../gateway/http/refusal-rows.js';
import type { InstanceRow } from '../gateway/status/instances.js';

/*
 * `hcp gateway status | terminals list|show|approve|revoke | refusals`: the operator's side of a
 * running gateway, through its admin API (found from the config's http section; approve and
 * revoke send the token in http.tokenFile).
 */

export const DEFAULT_GATEWAY_CONFIG = '/etc/hcp/gateway.yaml';
/** The token for approve and revoke when the config's tokenFile cannot be read by this user. */
export const GATEWAY_TOKEN_ENV = 'HCP_GATEWAY_TOKEN';

export class GatewayAdminError extends Error {
  override name = 'GatewayAdminError';
}

export interface AdminTarget {
  /** e.g. http://127.0.0.1:8470 */
  url: string;
  /** Read only when a write needs it. */
  token: () => string | undefined;
}

export interface AdminCommonOptions {
  /** The gateway config (default /etc/hcp/gateway.yaml): the admin API's address and token file. */
  config?: string | undefined;
  /** The admin API's URL instead of the config's http section (the token then from HCP_GATEWAY_TOKEN). */
  url?: string | undefined;
  json?: boolean | undefined;
}

export interface AdminDeps {
  fetch?: typeof fetch;
  print?: (text: string) => void;
  printError?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Where the running gateway's admin API is, from the options or its config. */
export function adminTarget(options: AdminCommonOptions, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  const fromEnv = (): string | undefined => env[GATEWAY_TOKEN_ENV] || undefined;
  if (options.url !== undefined) return { url: options.url.replace(/\/+$/, ''), token: fromEnv };
  const path = options.config ?? DEFAULT_GATEWAY_CONFIG;
  const { http } = loadGatewayConfig(path);
  // The address it listens on for all: this machine reaches it on loopback.
  const host = http.host === '0.0.0.0' ? '127.0.0.1' : http.host === '::' || http.host === '[::]' ? '[::1]' : http.host.includes(':') && !http.host.startsWith('[') ? `[${http.host}]` : http.host;
  return {
    url: `http://${host}:${http.port}`,
    token: () => {
      const given = fromEnv();
      if (given !== undefined || http.tokenFile === undefined) return given;
      try {
        return readSecretFile(http.tokenFile, { ownerOnly: true });
      } catch (err) {
        throw new GatewayAdminError(`cannot read the operator token in ${http.tokenFile} (http.tokenFile of ${path}): ${(err as Error).message}; run as the gateway's user, or set ${GATEWAY_TOKEN_ENV}`);
      }
    },
  };
}

interface CallOptions {
  body?: object;
  operator?: string | undefined;
  write?: boolean;
}

/** One call to the admin API; its refusals and its absence as GatewayAdminError, said for the operator. */
export async function callAdmin<T>(target: AdminTarget, method: 'GET' | 'POST', path: string, { body, operator, write = false }: CallOptions = {}, deps: AdminDeps = {}): Promise<T> {
  const token = write ? target.token() : undefined;
  let res: Response;
  try {
    res = await (deps.fetch ?? fetch)(`${target.url}${path}`, {
      method,
      headers: {
        ...(method === 'POST' && { 'content-type': 'application/json' }),
        ...(token !== undefined && { authorization: `Bearer ${token}` }),
        ...(operator !== undefined && { 'x-hcp-operator': operator }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
    });
  } catch {
    throw new GatewayAdminError(`no gateway answers at ${target.url}: is \`hcp gateway\` running? (\`systemctl status hcp-gateway\`)`);
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new GatewayAdminError(`${target.url} answered ${res.status}, but not as the gateway's admin API: is that the gateway's http.port?`);
  }
  if (res.ok) return json as T;
  const refusal = json as { error?: unknown; problems?: unknown };
  const problems = Array.isArray(refusal.problems) ? refusal.problems.map((p) => `\n  - ${String(p)}`).join('') : '';
  const message = typeof refusal.error === 'string' ? refusal.error : `answered ${res.status}`;
  if (res.status === 401 && token === undefined) {
    throw new GatewayAdminError(`${message} (this gateway has an operator token: give the config whose http.tokenFile holds it, or set ${GATEWAY_TOKEN_ENV})`);
  }
  throw new GatewayAdminError(`${message}${problems}`);
}

/** Runs a command, printing a refusal as one message and exit status 1 instead of a stack trace. */
export async function run(name: string, deps: AdminDeps, body: (print: (text: string) => void) => Promise<void>): Promise<void> {
  const print = deps.print ?? ((text: string) => console.log(text));
  try {
    await body(print);
  } catch (err) {
    if (!(err instanceof GatewayAdminError)) throw err;
    (deps.printError ?? ((text: string) => console.error(text)))(`hcp gateway ${name}: ${err.message}`);
    process.exitCode = 1;
  }
}

/** Columns padded to their widest cell. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const ago = (iso: string | null, now: Date): string => (iso ? `${formatAge(now.getTime() - Date.parse(iso))} ago` : '-');
const place = (t: TerminalView): string => [t.areaCode, t.hallCode, t.windowNo && `window ${t.windowNo}`].filter(Boolean).join(' ') || '-';
const online = (t: TerminalView): string => (t.online === null ? '-' : t.online ? 'online' : 'offline');

export function formatTerminals(terminals: TerminalView[], now = new Date()): string {
  if (terminals.length === 0) return 'no terminals have registered with this gateway';
  const rows = terminals.map((t) => [t.terminalId, t.status, online(t), place(t), t.keyFingerprint ?? '-', t.pendingKeyFingerprint ?? '-', ago(t.lastSeen, now)]);
  const waiting = terminals.filter((t) => t.pendingKey !== null).length;
  const hint = waiting > 0 ? `\n\n${waiting} terminal${waiting === 1 ? '' : 's'} with a key waiting: check it with the terminal's technician, then \`hcp gateway terminals approve <id> --key <pending key>\`` : '';
  return formatTable(['TERMINAL', 'STATUS', 'STATE', 'WHERE', 'KEY', 'PENDING KEY', 'LAST SEEN'], rows) + hint;
}

export function formatTerminal(t: TerminalView, now = new Date()): string {
  const rows: [string, string][] = [
    ['terminal', t.terminalId],
    ['status', `${t.status}${t.decidedBy ? ` (by ${t.decidedBy}, ${ago(t.decidedAt, now)})` : ''}`],
    ['where', place(t)],
    ['key', t.keyFingerprint ? `${t.keyFingerprint}  ${t.publicKey}` : 'none approved'],
    ['pending key', t.pendingKeyFingerprint ? `${t.pendingKeyFingerprint}  ${t.pendingKey}  (not applied: waits for approve)` : 'none'],
    ['state', `${online(t)}${t.stateAt ? `, as of ${t.stateAt}` : ''}`],
    ['bridge', t.bridgeVersion ?? '-'],
    ['first seen', t.firstSeen],
    ['last seen', `${t.lastSeen} (${ago(t.lastSeen, now)})`],
    ['telemetry', t.telemetryAt ? `${ago(t.telemetryAt, now)}: ${JSON.stringify(t.telemetry).slice(0, 300)}` : 'none'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

interface StatusAnswer {
  instance: unknown;
  /** null: the database did not answer (instancesError says why). */
  instances: InstanceRow[] | null;
  instancesError?: string;
}

export function formatStatus(status: StatusAnswer, url: string, now = new Date()): string {
  const self = (status.instance ?? {}) as { instance?: string; version?: string; startedAt?: string; database?: { kind?: string; up?: boolean }; broker?: { connected?: boolean } };
  const lines = [`hcp gateway status: ${url}`];
  lines.push(
    `  this instance  ${self.instance ?? '?'}${self.version ? ` ${self.version}` : ''}, started ${ago(self.startedAt ?? null, now)}; database ${self.database?.kind ?? '?'} ${self.database?.up === false ? 'DOWN' : 'up'}; broker ${self.broker?.connected === false ? 'NOT connected' : 'connected'}`,
  );
  const province = (status.instance as { province?: { profile?: string; deliver?: boolean; running?: boolean; delivered?: number; rejected?: number; transient?: number; lastError?: { message?: string } | null } | null } | undefined)?.province;
  if (province) {
    const state = !province.deliver ? 'NOT delivering (province.deliver: false)' : province.running ? 'delivering' : 'STOPPED';
    const error = province.lastError?.message ? `; last error: ${province.lastError.message.slice(0, 160)}` : '';
    lines.push(`  province       ${province.profile ?? '?'}: ${state}; delivered ${province.delivered ?? 0}, rejected ${province.rejected ?? 0}, transient failures ${province.transient ?? 0}${error} (hcp gateway deliveries)`);
  }
  lines.push(...managerStatusLines(status.instance));
  if (status.instances === null) return [...lines, `  instances      unknown: ${status.instancesError ?? 'the database did not answer'}`].join('\n');
  const rows = status.instances.map((i) => {
    const ingest = (i.stats as { ingest?: Record<string, unknown> } | null)?.ingest ?? {};
    const figure = (key: string): string => (typeof ingest[key] === 'number' ? String(ingest[key]) : '-');
    return [i.instance, i.stale ? 'STALE' : 'beating', ago(i.beatAt, now), ago(i.startedAt, now), figure('received'), figure('accepted'), figure('duplicates'), figure('rejected'), figure('held'), figure('queued')];
  });
  lines.push('', formatTable(['INSTANCE', 'HEARTBEAT', 'LAST BEAT', 'STARTED', 'RECEIVED', 'ACCEPTED', 'DUPLICATES', 'REJECTED', 'HELD', 'QUEUED'], rows));
  return lines.join('\n');
}

/** The dashboard's address and how this instance sends alerts (their channels' failures named). */
function managerStatusLines(instance: unknown): string[] {
  type Channel = { name?: string; sent?: number; failed?: number; lastError?: { message?: string } | null };
  const self = (instance ?? {}) as { dashboard?: { url?: string; publicUrl?: string | null } | null; alerts?: { notifier?: { running?: boolean; sent?: number; failed?: number; channels?: Channel[] }; faultScans?: { failures?: number } } };
  const lines: string[] = [];
  if (self.dashboard) lines.push(`  dashboard      ${self.dashboard.url ?? '?'}${self.dashboard.publicUrl ? ` (managers reach it at ${self.dashboard.publicUrl})` : ''}`);
  const notifier = self.alerts?.notifier;
  if (notifier) {
    const channels = notifier.channels ?? [];
    const each = channels.map((c) => `${c.name ?? '?'} ${c.sent ?? 0} sent${c.failed ? `, ${c.failed} FAILED${c.lastError?.message ? ` (${c.lastError.message.slice(0, 120)})` : ''}` : ''}`);
    lines.push(`  alerts         ${channels.length === 0 ? 'no channels: shown on the dashboard only' : `${notifier.running ? 'sending' : 'STOPPED'} to ${each.join('; ')}`}${self.alerts?.faultScans?.failures ? `; fault scans failed ${self.alerts.faultScans.failures} times` : ''}`);
  }
  return lines;
}

export function formatRefusals(refusals: RefusalView[], now = new Date()): string {
  if (refusals.length === 0) return 'no refusals';
  const rows = refusals.map((r) => [ago(r.lastAt, now), r.terminalId, r.id, r.disposition, r.verdict, String(r.attempts), r.resolvedAt ? 'resolved' : '', r.reason.slice(0, 120)]);
  return formatTable(['LAST', 'TERMINAL', 'RECORD', 'DISPOSITION', 'VERDICT', 'TIMES', '', 'REASON'], rows);
}

export const json = (value: unknown): string => JSON.stringify(value, null, 2);

/** `hcp gateway status [--json]`: this instance and every instance's heartbeat. */
export async function gatewayStatusCommand(options: AdminCommonOptions, deps: AdminDeps = {}): Promise<void> {
  await run('status', deps, async (print) => {
    const target = adminTarget(options, deps.env);
    const status = await callAdmin<StatusAnswer>(target, 'GET', '/api/v1/status', {}, deps);
    print(options.json ? json(status) : formatStatus(status, target.url));
  });
}

/** `hcp gateway terminals list [--status pending|approved|revoked] [--json]`. */
export async function gatewayTerminalsListCommand(options: AdminCommonOptions & { status?: string | undefined }, deps: AdminDeps = {}): Promise<void> {
  await run('terminals list', deps, async (print) => {
    const query = options.status ? `?status=${encodeURIComponent(options.status)}` : '';
    const { terminals } = await callAdmin<{ terminals: TerminalView[] }>(adminTarget(options, deps.env), 'GET', `/api/v1/terminals${query}`, {}, deps);
    print(options.json ? json(terminals) : formatTerminals(terminals));
  });
}

/** `hcp gateway terminals show <id> [--json]`. */
export async function gatewayTerminalsShowCommand(terminalId: string, options: AdminCommonOptions, deps: AdminDeps = {}): Promise<void> {
  await run('terminals show', deps, async (print) => {
    const terminal = await callAdmin<TerminalView>(adminTarget(options, deps.env), 'GET', `/api/v1/terminals/${encodeURIComponent(terminalId)}`, {}, deps);
    print(options.json ? json(terminal) : formatTerminal(terminal));
  });
}

/** `hcp gateway terminals approve <id> [--key <fingerprint>] [--operator <name>]`. */
export async function gatewayTerminalsApproveCommand(
  terminalId: string,
  options: AdminCommonOptions & { key?: string | undefined; operator?: string | undefined },
  deps: AdminDeps = {},
): Promise<void> {
  await run('terminals approve', deps, async (print) => {
    const body = options.key !== undefined ? { key: options.key } : {};
    const result = await callAdmin<ApproveResult>(adminTarget(options, deps.env), 'POST', `/api/v1/terminals/${encodeURIComponent(terminalId)}/approve`, { body, operator: options.operator, write: true }, deps);
    if (options.json) return print(json(result));
    const replaced = result.replacedKey ? `, replacing key ${result.replacedKey}` : '';
    const config = result.configPublished ? 'its config is published' : 'its config was NOT published (none configured in terminals.config, or the broker is away: it is published again at the next start)';
    print(`approved terminal ${terminalId} with key ${result.approvedKey}${replaced}; ${config}`);
  });
}

/** `hcp gateway terminals revoke <id> --reason <text> [--operator <name>]`. */
export async function gatewayTerminalsRevokeCommand(terminalId: string, options: AdminCommonOptions & { reason: string; operator?: string | undefined }, deps: AdminDeps = {}): Promise<void> {
  await run('terminals revoke', deps, async (print) => {
    const { terminal } = await callAdmin<{ terminal: TerminalView }>(
      adminTarget(options, deps.env),
      'POST',
      `/api/v1/terminals/${encodeURIComponent(terminalId)}/revoke`,
      { body: { reason: options.reason }, operator: options.operator, write: true },
      deps,
    );
    print(options.json ? json(terminal) : `revoked terminal ${terminalId}: its records are refused from now on (undo: hcp gateway terminals approve ${terminalId})`);
  });
}

/** `hcp gateway refusals [--terminal <id>] [--disposition rejected|held] [--open] [--limit <n>] [--json]`. */
export async function gatewayRefusalsCommand(
  options: AdminCommonOptions & { terminal?: string | undefined; disposition?: string | undefined; open?: boolean | undefined; limit?: number | undefined },
  deps: AdminDeps = {},
): Promise<void> {
  await run('refusals', deps, async (print) => {
    const query = new URLSearchParams();
    if (options.terminal !== undefined) query.set('terminal', options.terminal);
    if (options.disposition !== undefined) query.set('disposition', options.disposition);
    if (options.open !== undefined) query.set('open', String(options.open));
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const text = query.toString();
    const { refusals } = await callAdmin<{ refusals: RefusalView[] }>(adminTarget(options, deps.env), 'GET', `/api/v1/refusals${text ? `?${text}` : ''}`, {}, deps);
    print(options.json ? json(refusals) : formatRefusals(refusals));
  });
}
