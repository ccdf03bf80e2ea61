import { DEFAULT_FONT_PATH, loadHexFont } from './hex-font.js';
import { layoutSign, windowTitle } from './layout.js';
import { renderSignPdf } from './render-pdf.js';
import { renderSignPng } from './render-png.js';
import type { QrSignSpec } from './spec.js';

/** 200 dpi: text and QR modules stay whole pixels at print, and the file stays small (docs/qr-sign.md). */
export const SIGN_DPI = 200;

export type SignFormat = 'pdf' | 'png';

export interface SignRenderOptions {
  dpi?: number;
  fontPath?: string;
  /** The PDF's creation date. */
  now?: () => Date;
}

/** The window's A4 QR sign for `spec` (already parsed: qrSignSpecSchema), as a PNG or a PDF file's bytes. */
export async function renderQrSign(spec: QrSignSpec, format: SignFormat, { dpi = SIGN_DPI, fontPath = DEFAULT_FONT_PATH, now = () => new Date() }: SignRenderOptions = {}): Promise<Buffer> {
  const font = loadHexFont(fontPath);
  const png = renderSignPng(layoutSign(spec, { dpi, font }), font);
  if (format === 'png') return png;
  return renderSignPdf(png, { title: `${spec.hallName} ${windowTitle(spec.window)} 评价二维码`, createdAt: now() });
}
