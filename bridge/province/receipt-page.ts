import type { Logger } from '../log.js';
import type { Settings } from '../store/settings.js';
import { ProvinceConfigPart } from './config-part.js';

/**
 * Where the receipts' QR codes lead, as the gateway's retained config last sent it (the province
 * profile's rateLater made for this terminal: protocol/province-config.ts receiptPage). Kept as
 * sent, like the grade profile; until one comes, printer.evaluationUrl holds.
 */
export class ReceiptPageStore extends ProvinceConfigPart<'receiptPage'> {
  constructor(settings: Settings, logger: Logger) {
    // The mode only: a template names the hall's codes, which the log needs no copy of.
    super(settings, logger, 'receiptPage', (page) => ({ mode: page.mode }));
  }
}
