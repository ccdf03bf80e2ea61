import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
});
