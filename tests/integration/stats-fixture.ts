import { v7 as uuidv7 } from 'uuid';
import type { Database, Queryable } from '../../gateway/db/database.js';
import { migrate } from '../../gateway/db/migrate.js';
import { insertRecords, recordRow } from '../../gateway/store/records.js';
import { GRADE_INFO, type Grade } from '../../protocol/grades.js';
import type { InvitationRecord, Service } from '../../protocol/records.js';

/*
 * A fixed hall day with known answers (docs/statistics.md says what counts). Times are given in
 * Asia/Shanghai (UTC+8); the day under test is 2026-11-20 there. Four halls in three counties:
 *   330106/H01 (windows 01, 02; staff S1, S2), 330108/H02 (window 01, S3), 330203/H03 (window 01, S4).
 * The answers are worked out by hand beside each record and in EXPECTED below.
 */
export const ZONE = 'Asia/Shanghai';

export const ITEM_A: Omit<Service, 'caseNo'> = { itemCode: '330106-XK-0012', itemName: '食品经营许可' };
export const ITEM_B: Omit<Service, 'caseNo'> = { itemCode: '330106-XK-0020', itemName: '公共场所卫生许可' };
export const ITEM_C: Omit<Service, 'caseNo'> = { itemCode: '330106-QT-0003', itemName: '不动产登记, "一件事"' };
/** No name: its label is its code. */
export const ITEM_D: Omit<Service, 'caseNo'> = { itemCode: '330203-XK-0001' };

interface TerminalPlace {
  id: string;
  areaCode: string;
  hallCode: string;
  windowNo: string;
}
export const TERMINALS: Record<'T1' | 'T2' | 'T3' | 'T4', TerminalPlace> = {
  T1: { id: 'T-H01-01', areaCode: '330106', hallCode: 'H01', windowNo: '01' },
  T2: { id: 'T-H01-02', areaCode: '330106', hallCode: 'H01', windowNo: '02' },
  T3: { id: 'T-H02-01', areaCode: '330108', hallCode: 'H02', windowNo: '01' },
  T4: { id: 'T-H03-01', areaCode: '330203', hallCode: 'H03', windowNo: '01' },
};

export interface FixtureInvitation {
  /** A name the tests use. */
  name: string;
  terminal: keyof typeof TERMINALS;
  /** Local time in Asia/Shanghai: 'MM-DD HH:mm' of 2026. */
  at: string;
  staff: string;
  outcome: InvitationRecord['outcome'];
  grade?: Grade;
  items?: Omit<Service, 'caseNo'>[];
  flags?: string[];
  test?: boolean;
  /** The name of the record this one takes the place of. */
  supersedes?: string;
  /** Default counter (the terminal's buttons). */
  channel?: InvitationRecord['channel'];
}

export interface FixtureLater {
  /** The invitation (by name) the receipt names. */
  invitation: string;
  assessNumber: 1 | 2;
  grade: Grade;
  via: 'receipt' | 'window_sign';
  at: string;
}

const rated = (grade: Grade) => ({ outcome: 'rated' as const, grade });

export const INVITATIONS: FixtureInvitation[] = [
  // 330106/H01 window 01, staff S1.
  { name: 'i1', terminal: 'T1', at: '11-20 09:00', staff: 'S1', ...rated('very_satisfied'), items: [ITEM_A] },
  { name: 'i2', terminal: 'T1', at: '11-20 09:10', staff: 'S1', ...rated('satisfied'), items: [ITEM_A] },
  { name: 'i3', terminal: 'T1', at: '11-20 09:20', staff: 'S1', ...rated('basically_satisfied'), items: [ITEM_B] },
  { name: 'i4', terminal: 'T1', at: '11-20 09:30', staff: 'S1', ...rated('dissatisfied'), items: [ITEM_B] },
  // Rated later on the receipt page (assess 1): counts as very_satisfied.
  { name: 'i5', terminal: 'T1', at: '11-20 09:40', staff: 'S1', outcome: 'not_rated', items: [ITEM_A] },
  { name: 'i6', terminal: 'T1', at: '11-20 09:50', staff: 'S1', outcome: 'not_rated', items: [ITEM_A] },
  // 00:30 local is 11-19 16:30 UTC: the 20th here, the 19th in UTC.
  { name: 'i7', terminal: 'T1', at: '11-20 00:30', staff: 'S1', ...rated('very_satisfied'), items: [ITEM_A] },
  // 00:00 local of the 21st is 11-20 16:00 UTC: the 21st here, the 20th in UTC.
  { name: 'i8', terminal: 'T1', at: '11-21 00:00', staff: 'S1', ...rated('satisfied'), items: [ITEM_A] },
  // A test never counts.
  { name: 'i9', terminal: 'T1', at: '11-20 10:00', staff: 'S1', ...rated('very_satisfied'), items: [ITEM_A], test: true },
  // x10 is superseded by i10 (neither rated); the receipt names x10, rated later: i10 counts as satisfied.
  { name: 'x10', terminal: 'T1', at: '11-20 10:10', staff: 'S1', outcome: 'not_rated', items: [ITEM_A] },
  { name: 'i10', terminal: 'T1', at: '11-20 10:10', staff: 'S1', outcome: 'not_rated', items: [ITEM_A], supersedes: 'x10' },
  // Flagged by the bridge (fast_press) and not misuse (no_reason is about health).
  { name: 'i11', terminal: 'T1', at: '11-20 10:20', staff: 'S1', ...rated('very_satisfied'), items: [ITEM_A], flags: ['fast_press', 'no_reason'] },
  // Rated at the counter; a first rating on the page (a race) is kept but does not count.
  { name: 'i12', terminal: 'T1', at: '11-20 10:30', staff: 'S1', ...rated('very_satisfied'), items: [ITEM_A], flags: ['no_reason'] },
  // 330106/H01 window 02, staff S2: five cancels on the 20th (many_cancels at 5), one on the 21st.
  ...[0, 1, 2, 3, 4].map((i): FixtureInvitation => ({ name: `c${i}`, terminal: 'T2', at: `11-20 14:${i}0`, staff: 'S2', outcome: 'cancelled', items: [ITEM_B] })),
  { name: 'c5', terminal: 'T2', at: '11-21 09:00', staff: 'S2', outcome: 'cancelled', items: [ITEM_B] },
  // Rated later from the window's sign: flagged window_sign.
  { name: 'i19', terminal: 'T2', at: '11-20 11:00', staff: 'S2', outcome: 'not_rated', items: [ITEM_A] },
  // Staff S1 at window 02: a theme service of two items (counts once for each item).
  { name: 'i20', terminal: 'T2', at: '11-20 11:10', staff: 'S1', ...rated('very_dissatisfied'), items: [ITEM_A, ITEM_C] },
  // 330108/H02.
  { name: 'i21', terminal: 'T3', at: '11-20 09:00', staff: 'S3', ...rated('satisfied'), items: [ITEM_A] },
  { name: 'i22', terminal: 'T3', at: '11-20 09:10', staff: 'S3', outcome: 'not_rated', items: [ITEM_A] },
  { name: 'i23', terminal: 'T3', at: '11-20 09:20', staff: 'S3', outcome: 'cancelled', items: [ITEM_A] },
  // 330203/H03.
  { name: 'i24', terminal: 'T4', at: '11-20 15:00', staff: 'S4', ...rated('dissatisfied'), items: [ITEM_D] },
];

export const LATER: FixtureLater[] = [
  { invitation: 'i5', assessNumber: 1, grade: 'very_satisfied', via: 'receipt', at: '11-20 12:00' },
  { invitation: 'x10', assessNumber: 1, grade: 'satisfied', via: 'receipt', at: '11-20 12:10' },
  { invitation: 'i12', assessNumber: 1, grade: 'dissatisfied', via: 'receipt', at: '11-20 10:29' },
  // A follow-up (追评) changes nothing.
  { invitation: 'i1', assessNumber: 2, grade: 'very_dissatisfied', via: 'receipt', at: '11-20 13:00' },
  { invitation: 'i19', assessNumber: 1, grade: 'very_satisfied', via: 'window_sign', at: '11-20 11:05' },
];

/** 'MM-DD HH:mm' in Asia/Shanghai as an instant. */
export function shanghai(at: string): Date {
  return new Date(`2026-${at.replace(' ', 'T')}:00+08:00`);
}

/** A database of the engine, migrated and emptied of records (a PostgreSQL one is shared by a file's suites). */
export async function emptyDatabase(open: () => Promise<Database>): Promise<Database> {
  const db = await open();
  await migrate(db);
  await db.exec('TRUNCATE later_ratings, records, terminals CASCADE');
  return db;
}

/** The fixture stored in an empty database of the engine. */
export async function fixtureDatabase(open: () => Promise<Database>): Promise<{ db: Database; ids: Map<string, string> }> {
  const db = await emptyDatabase(open);
  return { db, ids: await storeFixture(db) };
}

/** Stores the terminals, invitations and later ratings; answers the record id of each invitation by name. */
export async function storeFixture(db: Queryable, data: { invitations?: FixtureInvitation[]; later?: FixtureLater[] } = {}): Promise<Map<string, string>> {
  for (const t of Object.values(TERMINALS)) {
    await db.query(
      `INSERT INTO terminals (terminal_id, status, area_code, hall_code, window_no, first_seen, last_seen) VALUES ($1, 'approved', $2, $3, $4, now(), now())
       ON CONFLICT (terminal_id) DO NOTHING`,
      [t.id, t.areaCode, t.hallCode, t.windowNo],
    );
  }
  const ids = new Map<string, string>();
  for (const inv of data.invitations ?? INVITATIONS) {
    const record = invitationRecord(inv, ids);
    ids.set(inv.name, record.id);
    await insertRecords(db, [recordRow(record, { seal: 'unsigned', payload: JSON.stringify(record), receivedAt: new Date(record.closedAt), instance: 'gw-test' })]);
    if (inv.supersedes) await db.query('UPDATE records SET superseded_by = $1 WHERE id = $2', [record.id, ids.get(inv.supersedes)]);
  }
  for (const later of data.later ?? LATER) await storeLater(db, later, ids);
  return ids;
}

let caseSeq = 0;

function invitationRecord(inv: FixtureInvitation, ids: Map<string, string>): InvitationRecord {
  const place = TERMINALS[inv.terminal];
  const invitedAt = shanghai(inv.at);
  const closedAt = new Date(invitedAt.getTime() + 20_000);
  const rating = inv.grade && { grade: inv.grade, gradeCode: 5 - Object.keys(GRADE_INFO).indexOf(inv.grade), reasons: GRADE_INFO[inv.grade].class === 'bad' ? ['R01'] : [], reasonCatalogVersion: '2026-11', pressedAt: new Date(invitedAt.getTime() + 5_000).toISOString(), latencyMs: 5_000 };
  return {
    id: uuidv7(),
    schema: 1,
    terminalId: place.id,
    areaCode: place.areaCode,
    hallCode: place.hallCode,
    windowNo: place.windowNo,
    flags: inv.flags ?? [],
    test: inv.test ?? false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 1000 },
    seq: ++caseSeq,
    kind: 'invitation',
    staffId: inv.staff,
    services: (inv.items ?? [ITEM_A]).map((item) => ({ ...item, caseNo: `CASE-${String(++caseSeq).padStart(6, '0')}` })),
    mode: (inv.items?.length ?? 1) > 1 ? 'theme' : 'single',
    proxy: false,
    invitedAt: invitedAt.toISOString(),
    closedAt: closedAt.toISOString(),
    outcome: inv.outcome,
    ...(rating && { rating }),
    channel: inv.channel ?? 'counter',
    ...(inv.outcome === 'cancelled' && { cancelReason: 'citizen_left' as const }),
    ...(inv.supersedes && { supersedes: ids.get(inv.supersedes)! }),
  };
}

async function storeLater(db: Queryable, later: FixtureLater, ids: Map<string, string>): Promise<void> {
  const invitationId = ids.get(later.invitation)!;
  const { rows } = await db.query<{ terminal_id: string; services: { caseNo: string }[] }>("SELECT terminal_id, record->'services' AS services FROM records WHERE id = $1", [invitationId]);
  const row = rows[0]!;
  for (const service of row.services) {
    await db.query(
      `INSERT INTO later_ratings (id, terminal_id, invitation_id, case_no, assess_number, grade, reasons, reason_catalog, receipt_issued_at, rated_at, instance, via)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, NULL, $8, $8, 'gw-test', $9)`,
      [uuidv7(), row.terminal_id, invitationId, service.caseNo, later.assessNumber, later.grade, JSON.stringify(GRADE_INFO[later.grade].class === 'bad' ? ['R02'] : []), shanghai(later.at), later.via],
    );
  }
}
