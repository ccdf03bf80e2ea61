import type { BridgeStatus } from '../bridge/status/status.js';
import { formatAge, formatBytes } from '../bridge/diagnose/check.js';

/*
 * `hcp status`: what the running bridge says about itself (`GET /api/v1/status`), in a few lines.
 */

export class StatusUnavailable extends Error {
  override name = 'StatusUnavailable';
}

export interface StatusFetchOptions {
  url: string;
  token?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Fetches the status; throws StatusUnavailable with a message for the technician if it cannot. */
export async function fetchStatus({ url, token, timeoutMs = 5000, fetch: doFetch = fetch }: StatusFetchOptions): Promise<BridgeStatus> {
  const base = url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await doFetch(`${base}/api/v1/status`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    throw new StatusUnavailable(`no bridge answers at ${base}: is the service running? \`systemctl status hcp-bridge\``);
  }
  if (res.status === 401) {
    throw new StatusUnavailable(`the bridge at ${base} needs its API token: pass --token (http.token in the config)`);
  }
  if (res.status !== 200) {
    throw new StatusUnavailable(`the bridge at ${base} answered ${res.status} ${res.statusText}: ${(await res.text()).slice(0, 200)}`);
  }
  try {
    // The CLI and the bridge it asks ship together: the status has the bridge's own type.
    return (await res.json()) as BridgeStatus;
  } catch {
    throw new StatusUnavailable(`${base} answered, but not with the bridge's status JSON: is that the bridge's HTTP port?`);
  }
}

/** How the bridge checks who signs in, in words. */
const SIGN_IN_WORDS: Record<BridgeStatus['staffSignIn']['verification'], (s: BridgeStatus['staffSignIn']) => string> = {
  roster: (s) => `by PIN on the province's roster ${s.roster?.version ?? ''} (${s.roster?.staff ?? 0} staff); ${s.failures} refused since start`,
  unverified_allowed: () => 'UNCHECKED: no roster from the province yet, and http.allowUnverifiedStaff lets anyone in',
  refused_until_roster: () => 'refused until the province sends a staff roster',
};

/** The status as a compact summary, one aspect a line. */
export function formatStatus(s: BridgeStatus, url: string): string {
  const rows: Array<[string, string]> = [];
  const t = s.terminal;
  rows.push(['terminal', `${t.id}  window ${t.windowNo}${t.hallName ? `  ${t.hallName}` : ''} (${t.hallCode})`]);
  rows.push(['staff', s.staffId ? `${s.staffId} signed in` : 'nobody signed in']);
  const signIn = s.staffSignIn;
  if (signIn) rows.push(['sign-in', SIGN_IN_WORDS[signIn.verification](signIn)]);
  if (s.invitation) rows.push(['invitation', `open ${s.invitation.id} (staff ${s.invitation.staffId}, since ${s.invitation.invitedAt})`]);
  const d = s.link;
  const who = d.terminal ? `serial ${d.terminal.serial}, firmware ${d.terminal.fw}` : 'has not said hello';
  rows.push(['link', `${d.alive ? 'up' : 'DOWN'} on ${d.path} (port ${d.portOpen ? 'open' : 'closed'}); terminal ${who}`]);
  const b = s.broker;
  rows.push(['broker', `${b.connected ? 'connected to' : 'NOT connected to'} ${b.url} (inflight ${b.inflight}, backlog to drain ${b.backlogToDrain})`]);
  const k = s.backlog;
  const oldest = k.oldestPendingAgeMs !== null ? ` (oldest ${formatAge(k.oldestPendingAgeMs)})` : '';
  rows.push(['backlog', `${k.pending} pending${oldest}, ${k.quarantined} quarantined, ${k.acked} acknowledged`]);
  for (const q of k.recentlyQuarantined ?? []) rows.push(['', `  quarantined ${q.id}: ${q.reason ?? 'no reason given'}`]);
  rows.push(['clock', s.clock.synced ? `synced (trusted from ${s.clock.trustedFrom ?? 'unknown'})` : 'NOT synced: records wait for a trusted time']);
  rows.push(['storage', `${formatBytes(s.storage.usedBytes)} of ${formatBytes(s.storage.capBytes)}${s.storage.full ? ' FULL' : ''}`]);
  rows.push(['printer', s.printer.configured ? `${s.printer.condition}, ${s.printer.pending} queued, ${s.printer.printed} printed` : 'not configured']);
  if (s.printer.configured) rows.push(['receipt QR', qrPageLine(s.printer.qrPage)]);
  // A bridge older than the voice says nothing of it.
  const voice = (s as Partial<Pick<BridgeStatus, 'voice'>>).voice;
  if (voice) rows.push(['voice', voiceLine(voice)]);
  const screen = (s as Partial<Pick<BridgeStatus, 'screen'>>).screen;
  if (screen) rows.push(['screen', screenLine(screen)]);
  rows.push(['alarms', s.alarms.length ? s.alarms.join(', ') : 'none']);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`hcp status: ${url}`, ...rows.map(([key, value]) => `  ${key.padEnd(width)}  ${value}`)].join('\n');
}

const QR_PAGES = { gateway: 'the gateway’s rating page', province: 'the province’s rating page', config: 'printer.evaluationUrl' } as const;

/** Where the receipts' QR codes lead; a bridge older than the receipt page says nothing of it. */
function qrPageLine(page: Extract<BridgeStatus['printer'], { configured: true }>['qrPage'] | undefined): string {
  if (page === undefined) return 'printer.evaluationUrl';
  const fallbacks = page.fallbacks > 0 ? ` (${page.fallbacks} fell back to printer.evaluationUrl; last: ${page.lastFallback ?? 'unknown'})` : '';
  return `${QR_PAGES[page.from]}${fallbacks}`;
}

/** Where the prompts play and how they fare (docs/audio.md). */
function voiceLine(v: BridgeStatus['voice']): string {
  if (!v.configured) return 'not configured';
  const where = v.output === 'alsa' ? `ALSA device ${v.device ?? 'default'}` : "the terminal's sound module";
  const fault = v.fault ? `; FAILING: ${v.lastError ?? 'unknown'}` : '';
  const missing = v.missingPrompts.length ? `; no sound yet for ${v.missingPrompts.join(', ')}` : '';
  const synthesis = v.synthesis?.available === false ? '; espeak-ng missing: reasons are said by their button numbers only' : '';
  const bad = v.badRecordings.length ? `; not WAV, the default plays instead: ${v.badRecordings.join(', ')}` : '';
  return `${where}: ${v.played} played, ${v.failed} failed${fault}${missing}${synthesis}${bad}`;
}

/** The customer screen (docs/customer-screen.md): where it is served, or why not, and who follows it. */
function screenLine(v: BridgeStatus['screen']): string {
  if (!v.configured) return 'not configured';
  const who = `${v.following} page(s) following, ${v.pairedTablets} tablet(s) paired`;
  if (v.url !== null) return `served at ${v.url}; ${who}`;
  return `NOT SERVED: ${v.listenError ?? 'not listening yet'}; the bridge rates without it and keeps trying; ${who}`;
}

/** `hcp status [--url URL] [--token T] [--json]`. */
export async function statusCommand({ url, token, json }: { url: string; token?: string; json?: boolean }): Promise<void> {
  let status: BridgeStatus;
  try {
    status = await fetchStatus({ url, token: token ?? process.env.HCP_TOKEN });
  } catch (err) {
    if (!(err instanceof StatusUnavailable)) throw err;
    console.error(`hcp status: ${err.message}`);
    process.exitCode = 1;
    return;
  }
  console.log(json ? JSON.stringify(status, null, 2) : formatStatus(status, url));
}
