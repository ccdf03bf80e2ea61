import { z } from 'zod';
import { describeIssues } from '../../protocol/issues.js';
import type { BridgeConfig } from '../config.js';
import { serviceScreenSchema } from '../screen/probe.js';
import { errorText } from './check.js';

/*
 * Is this terminal's bridge service running? Doctor asks its local HTTP API (GET /api/v1/status)
 * before it touches the broker: the service's own account connecting a second time takes over
 * the service's session (a broker that binds the client id to the username, as the shipped
 * Mosquitto config does, lets one connection per account), so while the service runs, doctor
 * reports the service's own view of the uplink instead of connecting.
 */

/** What doctor needs of the status, checked at the boundary (another program may be answering). */
const serviceStatusSchema = z.object({
  terminal: z.object({ id: z.string() }),
  broker: z.object({ connected: z.boolean(), url: z.string(), reconnectAttempts: z.number().optional() }),
  screen: serviceScreenSchema,
});
export type ServiceStatus = z.infer<typeof serviceStatusSchema>;

export type ServiceAnswer =
  /** Nothing listens at the API's address: the service is not running. */
  | { running: false; apiUrl: string }
  | { running: true; apiUrl: string; status: ServiceStatus }
  /** Something answered, or nothing did in time: doctor cannot tell, and must not take a chance. */
  | { running: 'unknown'; apiUrl: string; why: string };

export type StatusFetch = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ status: number; json(): Promise<unknown> }>;

/** The API's address as seen from this machine: a wildcard listen address is reached on loopback. */
export function serviceApiUrl(config: BridgeConfig): string {
  const { host, port } = config.http;
  const reach = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${reach}:${port}`;
}

export async function askRunningService(config: BridgeConfig, deps: { fetch: StatusFetch; timeoutMs: number }): Promise<ServiceAnswer> {
  const apiUrl = serviceApiUrl(config);
  let res: Awaited<ReturnType<StatusFetch>>;
  try {
    res = await deps.fetch(`${apiUrl}/api/v1/status`, {
      headers: config.http.token ? { authorization: `Bearer ${config.http.token}` } : {},
      signal: AbortSignal.timeout(deps.timeoutMs),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (code === 'ECONNREFUSED') return { running: false, apiUrl };
    return { running: 'unknown', apiUrl, why: `${apiUrl} did not answer (${errorText(err)}${typeof code === 'string' ? `, ${code}` : ''})` };
  }
  if (res.status !== 200) return { running: 'unknown', apiUrl, why: `${apiUrl}/api/v1/status answered HTTP ${res.status}` };
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return { running: 'unknown', apiUrl, why: `${apiUrl} answered, but not with JSON: is another program on http.port?` };
  }
  const parsed = serviceStatusSchema.safeParse(body);
  if (!parsed.success) return { running: 'unknown', apiUrl, why: `${apiUrl} answered, but not with the bridge's status (${describeIssues(parsed.error.issues, 2)})` };
  if (parsed.data.terminal.id !== config.terminal.id) {
    return { running: 'unknown', apiUrl, why: `the bridge at ${apiUrl} serves terminal ${parsed.data.terminal.id}, not ${config.terminal.id}` };
  }
  return { running: true, apiUrl, status: parsed.data };
}

export const defaultStatusFetch: StatusFetch = (url, init) => fetch(url, init);
