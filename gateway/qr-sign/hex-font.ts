import { existsSync, readFileSync } from 'node:fs';

/*
 * GNU Unifont's .hex bitmaps, for the pictures this project draws without a graphics stack: the
 * window's QR sign here, and the simulator's receipt preview (simulator/receipt-png.ts).
 */

/** GNU Unifont (Debian package `unifont`): 8x16 and 16x16 bitmap glyphs for the whole BMP. */
export const DEFAULT_FONT_PATH = '/usr/share/unifont/unifont.hex';

export interface Glyph {
  /** 8 or 16. */
  width: number;
  /** 16 rows, bit (width - 1 - x) set for a dark dot at x. */
  rows: number[];
}

/** A .hex font: read once per path, each glyph's bitmap decoded when first drawn. */
export class HexFont {
  private readonly decoded = new Map<number, Glyph | null>();

  constructor(private readonly hex: Map<number, string>) {}

  glyph(codePoint: number): Glyph | null {
    let glyph = this.decoded.get(codePoint);
    if (glyph === undefined) {
      const digits = this.hex.get(codePoint);
      glyph = null;
      if (digits !== undefined && (digits.length === 32 || digits.length === 64)) {
        const per = digits.length / 16;
        const rows = Array.from({ length: 16 }, (_, y) => parseInt(digits.slice(y * per, (y + 1) * per), 16));
        glyph = { width: per * 4, rows };
      }
      this.decoded.set(codePoint, glyph);
    }
    return glyph;
  }
}

const fonts = new Map<string, HexFont>();

/** Loads (once) the Unifont .hex file at `path`; a missing file says which package to install. */
export function loadHexFont(path: string = DEFAULT_FONT_PATH): HexFont {
  const cached = fonts.get(path);
  if (cached) return cached;
  if (!existsSync(path)) {
    throw new Error(`the font file ${path} is missing; install GNU Unifont with: apt-get install unifont`);
  }
  const hex = new Map<number, string>();
  for (const line of readFileSync(path, 'latin1').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) hex.set(parseInt(line.slice(0, colon), 16), line.slice(colon + 1).trim());
  }
  const font = new HexFont(hex);
  fonts.set(path, font);
  return font;
}
