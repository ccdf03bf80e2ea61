import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../gateway/db/migrate.js';
import type { PgliteDatabase } from '../../gateway/db/pglite.js';
import { openTestPglite } from '../support/pglite-template.js';
import type { Publisher } from '../../gateway/ports.js';
import { receiptPageSource, type TerminalPlace } from '../../gateway/receipt-page.js';
import { TerminalRegistry } from '../../gateway/registry/terminal-registry.js';
import { ReceiptPageStore } from '../../bridge/province/receipt-page.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Settings } from '../../bridge/store/settings.js';
import { silentLogger } from '../../bridge/log.js';
import { explain } from '../../protocol/issues.js';
import { provinceConfigSchema } from '../../protocol/province-config.js';
import { sampleProfile } from './province-fixture.js';
import { invitation, receiptService } from './receipt-page-fixture.js';

/**
 * The receipt page a gateway sends each terminal (gateway/receipt-page.ts) from its province
 * profile and its rateLater page, published by the registry on the terminal's retained config, and
 * what a bridge's receipts do with it: the gateway's config, through the bridge's own parsing and
 * store, into the QR code of a queued receipt.
 */

function recordingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { logger, lines };
}

const place = (changes: Partial<TerminalPlace> = {}): TerminalPlace => ({ terminalId: 'T-WH-03', hallCode: 'hall-wuhua', ...changes });
const CODE_33 = '11530102MB1234567A000100000000012';

describe('receiptPageSource: the page per terminal', () => {
  it('province mode: the profile’s template, the split rule and the padding; the case and the place left for the bridge', () => {
    const source = receiptPageSource({ profile: sampleProfile('other'), publicUrl: 'https://hall.example/rate', logger: silentLogger });
    const page = {
      mode: 'province',
      urlTemplate: 'https://pj.other-province.example.gov.cn/pj/index.html?projectNo={caseNo}&areaCode={areaCode}&taskCode={taskCode}',
      taskCode: { splitLength: 33, taskCodeLength: 31 },
      areaCodeDigits: 12,
    };
    expect(source?.(place())).toEqual(page);
    // Without {deptCode} the page does not depend on the hall: one the registry does not know is no matter.
    expect(source?.(place({ hallCode: null }))).toEqual(page);
  });

  it('fills {deptCode} for the terminal’s hall, percent-encoded; a profile that does not split sends no rule', () => {
    const profile = sampleProfile('other', (p) => {
      p.rateLater = { mode: 'province', urlTemplate: 'https://pj.example/pj/{hallCode}?p={caseNo}&i={itemCode}&a6={areaCode6}&d={deptCode}&w={windowNo}' };
      p.itemCode = { split: false };
      p.halls = { 'hall-wuhua': { deptCode: '1153 0102/A' } };
    });
    expect(receiptPageSource({ profile, logger: silentLogger })?.(place())).toEqual({
      mode: 'province',
      urlTemplate: 'https://pj.example/pj/{hallCode}?p={caseNo}&i={itemCode}&a6={areaCode6}&d=1153%200102%2FA&w={windowNo}',
      taskCode: null,
      areaCodeDigits: 12,
    });
    // One deptCode for every hall: known without the hall.
    const single = sampleProfile('national', (p) => {
      p.rateLater = { mode: 'province', urlTemplate: 'https://pj.example/pj?p={caseNo}&d={deptCode}' };
      p.halls = {};
      p.deptCode = 'D-1';
    });
    expect(receiptPageSource({ profile: single, logger: silentLogger })?.(place({ hallCode: null }))).toMatchObject({ urlTemplate: 'https://pj.example/pj?p={caseNo}&d=D-1' });
  });

  it('a terminal the template cannot be made for (no deptCode for its hall, no place) is sent to its own URL, with a warning', () => {
    const profile = sampleProfile('other', (p) => {
      p.rateLater = { mode: 'province', urlTemplate: 'https://pj.example/pj?p={caseNo}&d={deptCode}' };
    });
    const { logger, lines } = recordingLogger();
    const source = receiptPageSource({ profile, logger });
    expect(source?.(place({ hallCode: 'hall-elsewhere' }))).toEqual({ mode: 'bridge' });
    expect(source?.(place({ hallCode: null }))).toEqual({ mode: 'bridge' });
    expect(lines.filter((l) => l.level === 40).map((l) => [l.terminalId, l.problem])).toEqual([
      ['T-WH-03', expect.stringMatching(/needs \{deptCode\}: the profile has no deptCode for hall hall-elsewhere/)],
      ['T-WH-03', expect.stringMatching(/needs \{deptCode\}: the gateway does not know its hall/)],
    ]);
  });

  it('gateway mode (or no profile): the gateway’s page when it serves one; otherwise nothing to say', () => {
    const national = sampleProfile('national');
    expect(receiptPageSource({ profile: national, publicUrl: 'https://hall.example/rate', logger: silentLogger })?.(place())).toEqual({ mode: 'gateway', url: 'https://hall.example/rate' });
    expect(receiptPageSource({ publicUrl: 'https://hall.example/rate', logger: silentLogger })?.(place())).toEqual({ mode: 'gateway', url: 'https://hall.example/rate' });
    expect(receiptPageSource({ profile: national, logger: silentLogger })).toBeUndefined();
    expect(receiptPageSource({ logger: silentLogger })).toBeUndefined();
  });
});

/** The registry publishing each terminal's page, and a bridge making its receipts' QR from it. */
describe('the receipt page through the registry and into a bridge’s receipt', () => {
  const PREFIX = 'hcp/v1';
  let db: PgliteDatabase;
  const sent: { topic: string; payload: string }[] = [];
  const publisher: Publisher = { publish: async (topic, payload) => void sent.push({ topic, payload }) };
  const clock = { now: () => new Date('2026-11-30T08:00:00.000Z') };
  const key = () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const registration = (publicKey: string, windowNo: string, hallCode = 'hall-wuhua') =>
    Buffer.from(JSON.stringify({ online: false, provisioning: true, at: '2026-11-30T07:59:00.000Z', publicKey, areaCode: '530102', hallCode, windowNo, bridge: '0.1.0' }));
  const configsOf = (terminalId: string) =>
    sent.filter((m) => m.topic === `${PREFIX}/${terminalId}/config`).map((m) => {
      const parsed = explain(provinceConfigSchema, JSON.parse(m.payload));
      if (!parsed.ok) throw new Error(parsed.problems.join('; '));
      return parsed.data;
    });

  beforeAll(async () => {
    db = await openTestPglite();
    await migrate(db);
  });
  const folder = mkdtempSync(join(tmpdir(), 'hcp-receipt-page-'));
  afterAll(async () => {
    await db.close();
    rmSync(folder, { recursive: true, force: true });
  });
  beforeEach(async () => {
    sent.length = 0;
    await db.exec('TRUNCATE terminals, records, chain_links, operator_actions, instances, refusals CASCADE');
  });

  const registry = ({ receiptPage } = { receiptPage: receiptPageSource({ profile: sampleProfile('other'), logger: silentLogger }) }) =>
    new TerminalRegistry({ db, publisher, prefix: PREFIX, clock, logger: silentLogger, approval: 'first-key', terminalConfig: () => undefined, receiptPage });

  it('approval publishes the page (with no other config to send); a move to another hall publishes it again', async () => {
    const r = registry();
    const k = key();
    r.receiveState(`${PREFIX}/T-WH-03/state`, registration(k, '3'));
    await r.idle();
    expect(configsOf('T-WH-03').map((c) => c.receiptPage)).toEqual([expect.objectContaining({ mode: 'province', urlTemplate: expect.stringContaining('projectNo={caseNo}') })]);
    r.receiveState(`${PREFIX}/T-WH-03/state`, registration(k, '4'));
    await r.idle();
    expect(configsOf('T-WH-03')).toHaveLength(1);
    r.receiveState(`${PREFIX}/T-WH-03/state`, registration(k, '4', 'hall-panlong'));
    await r.idle();
    expect(configsOf('T-WH-03')).toHaveLength(2);
    expect(await r.publishConfigs()).toBe(1);
  });

  it('a roster that moves a terminal publishes its page again', async () => {
    const r = registry();
    const k = key();
    const roster = (windowNo: string) => {
      const path = join(folder, `roster-${windowNo}.json`);
      writeFileSync(path, JSON.stringify({ terminals: [{ terminalId: 'T-WH-05', publicKey: k, areaCode: '530102', hallCode: 'hall-wuhua', windowNo }] }));
      return path;
    };
    expect(await r.applyRoster(roster('5'))).toMatchObject({ added: ['T-WH-05'], configsPublished: 1 });
    expect(await r.applyRoster(roster('5'))).toMatchObject({ unchanged: 1, configsPublished: 0 });
    expect(await r.applyRoster(roster('6'))).toMatchObject({ updated: ['T-WH-05'], configsPublished: 1 });
    expect(configsOf('T-WH-05')).toHaveLength(2);
  });

  it('without a page source and without a config, nothing is published, as before', async () => {
    const r = registry({ receiptPage: undefined });
    r.receiveState(`${PREFIX}/T-WH-04/state`, registration(key(), '4'));
    await r.idle();
    expect(sent).toEqual([]);
    expect(await r.publishConfigs()).toBe(0);
  });

  it('the published config, read by a bridge, makes the receipt’s QR the province’s page for its first case', async () => {
    const r = registry();
    r.receiveState(`${PREFIX}/T-WH-03/state`, registration(key(), '3'));
    await r.idle();
    const [config] = configsOf('T-WH-03');

    const bridgeDb = openDatabase(':memory:');
    const settings = new Settings(bridgeDb);
    new ReceiptPageStore(settings, silentLogger).adopt(config!);
    // As after a restart: the page read back from the settings table.
    const store = new ReceiptPageStore(settings, silentLogger);
    const { service, queue } = receiptService(bridgeDb, () => store.current());
    expect(service.status().qrPage).toEqual({ from: 'province', fallbacks: 0, lastFallback: null });
    service.queue(invitation([{ itemCode: CODE_33, itemName: '个体工商户设立登记', caseNo: '530102-2026-0001' }, { itemCode: 'X-2', itemName: '二', caseNo: '530102-2026-0002' }]), false);
    expect(queue.next()?.content.evaluationUrl).toBe(
      `https://pj.other-province.example.gov.cn/pj/index.html?projectNo=530102-2026-0001&areaCode=530102000000&taskCode=${CODE_33.slice(0, 31)}`,
    );
    bridgeDb.close();
  });
});
