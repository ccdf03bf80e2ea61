import { describe, expect, it } from 'vitest';
import { provinceConfigSchema, receiptPageSchema } from '../../protocol/province-config.js';
import { fillUrlTemplate, fillUrlTemplatePartially, taskCodeOf, UrlTemplateError } from '../../protocol/url-template.js';

/** The province's page template (protocol/url-template.ts), filled in two steps: the gateway's (the terminal's values), then the bridge's (the case's). */
describe('fillUrlTemplatePartially', () => {
  const template = 'https://pj.example/pj/{hallCode}?projectNo={caseNo}&areaCode={areaCode}&win={windowNo}&x={idCard}';

  it('fills what it is given, percent-encoded, and leaves every other placeholder as it was (unknown ones too)', () => {
    expect(fillUrlTemplatePartially(template, { areaCode: '530102000000', hallCode: 'hall/wu hua', windowNo: '3&x=1' })).toBe(
      'https://pj.example/pj/hall%2Fwu%20hua?projectNo={caseNo}&areaCode=530102000000&win=3%26x%3D1&x={idCard}',
    );
    expect(fillUrlTemplatePartially(template, {})).toBe(template);
  });

  it('a value that looks like a placeholder stays a value: the second step does not fill it', () => {
    const first = fillUrlTemplatePartially('https://pj.example/pj?w={windowNo}&p={caseNo}', { windowNo: '{caseNo}' });
    expect(first).toBe('https://pj.example/pj?w=%7BcaseNo%7D&p={caseNo}');
    expect(fillUrlTemplate(first, { caseNo: 'C1' })).toBe('https://pj.example/pj?w=%7BcaseNo%7D&p=C1');
  });

  it('two steps give what one fill gives', () => {
    const values = { caseNo: 'C 1', areaCode: '530102000000', hallCode: 'H', windowNo: '3' };
    const once = fillUrlTemplate(template.replace('&x={idCard}', ''), values);
    const twice = fillUrlTemplate(fillUrlTemplatePartially(template.replace('&x={idCard}', ''), { areaCode: values.areaCode, hallCode: 'H', windowNo: '3' }), { caseNo: 'C 1' });
    expect(twice).toBe(once);
  });

  it('the full fill still refuses a placeholder without a value, and inherited names are no values', () => {
    expect(() => fillUrlTemplate('https://x/{caseNo}', {})).toThrow(UrlTemplateError);
    expect(() => fillUrlTemplate('https://x/{constructor}', {})).toThrow(/needs \{constructor\}/);
    expect(fillUrlTemplatePartially('https://x/{toString}/{__proto__}', {})).toBe('https://x/{toString}/{__proto__}');
    expect(() => fillUrlTemplatePartially('https://x/{hallCode}', { hallCode: 'H\ud800' })).toThrow(/\{hallCode\} is not well-formed text/);
  });
});

describe('taskCodeOf', () => {
  const rule = { splitLength: 33, taskCodeLength: 31 };
  it('cuts a code of the split length, leaves any other (and every code without a rule) as it is', () => {
    const code33 = '11530102MB1234567A0001000000000AB';
    expect(code33).toHaveLength(33);
    expect(taskCodeOf(code33, rule)).toBe(code33.slice(0, 31));
    expect(taskCodeOf('330106-XK-0012', rule)).toBe('330106-XK-0012');
    expect(taskCodeOf(code33, null)).toBe(code33);
  });
});

describe('receiptPage in the province config', () => {
  const province = (urlTemplate: string, taskCode: unknown = null, areaCodeDigits: unknown = 12) => receiptPageSchema.safeParse({ mode: 'province', urlTemplate, taskCode, areaCodeDigits });

  it('takes the three modes', () => {
    expect(provinceConfigSchema.parse({ receiptPage: { mode: 'gateway', url: 'https://hall.example/rate' } })).toEqual({ receiptPage: { mode: 'gateway', url: 'https://hall.example/rate' } });
    expect(province('https://pj.example/pj/{hallCode}?p={caseNo}&t={taskCode}&i={itemCode}&a={areaCode}&a6={areaCode6}&w={windowNo}', { splitLength: 33, taskCodeLength: 31 }).success).toBe(true);
    expect(receiptPageSchema.parse({ mode: 'bridge' })).toEqual({ mode: 'bridge' });
  });

  it('refuses a template with {deptCode} left (the gateway’s to fill), an unknown one, or no URL; a bad split rule or padding; a page URL that is not http(s)', () => {
    expect(province('https://pj.example/pj?p={caseNo}&d={deptCode}').error?.issues[0]?.message).toMatch(/\{deptCode\} is not the terminal's to fill/);
    expect(province('https://pj.example/pj?p={caseNo}', null, 13).success).toBe(false);
    expect(province('https://pj.example/pj?p={idCard}').success).toBe(false);
    expect(province('javascript:alert({caseNo})').success).toBe(false);
    expect(province('https://pj.example/pj?p={caseNo}', { splitLength: 31, taskCodeLength: 31 }).success).toBe(false);
    expect(receiptPageSchema.safeParse({ mode: 'gateway', url: 'ftp://hall.example/rate' }).success).toBe(false);
    expect(receiptPageSchema.safeParse({ mode: 'gateway', url: `https://hall.example/${'a'.repeat(2000)}` }).success).toBe(false);
    expect(receiptPageSchema.safeParse({ mode: 'elsewhere' }).success).toBe(false);
  });
});
