import { connectAsync, type MqttClient } from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invitationRecordSchema, type InvitationRecord } from '../../protocol/records.js';
import { terminalTopics } from '../../protocol/topics.js';
import { EmbeddedBroker } from '../../simulator/broker.js';
import { ProvinceEmulator } from '../../simulator/province.js';

/*
 * One outcome per invitation at the receiver: a record that `supersedes` another (a terminal's late
 * rating, reconciled by its bridge) takes the place of an invitation the bridge closed without its
 * terminal, and of nothing else. Real MQTT to the province emulator on the embedded broker.
 */
const TERMINAL = 'T-SUP';
let seq = 0;

/** An invitation record of TERMINAL, valid by the contract. */
function record(overrides: Partial<InvitationRecord>): InvitationRecord {
  seq += 1;
  return invitationRecordSchema.parse({
    id: uuidv7(),
    kind: 'invitation',
    schema: 1,
    terminalId: TERMINAL,
    areaCode: '330106',
    hallCode: 'HALL-01',
    windowNo: '12',
    staffId: 'S-1',
    services: [{ itemCode: 'I-1', caseNo: `C-${seq}` }],
    mode: 'single',
    proxy: false,
    invitedAt: `2026-03-02T01:00:${String(seq % 60).padStart(2, '0')}.000Z`,
    closedAt: '2026-03-02T01:02:00.000Z',
    outcome: 'not_rated',
    channel: 'counter',
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 1000 },
    seq,
    ...overrides,
  });
}

/** The bridge closed it without its terminal (silent past the deadline): no device. */
const silentClose = (): InvitationRecord => record({ flags: ['device_silent'], device: null });
/** The terminal's late rating for `earlier`, reconciled. */
function reconciling(earlier: InvitationRecord, overrides: Partial<InvitationRecord> = {}): InvitationRecord {
  return record({
    invitedAt: earlier.invitedAt,
    services: earlier.services,
    outcome: 'rated',
    rating: { grade: 'dissatisfied', gradeCode: 2, reasons: ['R01'], reasonCatalogVersion: '2026.1', pressedAt: '2026-03-02T01:00:05.000Z', latencyMs: 5000 },
    flags: ['reconciled'],
    device: 'DEV-1',
    supersedes: earlier.id,
    ...overrides,
  });
}

let broker: EmbeddedBroker;
let province: ProvinceEmulator;
let terminal: MqttClient;

beforeAll(async () => {
  broker = await EmbeddedBroker.start();
  province = await ProvinceEmulator.start({ url: broker.url });
  terminal = await connectAsync(broker.url, { clientId: 'terminal-sup', reconnectPeriod: 0 });
});

afterAll(async () => {
  await terminal?.endAsync();
  await province?.stop();
  await broker?.stop();
});

/** Ids the province has answered: accepted (even if superseded since) or rejected. */
const answered = new Set<string>();

/** Publishes the records in order and waits until the province has answered each. */
async function send(...records: InvitationRecord[]): Promise<void> {
  for (const r of records) await terminal.publishAsync(terminalTopics(TERMINAL).records, JSON.stringify(r), { qos: 1 });
  await province.waitFor(() => records.every((r) => answered.has(r.id)));
}

/** The outcomes the province holds for an invitation (its first record's id). */
const outcomesOf = (id: string): InvitationRecord[] =>
  province.recordsOf(TERMINAL).filter((r): r is InvitationRecord => r.kind === 'invitation' && (r.id === id || r.supersedes === id));

describe('province: supersedes', () => {
  beforeAll(() => {
    province.on('record', (r) => answered.add(r.id));
    province.on('rejected', (r) => answered.add(r.id));
  });

  it('a reconciling record takes the place of an invitation closed without the terminal: one outcome', async () => {
    const earlier = silentClose();
    const late = reconciling(earlier);
    await send(earlier, late);
    expect(outcomesOf(earlier.id)).toEqual([expect.objectContaining({ id: late.id, outcome: 'rated' })]);
  });

  it('arriving before the record it replaces (a backlog): still one outcome', async () => {
    const earlier = silentClose();
    const late = reconciling(earlier);
    await send(late, earlier);
    expect(outcomesOf(earlier.id)).toEqual([expect.objectContaining({ id: late.id })]);
  });

  it.each([
    ['a rated record', () => record({ outcome: 'rated', device: 'DEV-1', rating: { grade: 'very_satisfied', gradeCode: 5, reasons: [], reasonCatalogVersion: null, pressedAt: '2026-03-02T01:00:03.000Z', latencyMs: 3000 } }), /is rated/],
    ['an outcome the terminal reported', () => record({ outcome: 'not_rated', device: 'DEV-1' }), /terminal's own report/],
  ])('pointing at %s: refused, naming why, and the earlier outcome stands', async (_what, make, why) => {
    const earlier = make();
    const stray = reconciling(earlier);
    await send(earlier, stray);
    expect(province.rejections()).toContainEqual(expect.objectContaining({ id: stray.id, reason: expect.stringMatching(why) }));
    expect(outcomesOf(earlier.id)).toEqual([expect.objectContaining({ id: earlier.id })]);
  });

  it('a second record superseding the same one is refused: counted once', async () => {
    const earlier = silentClose();
    const [first, second] = [reconciling(earlier), reconciling(earlier)];
    await send(earlier, first, second);
    expect(province.rejections()).toContainEqual(expect.objectContaining({ id: second.id, reason: expect.stringMatching(/already superseded/) }));
    expect(outcomesOf(earlier.id)).toEqual([expect.objectContaining({ id: first.id })]);
  });

  it('arriving before a rated record it may not replace: the rating stands, the stray one is left out', async () => {
    const earlier = record({ outcome: 'rated', device: 'DEV-1', rating: { grade: 'satisfied', gradeCode: 4, reasons: [], reasonCatalogVersion: null, pressedAt: '2026-03-02T01:00:03.000Z', latencyMs: 3000 } });
    const stray = reconciling(earlier);
    await send(stray, earlier);
    expect(outcomesOf(earlier.id)).toEqual([expect.objectContaining({ id: earlier.id, rating: expect.objectContaining({ grade: 'satisfied' }) })]);
  });
});
