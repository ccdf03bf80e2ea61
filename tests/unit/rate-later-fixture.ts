import type { TerminalIdentity } from '../../bridge/identity/terminal-key.js';
import type { Database, Queryable } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import { recordRow, insertRecords } from '../../gateway/store/records.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import { signedEvaluationUrl } from '../../protocol/receipt-token.js';
import type { InvitationRecord, Service } from '../../protocol/records.js';
import { testIdentity } from '../support/terminal-key.js';

/* What the rate-later tests share (unit, fuzz, Chromium): a migrated in-memory database, approved terminals with keys, stored invitation records, receipts signed as the bridge signs them. */

export const CATALOG: ReasonCatalog = {
  version: '2026-11',
  reasons: [
    { code: 'R01', label: '等候时间过长' },
    { code: 'R02', label: '服务态度不好' },
    { code: 'R03', label: '材料要求不清楚' },
  ],
};

export const FOOD: Service = { itemCode: '330106-XK-0012', itemName: '食品经营许可', caseNo: '330106202611220001' };

export async function openRateLaterDb(): Promise<PgliteDatabase> {
  const db = await openTestPglite();
  await migrate(db);
  return db;
}

export async function emptyRateLaterTables(db: Database): Promise<void> {
  await db.exec('TRUNCATE later_ratings, records, terminals CASCADE');
}

export async function putTerminal(db: Queryable, terminalId: string, identity: TerminalIdentity, status: 'pending' | 'approved' | 'revoked' = 'approved'): Promise<void> {
  const key = status === 'pending' ? null : identity.publicKey;
  await db.query(
    `INSERT INTO terminals (terminal_id, status, public_key, pending_key, first_seen, last_seen)
     VALUES ($1, $2, $3, $4, now(), now())
     ON CONFLICT (terminal_id) DO UPDATE SET status = $2, public_key = $3, pending_key = $4`,
    [terminalId, status, key, status === 'pending' ? identity.publicKey : null],
  );
}

export interface TestTerminal {
  id: string;
  identity: TerminalIdentity;
}

export async function approvedTerminal(db: Queryable, id = 'T-330106-A03'): Promise<TestTerminal> {
  const identity = testIdentity();
  await putTerminal(db, id, identity);
  return { id, identity };
}

let seq = 0;

/** Stores an invitation record as ingest would (the columns read from it). */
export async function storeInvitation(
  db: Queryable,
  terminal: TestTerminal,
  fields: { id: string; services?: Service[]; outcome?: InvitationRecord['outcome']; test?: boolean; closedAt: Date; supersedes?: string; hallCode?: string; windowNo?: string },
): Promise<InvitationRecord> {
  const outcome = fields.outcome ?? 'not_rated';
  const invitedAt = new Date(fields.closedAt.getTime() - 30_000).toISOString();
  const record: InvitationRecord = {
    id: fields.id,
    schema: 1,
    terminalId: terminal.id,
    areaCode: '330106',
    hallCode: fields.hallCode ?? 'XH-ZWFW',
    windowNo: fields.windowNo ?? 'A03',
    flags: [],
    test: fields.test ?? false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 1000 },
    seq: ++seq,
    kind: 'invitation',
    staffId: 'S1001',
    services: fields.services ?? [FOOD],
    mode: 'single',
    proxy: false,
    invitedAt,
    closedAt: fields.closedAt.toISOString(),
    outcome,
    ...(outcome === 'rated' && { rating: { grade: 'satisfied', gradeCode: 4, reasons: [], reasonCatalogVersion: null, pressedAt: invitedAt, latencyMs: 3000 } }),
    channel: 'counter',
    ...(fields.supersedes && { supersedes: fields.supersedes }),
  };
  await insertRecords(db, [recordRow(record, { seal: 'unsigned', payload: JSON.stringify(record), receivedAt: fields.closedAt, instance: 'gw-test' })]);
  if (fields.supersedes) await db.query('UPDATE records SET superseded_by = $1 WHERE id = $2', [record.id, fields.supersedes]);
  return record;
}

/** The receipt's URL for an invitation, signed by the terminal's key as the bridge's receipt service does. */
export function receiptUrl(base: string, terminal: TestTerminal, claims: { invitationId: string; caseNos: string[]; issuedAt: Date }): string {
  return signedEvaluationUrl(base, { terminalId: terminal.id, invitationId: claims.invitationId, caseNos: claims.caseNos, issuedAt: Math.floor(claims.issuedAt.getTime() / 1000) }, terminal.identity.sign);
}
