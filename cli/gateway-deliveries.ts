import { formatAge } from '../bridge/diagnose/check.js';
import type { DeliveryKey } from '../gateway/delivery/claims.js';
import type { DeliveryRow, DeliveryStatus, RetryResult } from '../gateway/delivery/status.js';
import { adminTarget, callAdmin, formatTable, GatewayAdminError, json, run, type AdminCommonOptions, type AdminDeps } from './gateway-admin.js';

/*
 * `hcp gateway deliveries [--state …] [--case …]` and `hcp gateway deliveries retry KEY… |
 * --rejected`: what the provincial interface has of each case, and an operator's decision to send
 * rejected ones again, through the running gateway's admin API.
 */

type Wire<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };
type RowView = Wire<DeliveryRow>;
type StatusView = Wire<Omit<DeliveryStatus, 'lastError'>> & { lastError: (Omit<NonNullable<DeliveryStatus['lastError']>, 'at'> & { at: string }) | null };

/** A delivery named on the command line: source/id/case (as the list prints it). */
export function parseDeliveryKey(text: string): DeliveryKey {
  const [source, id, ...rest] = text.split('/');
  const caseNo = rest.join('/');
  if ((source !== 'record' && source !== 'later') || !id || !caseNo) {
    throw new GatewayAdminError(`"${text.slice(0, 120)}" does not name a delivery: expected record/<id>/<case number> or later/<id>/<case number>, as \`hcp gateway deliveries\` prints it`);
  }
  return { source, id, caseNo };
}

const keyText = (k: DeliveryKey): string => `${k.source}/${k.id}/${k.caseNo}`;
const ago = (iso: string | null, now: Date): string => (iso ? `${formatAge(now.getTime() - Date.parse(iso))} ago` : '-');

export function formatDeliveries(status: StatusView, rows: RowView[], now = new Date()): string {
  const c = status.counts;
  const lines = [
    `to send: ${c.service} service, ${c.evaluation} evaluation (${status.inFlight} being sent); delivered ${c.delivered}; rejected ${c.rejected}; skipped ${c.skipped}`,
    `oldest waiting since ${status.oldestWaitingSince ?? '-'}; alerting ${status.alerting}`,
  ];
  if (status.lastError) lines.push(`last error ${ago(status.lastError.at, now)}: ${keyText(status.lastError.key)} ${status.lastError.code ?? ''} ${status.lastError.message}`.trimEnd());
  if (rows.length === 0) return [...lines, '', 'no deliveries match'].join('\n');
  const table = rows.map((r) => [ago(r.updatedAt, now), r.state === 'rejected' ? `rejected (${r.rejectedPhase ?? '?'})` : r.state, String(r.attempts), keyText(r), r.terminalId, [r.code, r.message].filter(Boolean).join(' ').slice(0, 100)]);
  return [...lines, '', formatTable(['CHANGED', 'STATE', 'TRIES', 'KEY', 'TERMINAL', 'LAST ANSWER'], table)].join('\n');
}

/** `hcp gateway deliveries [--state <s>] [--case <no>] [--limit <n>] [--json]`. */
export async function gatewayDeliveriesCommand(options: AdminCommonOptions & { state?: string | undefined; case?: string | undefined; limit?: number | undefined }, deps: AdminDeps = {}): Promise<void> {
  await run('deliveries', deps, async (print) => {
    const query = new URLSearchParams();
    if (options.state !== undefined) query.set('state', options.state);
    if (options.case !== undefined) query.set('case', options.case);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const text = query.toString();
    const answer = await callAdmin<{ status: StatusView; deliveries: RowView[] }>(adminTarget(options, deps.env), 'GET', `/api/v1/deliveries${text ? `?${text}` : ''}`, {}, deps);
    print(options.json ? json(answer) : formatDeliveries(answer.status, answer.deliveries));
  });
}

/** `hcp gateway deliveries retry <key>… | --rejected [--operator <name>]`: rejected rows sent again from the phase the province refused. */
export async function gatewayDeliveriesRetryCommand(keys: string[], options: AdminCommonOptions & { rejected?: boolean | undefined; operator?: string | undefined }, deps: AdminDeps = {}): Promise<void> {
  await run('deliveries retry', deps, async (print) => {
    const target = adminTarget(options, deps.env);
    let named = keys.map(parseDeliveryKey);
    if (options.rejected) {
      if (named.length > 0) throw new GatewayAdminError('give delivery keys or --rejected, not both');
      const { deliveries } = await callAdmin<{ deliveries: RowView[] }>(target, 'GET', '/api/v1/deliveries?state=rejected&limit=1000', {}, deps);
      named = deliveries.map((d) => ({ source: d.source, id: d.id, caseNo: d.caseNo }));
      if (named.length === 0) return print('no rejected deliveries');
    } else if (named.length === 0) {
      throw new GatewayAdminError('name the deliveries to send again (as `hcp gateway deliveries --state rejected` prints them), or --rejected for all');
    }
    const result = await callAdmin<RetryResult>(target, 'POST', '/api/v1/deliveries/retry', { body: { deliveries: named }, operator: options.operator, write: true }, deps);
    if (options.json) return print(json(result));
    const lines = [`sent again from the refused phase: ${result.retried.length}`];
    if (result.notRejected.length > 0) lines.push(`not rejected (left as they are): ${result.notRejected.map(keyText).join(', ')}`);
    print(lines.join('\n'));
  });
}
