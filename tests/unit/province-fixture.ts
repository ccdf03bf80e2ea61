import { fileURLToPath } from 'node:url';
import type { InvitationRecord } from '../../protocol/records.js';
import { loadProvinceProfile, parseProvinceProfile, type ProvinceProfile } from '../../gateway/province/profile.js';
import type { ProvinceSecrets } from '../../gateway/province/secrets.js';

/** The two sample profiles of docs/province-profiles/, as the gateway reads them. */
export const NATIONAL_PATH = fileURLToPath(new URL('../../docs/province-profiles/national.yaml', import.meta.url));
export const OTHER_PATH = fileURLToPath(new URL('../../docs/province-profiles/other.yaml', import.meta.url));

/** GM/T 0003.5-2012 Annex A's key pair: public knowledge, for tests only. */
export const GMT_PRIVATE_KEY = '3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8';
export const GMT_PUBLIC_KEY =
  '04' + '09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020' + 'ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13';

export const TEST_SECRETS: ProvinceSecrets = { appWord: 'appword-for-tests', privateKey: GMT_PRIVATE_KEY };

/** A sample profile with the test key in place of the sample's (so that signatures verify). */
export function sampleProfile(which: 'national' | 'other', changes: (p: Record<string, unknown>) => void = () => undefined): ProvinceProfile {
  const loaded = loadProvinceProfile(which === 'national' ? NATIONAL_PATH : OTHER_PATH);
  const raw = structuredClone(loaded) as unknown as Record<string, unknown>;
  (raw.sm2 as Record<string, unknown>).publicKey = GMT_PUBLIC_KEY;
  changes(raw);
  return parseProvinceProfile(raw, `${which} sample`);
}

/** A rated counter invitation in a hall of national.yaml (hall-lixia), 不满意 with reason R02. */
export function ratedRecord(overrides: Partial<InvitationRecord> = {}): InvitationRecord {
  return {
    id: '0193f5a0-0000-7000-8000-000000000001',
    kind: 'invitation',
    schema: 1,
    terminalId: 'T-LX-07',
    areaCode: '370102',
    hallCode: 'hall-lixia',
    windowNo: '7',
    staffId: 'S-0042',
    seq: 12,
    services: [{ itemCode: '11370102MB2F30661Y231200356400001', itemName: '个体工商户设立登记', caseNo: '370102-2026-000123' }],
    mode: 'single',
    proxy: false,
    invitedAt: '2026-11-30T02:14:50.000Z',
    closedAt: '2026-11-30T02:15:07.000Z',
    outcome: 'rated',
    rating: { grade: 'dissatisfied', gradeCode: 2, reasons: ['R02'], reasonCatalogVersion: '2026.11', pressedAt: '2026-11-30T02:15:07.250Z', latencyMs: 17250 },
    channel: 'counter',
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 1000 },
    ...overrides,
  };
}

export const CATALOG = {
  version: '2026.11',
  reasons: [
    { code: 'R01', label: '服务态度差' },
    { code: 'R02', label: '办事效率低' },
    { code: 'R03', label: '多次跑动' },
  ],
};
