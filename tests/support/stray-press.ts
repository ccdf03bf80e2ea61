import { RECORD_SCHEMA_VERSION, type StoredEvent } from '../../protocol/records.js';

/** A stored stray-press event of terminal T-1: the smallest record the outbox and the uplink carry. */
export function strayPress(id: string, at = new Date('2026-03-02T01:00:00.000Z')): StoredEvent {
  return {
    id,
    kind: 'event',
    schema: RECORD_SCHEMA_VERSION,
    terminalId: 'T-1',
    areaCode: '330106',
    hallCode: 'H-1',
    windowNo: '07',
    staffId: null,
    type: 'stray_press',
    at: at.toISOString(),
    detail: { grade: 'satisfied', device: 'DEV-1' },
    flags: [],
    test: false,
    clock: { synced: true, bootId: 'boot-1', monoMs: 0 },
  };
}
