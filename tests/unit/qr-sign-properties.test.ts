import fc from 'fast-check';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadHexFont } from '../../gateway/qr-sign/hex-font.js';
import { layoutSign, SignContentError } from '../../gateway/qr-sign/layout.js';
import { renderQrSign } from '../../gateway/qr-sign/sign.js';
import { qrSignSpecSchema } from '../../gateway/qr-sign/spec.js';
import { decodeQr } from '../support/qr-sign-read.js';

/*
 * Whatever an operator types (or a script passes) as the sign's texts and URL: the options are
 * refused with a reason, or the sign is laid out on the page, or it is refused as too long or not
 * drawable, naming the option. Never a crash, never text off the page.
 */

const SEED = 20261130;
const font = loadHexFont();
const FIELDS = ['window', 'hallName', 'area', 'url'];

const text = (maxLength: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...'西湖区政务服务中心窗口号市民大厅 AB-0123456789（）·'), maxLength }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'政务服务中心窗口'), minLength: Math.floor(maxLength / 2), maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength }) },
  );
const url = fc.oneof(
  { weight: 4, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: fc.webUrl({ validSchemes: ['http', 'https', 'ftp'] }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
  { weight: 1, arbitrary: text(600).map((s) => `https://h.example/${s}`) },
);

describe('the QR sign under arbitrary options', () => {
  it('parses or refuses; what parses is laid out inside the page, or refused naming an option', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.record({ window: text(20), hallName: text(90), area: fc.option(text(50), { nil: undefined }), url }, { requiredKeys: ['window', 'hallName', 'url'] }), (input) => {
        const parsed = qrSignSpecSchema.safeParse(input);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) expect(FIELDS).toContain(issue.path[0]);
          seen.add('refused');
          return;
        }
        let layout;
        try {
          layout = layoutSign(parsed.data, { dpi: 150, font });
        } catch (err) {
          if (!(err instanceof SignContentError)) throw err;
          expect(FIELDS).toContain(err.field);
          expect(err.message.length).toBeGreaterThan(10);
          seen.add(err.message.startsWith('too long') ? 'too long' : 'not drawable');
          return;
        }
        for (const block of layout.blocks) {
          const [w, h] =
            block.kind === 'rule'
              ? [block.width, block.height]
              : block.kind === 'qr'
                ? [(block.size + 8) * block.modulePx, (block.size + 8) * block.modulePx]
                : [
                    Math.max(...block.lines.map((l) => [...l].reduce((sum, ch) => sum + font.glyph(ch.codePointAt(0)!)!.width, 0))) * block.scale,
                    block.lines.length * (16 * block.scale + block.lineGap),
                  ];
          expect(w).toBeLessThanOrEqual(layout.width);
          expect(block.top).toBeGreaterThanOrEqual(0);
          expect(block.top + h).toBeLessThanOrEqual(layout.height);
          if (block.kind === 'text') for (const line of block.lines) expect(line.trim()).not.toBe('');
        }
        seen.add('laid out');
      }),
      { seed: SEED, numRuns: 300 },
    );
    // Every way out was taken: the property is not true by never reaching the layout.
    expect([...seen].sort()).toEqual(['laid out', 'not drawable', 'refused', 'too long']);
  });

  it('any http(s) URL it accepts comes back from the printed QR code unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.webUrl({ withQueryParameters: true, withFragments: true }), text(30), async (link, hallName) => {
        const parsed = qrSignSpecSchema.safeParse({ window: '12', hallName: hallName.trim() === '' ? '市民中心' : hallName, url: link });
        if (!parsed.success) return;
        let png: Buffer;
        try {
          png = await renderQrSign(parsed.data, 'png', { dpi: 100 });
        } catch (err) {
          if (err instanceof SignContentError) return; // a hall name the font cannot draw: covered above
          throw err;
        }
        expect(decodeQr(PNG.sync.read(png))).toBe(link);
      }),
      { seed: SEED, numRuns: 12 },
    );
  }, 60_000);
});
