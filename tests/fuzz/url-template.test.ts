import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fillUrlTemplate, fillUrlTemplatePartially, TERMINAL_PLACEHOLDERS, UrlTemplateError } from '../../protocol/url-template.js';

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

  it('the gateway’s step then the bridge’s is one fill; the terminal’s values never make a placeholder', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...TERMINAL_PLACEHOLDERS), hostile.filter((v) => !LONE_SURROGATE.test(v))), hostile.filter((v) => !LONE_SURROGATE.test(v)), (terminal, caseNo) => {
        const template = 'https://p.example/pj?p={caseNo}&a={areaCode}&a6={areaCode6}&d={deptCode}&h={hallCode}&w={windowNo}';
        const partial = fillUrlTemplatePartially(template, terminal);
        for (const name of TERMINAL_PLACEHOLDERS) expect(partial.includes(`{${name}}`)).toBe(terminal[name] === undefined);
        expect(partial.split('{caseNo}')).toHaveLength(2);
        const all = { areaCode: '', areaCode6: '', deptCode: '', hallCode: '', windowNo: '', ...terminal, caseNo };
        const rest = Object.fromEntries(TERMINAL_PLACEHOLDERS.filter((n) => terminal[n] === undefined).map((n) => [n, '']));
        expect(fillUrlTemplate(partial, { ...rest, caseNo })).toBe(fillUrlTemplate(template, all));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
