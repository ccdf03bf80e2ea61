import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signerOf } from '../../bridge/identity/terminal-key.js';
import { receiptQrUrl } from '../../bridge/printer/receipt-url.js';
import { receiptPageSchema } from '../../protocol/province-config.js';
import { fillUrlTemplate, fillUrlTemplatePartially, URL_PLACEHOLDERS, UrlTemplateError, type UrlPlaceholder } from '../../protocol/url-template.js';

/**
 * The province's page template filled with hostile values (a case number, a hall code from the
 * business system or an operator): every value is percent-encoded, so it never changes the page's
 * host or path, never adds or removes a query parameter, reads back as itself, and never becomes a
 * placeholder that a later step would fill.
 */
const SEED = 20261141;
/** In a u-mode pattern a surrogate pair is one code point: only an unpaired half matches. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('&', '#frag', '?a=b', '../../admin', '{caseNo}', '{areaCode}', '%', '%2', '%zz', ' ', '+', '=', '/', '\\', '@evil.example', 'http://evil.example', '\u0000', '\r\n', '\u{1F600}', '\uD800'),
);

const TEMPLATE = 'https://pj.example.gov.cn/pj/{hallCode}/index.html?projectNo={caseNo}&areaCode={areaCode}&taskCode={taskCode}&w={windowNo}#top';

describe('filling the province’s page template', () => {
  it('hostile values stay inside their parameter and read back as themselves', () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, hostile, hostile, (caseNo, areaCode, taskCode, windowNo, hallCode) => {
        const values = { caseNo, areaCode, taskCode, windowNo, hallCode };
        // A lone surrogate cannot be percent-encoded: the fill refuses it, naming the placeholder, never writes it.
        if (Object.values(values).some((v) => LONE_SURROGATE.test(v))) {
          expect(() => fillUrlTemplate(TEMPLATE, values)).toThrow(UrlTemplateError);
          return;
        }
        const url = new URL(fillUrlTemplate(TEMPLATE, values));
        expect(url.origin).toBe('https://pj.example.gov.cn');
        expect(url.hash).toBe('#top');
        expect(decodeURIComponent(url.pathname)).toBe(`/pj/${hallCode}/index.html`);
        expect(url.pathname.split('/')).toHaveLength(4);
        expect([...url.searchParams.keys()]).toEqual(['projectNo', 'areaCode', 'taskCode', 'w']);
        expect(Object.fromEntries(url.searchParams)).toEqual({ projectNo: caseNo, areaCode, taskCode, w: windowNo });
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('a first step with some values then a second with the rest is one fill; a first step’s values never make a placeholder', () => {
    const names = Object.keys(URL_PLACEHOLDERS) as UrlPlaceholder[];
    const value = hostile.filter((v) => !LONE_SURROGATE.test(v));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), value), fc.dictionary(fc.constantFrom(...names), value), (first, second) => {
        const template = `https://p.example/pj?${names.map((n) => `${n}={${n}}`).join('&')}`;
        const partial = fillUrlTemplatePartially(template, first);
        for (const name of names) expect(partial.split(`{${name}}`)).toHaveLength(first[name] === undefined ? 2 : 1);
        const rest = { ...Object.fromEntries(names.map((n) => [n, ''])), ...second };
        const remaining = Object.fromEntries(names.filter((n) => first[n] === undefined).map((n) => [n, rest[n]]));
        expect(fillUrlTemplate(partial, remaining)).toBe(fillUrlTemplate(template, { ...rest, ...first }));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('the bridge reads any receiptPage or refuses it, and a receipt always gets a URL: the page’s, on its origin, or its own', () => {
    const sign = signerOf(generateKeyPairSync('ed25519').privateKey);
    const templatePart = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('{caseNo}', '{itemCode}', '{taskCode}', '{areaCode}', '{areaCode6}', '{hallCode}', '{windowNo}', '{deptCode}', '{', '}', '?', '&', '#', '/', '%', 'x'.repeat(250)));
    const page = fc.oneof(
      fc.record({ mode: fc.constant('province'), urlTemplate: fc.array(templatePart, { maxLength: 8 }).map((parts) => `https://pj.example/${parts.join('')}`), taskCode: fc.constantFrom(null, { splitLength: 33, taskCodeLength: 31 }, { splitLength: 3, taskCodeLength: 5 }), areaCodeDigits: fc.constantFrom(6, 12, 13, '12') }),
      fc.record({ mode: fc.constantFrom('gateway', 'other'), url: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('https://hall.example/rate?x=1')) }),
      fc.constant({ mode: 'bridge' }),
      fc.anything(),
    );
    fc.assert(
      fc.property(page, hostile, hostile, hostile, fc.integer({ min: 40, max: 400 }), (input, caseNo, itemCode, windowNo, qrLimit) => {
        const parsed = receiptPageSchema.safeParse(input);
        if (!parsed.success) return;
        const chosen = receiptQrUrl({
          page: parsed.data,
          ownUrl: 'https://own.example/rate',
          claims: { terminalId: 'T-1', invitationId: 'I-1', caseNos: [caseNo], issuedAt: 1 },
          sign,
          subject: { caseNo, itemCode, areaCode: '330106', hallCode: 'H01', windowNo },
          misfit: (url) => (url.length > qrLimit ? 'too long' : undefined),
        });
        const url = new URL(chosen.url);
        const expectedOrigin = { province: 'https://pj.example', gateway: 'https://hall.example', config: 'https://own.example' }[chosen.from];
        expect(url.origin).toBe(expectedOrigin);
        if (chosen.from === 'province' && parsed.data.mode === 'province') {
          // Every placeholder filled, each value percent-encoded where it stood.
          expect(chosen.url).not.toMatch(/\{(caseNo|itemCode|taskCode|areaCode|areaCode6|hallCode|windowNo)\}/);
          if (parsed.data.urlTemplate.includes('{caseNo}')) expect(chosen.url).toContain(encodeURIComponent(caseNo));
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
