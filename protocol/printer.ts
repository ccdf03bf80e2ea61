/**
 * The receipt printer's conditions as the bridge reports them, with the words and tone window
 * staff and the hall view show. Both pages take them from the server (`GET /api/v1/meta`, the
 * hall view's `meta`), never from a copy. unknown: connected, but the printer has never answered
 * a status request (many USB printer-class devices cannot); it still prints.
 */
export const PRINTER_CONDITIONS = {
  ready: { zh: '正常', tone: 'ok' },
  paper_low: { zh: '纸将用完', tone: 'warn' },
  paper_out: { zh: '缺纸', tone: 'bad' },
  cover_open: { zh: '纸仓盖未关', tone: 'bad' },
  offline: { zh: '离线', tone: 'bad' },
  disconnected: { zh: '未连接', tone: 'bad' },
  unknown: { zh: '状态未知（仍可打印）', tone: 'warn' },
} as const satisfies Record<string, { zh: string; tone: 'ok' | 'warn' | 'bad' }>;

export type PrinterCondition = keyof typeof PRINTER_CONDITIONS;
