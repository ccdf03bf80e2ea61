import { generateKeyPairSync } from 'node:crypto';
import type { Logger } from '../../bridge/log.js';
import { silentLogger } from '../../bridge/log.js';
import type { PrinterLink, PrinterState } from '../../bridge/printer/printer-link.js';
import { DEFAULT_PRINTER_PROFILE, type PrinterProfile } from '../../bridge/printer/receipt-layout.js';
import { ReceiptQueue } from '../../bridge/printer/receipt-queue.js';
import { ReceiptService } from '../../bridge/printer/receipt-service.js';
import type { openDatabase } from '../../bridge/store/database.js';
import type { ReceiptPage } from '../../protocol/province-config.js';
import type { StoredInvitation } from '../../protocol/records.js';
import { ManualTimers } from '../support/manual-timers.js';

/** A bridge's receipt service with a printer that never prints: what it queues stays readable in the queue. */

export const SIGNING_KEYS = generateKeyPairSync('ed25519');

const stillLink = (): PrinterLink => {
  const state: PrinterState = { condition: 'disconnected', status: null, checkedAt: null };
  return { start: () => undefined, stop: async () => undefined, state, check: async () => state, write: async () => true } as unknown as PrinterLink;
};

export function receiptService(db: ReturnType<typeof openDatabase>, page: () => ReceiptPage | null, options: { logger?: Logger; profile?: PrinterProfile } = {}) {
  const queue = new ReceiptQueue(db);
  let n = 0;
  const service = new ReceiptService({
    closings: { on: () => undefined, off: () => undefined },
    link: stillLink(),
    queue,
    profile: options.profile ?? DEFAULT_PRINTER_PROFILE,
    policy: 'always',
    evaluationUrl: 'https://own.example/rate',
    receiptPage: page,
    signingKey: SIGNING_KEYS.privateKey,
    hallName: '五华区政务服务中心',
    place: { areaCode: '530102', hallCode: 'hall-wuhua' },
    clock: { now: () => new Date('2026-11-30T08:00:00.000Z'), monoMs: () => 0, isSynced: () => true, bootId: 'boot' },
    timers: new ManualTimers(),
    newId: () => `receipt-${++n}`,
    logger: options.logger ?? silentLogger,
    pollMs: 1000,
  });
  return { service, queue };
}

export function invitation(services: StoredInvitation['services']): StoredInvitation {
  return {
    id: '0193f5a0-0000-7000-8000-0000000000aa',
    kind: 'invitation',
    schema: 1,
    terminalId: 'T-WH-03',
    areaCode: '530102',
    hallCode: 'hall-wuhua',
    windowNo: '3',
    staffId: 'S-0042',
    services,
    mode: 'batch',
    proxy: false,
    invitedAt: '2026-11-30T07:59:00.000Z',
    closedAt: '2026-11-30T08:00:00.000Z',
    outcome: 'not_rated',
    channel: 'counter',
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot', monoMs: 1 },
  };
}
