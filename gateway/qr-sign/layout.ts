import QRCode from 'qrcode';
import type { HexFont } from './hex-font.js';
import type { QrSignSpec } from './spec.js';

/*
 * Where everything goes on the A4 sign, in pixels at a given resolution: text in Unifont glyphs
 * scaled by whole numbers (crisp, as the receipt preview draws them), the QR code in whole pixels
 * per module (exact at print). Pure: the renderers only paint what this decides.
 */

export const A4_MM = { width: 210, height: 297 } as const;
/** A4 in PDF points (1/72 in), as PDF readers and printers expect the page box. */
export const A4_POINTS = { width: 595.28, height: 841.89 } as const;
export const SIGN_HEADLINE = '请扫码评价本窗口服务';
export const SIGN_EXPLANATION = '请用手机扫描下方二维码，对本窗口的服务作出评价';
/** Module size below which a phone a step away reads the code badly. */
const MIN_MODULE_MM = 0.8;
/** White modules around the code, as the QR standard asks. */
export const QR_QUIET_MODULES = 4;
const MARGIN_MM = 15;
/** Unifont cells are 16 dots high; 8 (half width) or 16 (full width) wide. */
const GLYPH_HEIGHT = 16;

export type SignField = keyof QrSignSpec;

/** Something on the sign cannot be printed as given: which option, and why. */
export class SignContentError extends Error {
  override name = 'SignContentError';
  constructor(
    readonly field: SignField,
    message: string,
  ) {
    super(message);
  }
}

export interface TextBlock {
  kind: 'text';
  lines: string[];
  /** Pixels per Unifont dot. */
  scale: number;
  top: number;
  /** Pixels between lines. */
  lineGap: number;
}
export interface QrBlock {
  kind: 'qr';
  /** Dark modules, row by row; `size` per side (without the quiet zone). */
  size: number;
  dark: (row: number, column: number) => boolean;
  /** Top-left of the quiet zone. */
  left: number;
  top: number;
  modulePx: number;
}
export interface RuleBlock {
  kind: 'rule';
  left: number;
  top: number;
  width: number;
  height: number;
}
export type SignBlock = TextBlock | QrBlock | RuleBlock;

export interface SignLayout {
  dpi: number;
  width: number;
  height: number;
  blocks: SignBlock[];
}

/** The window's title: 窗口 A03; a number that already says 窗口 (三号窗口) as it is. */
export const windowTitle = (window: string): string => (window.includes('窗口') ? window : `窗口 ${window}`);

/** Width of `text` in Unifont dots; a character the font lacks is refused, naming the option. */
export function textUnits(font: HexFont, text: string, field: SignField): number {
  let units = 0;
  for (const ch of text) {
    const glyph = font.glyph(ch.codePointAt(0)!);
    if (!glyph) {
      const code = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      throw new SignContentError(field, `the sign's font (GNU Unifont) cannot draw the character U+${code} ${JSON.stringify(ch)}`);
    }
    units += glyph.width;
  }
  return units;
}

/**
 * `text` in lines at most `maxUnits` wide: Latin words and numbers kept whole where they fit,
 * anything else (Chinese, a URL's punctuation) broken between characters; spaces at a break dropped.
 */
export function wrapText(font: HexFont, text: string, maxUnits: number, field: SignField): string[] {
  const lines: string[] = [];
  let line = '';
  let used = 0;
  const breakLine = (): void => {
    if (line.trim() !== '') lines.push(line.trimEnd());
    line = '';
    used = 0;
  };
  for (const token of text.match(/\s+|[\p{Script=Latin}\p{N}]+|./gsu) ?? []) {
    const width = textUnits(font, token, field);
    if (used + width <= maxUnits) {
      if (used > 0 || !/^\s/.test(token)) [line, used] = [line + token, used + width];
      continue;
    }
    if (/^\s/.test(token)) {
      breakLine();
      continue;
    }
    if (width <= maxUnits && used > 0) {
      breakLine();
      [line, used] = [token, width];
      continue;
    }
    // Wider than a line: broken between its characters.
    for (const ch of token) {
      const w = textUnits(font, ch, field);
      if (used + w > maxUnits) breakLine();
      [line, used] = [line + ch, used + w];
    }
  }
  breakLine();
  return lines;
}

interface FitRule {
  field: SignField;
  /** Glyph height wished for, and the smallest accepted before refusing. */
  heightMm: number;
  minHeightMm: number;
  maxLines: number;
  lineGapMm: number;
}

export interface LayoutOptions {
  /** Pixels per inch of the picture: 150-200 prints well on A4. */
  dpi: number;
  font: HexFont;
}

/** Lays out the sign for `spec`; a text that cannot fit, or a URL too long for a readable code, is a SignContentError. */
export function layoutSign(spec: QrSignSpec, { dpi, font }: LayoutOptions): SignLayout {
  const px = (mm: number): number => Math.round((mm * dpi) / 25.4);
  const width = px(A4_MM.width);
  const height = px(A4_MM.height);
  const margin = px(MARGIN_MM);
  const contentWidth = width - 2 * margin;
  const blocks: SignBlock[] = [];
  let y = margin;

  const text = (content: string, rule: FitRule): void => {
    const largest = Math.max(1, Math.round(px(rule.heightMm) / GLYPH_HEIGHT));
    const smallest = Math.max(1, Math.round(px(rule.minHeightMm) / GLYPH_HEIGHT));
    for (let scale = largest; scale >= smallest; scale--) {
      const lines = wrapText(font, content, Math.floor(contentWidth / scale), rule.field);
      if (lines.length > rule.maxLines) continue;
      const lineGap = px(rule.lineGapMm);
      blocks.push({ kind: 'text', lines, scale, top: y, lineGap });
      y += lines.length * GLYPH_HEIGHT * scale + (lines.length - 1) * lineGap;
      return;
    }
    const perLine = Math.floor(contentWidth / smallest / 16);
    throw new SignContentError(rule.field, `too long for the sign: it takes more than ${rule.maxLines} line(s) even at the smallest size (about ${perLine} Chinese characters fit on a line)`);
  };
  const gap = (mm: number): void => {
    y += px(mm);
  };

  if (spec.area !== undefined) {
    text(spec.area, { field: 'area', heightMm: 6, minHeightMm: 4, maxLines: 1, lineGapMm: 0 });
    gap(3);
  }
  text(spec.hallName, { field: 'hallName', heightMm: 14, minHeightMm: 7, maxLines: 2, lineGapMm: 2 });
  gap(6);
  text(windowTitle(spec.window), { field: 'window', heightMm: 30, minHeightMm: 8, maxLines: 1, lineGapMm: 0 });
  gap(5);
  const ruleHeight = Math.max(1, px(0.7));
  blocks.push({ kind: 'rule', left: margin, top: y, width: contentWidth, height: ruleHeight });
  y += ruleHeight;
  gap(6);
  // Fixed words: the fields named if they ever fail are the ones whose length squeezed them.
  text(SIGN_HEADLINE, { field: 'hallName', heightMm: 12, minHeightMm: 12, maxLines: 1, lineGapMm: 0 });
  gap(3);
  text(SIGN_EXPLANATION, { field: 'hallName', heightMm: 5, minHeightMm: 5, maxLines: 1, lineGapMm: 0 });
  gap(5);

  // The URL's small print goes under the code: measured first, so the code takes what is left.
  const urlScale = Math.max(1, Math.round(px(3.5) / GLYPH_HEIGHT));
  const urlLines = wrapText(font, spec.url, Math.floor(contentWidth / urlScale), 'url');
  const urlGap = px(1);
  const urlHeight = urlLines.length * GLYPH_HEIGHT * urlScale + (urlLines.length - 1) * urlGap;
  const belowQr = px(3) + urlHeight;

  const qr = QRCode.create(spec.url, { errorCorrectionLevel: 'Q' });
  const modules = qr.modules.size + 2 * QR_QUIET_MODULES;
  const room = Math.min(px(130), contentWidth, height - margin - belowQr - y);
  const modulePx = Math.floor(room / modules);
  if (modulePx < Math.max(1, px(MIN_MODULE_MM))) {
    throw new SignContentError('url', `too long for a QR code on the sign: ${modules} modules per side would print smaller than ${MIN_MODULE_MM} mm each; use a shorter URL`);
  }
  const side = modulePx * modules;
  // What is left over is shared above and below, so the sign sits in the middle of the page.
  const slack = Math.floor((height - margin - belowQr - y - side) / 2);
  for (const block of blocks) block.top += slack;
  y += slack;
  blocks.push({ kind: 'qr', size: qr.modules.size, dark: (r, c) => Boolean(qr.modules.get(r, c)), left: Math.floor((width - side) / 2), top: y, modulePx });
  y += side + px(3);
  blocks.push({ kind: 'text', lines: urlLines, scale: urlScale, top: y, lineGap: urlGap });
  return { dpi, width, height, blocks };
}
