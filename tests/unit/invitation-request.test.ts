import { describe, expect, it } from 'vitest';
import { invitationRequestSchema } from '../../protocol/http-api.js';

const service = (caseNo: string, itemCode = 'XK-001') => ({ itemCode, itemName: '食品经营许可', caseNo });

function messages(body: unknown): string[] {
  const result = invitationRequestSchema.safeParse(body);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('invitation request', () => {
  it('defaults one service to a single, non-proxy, non-test invitation', () => {
    expect(invitationRequestSchema.parse({ services: [service('C1')] })).toEqual({
      services: [service('C1')],
      mode: 'single',
      proxy: false,
      test: false,
    });
  });

  it('refuses a missing case number, naming the field', () => {
    expect(messages({ services: [{ itemCode: 'XK-001' }] })).toEqual([
      'services.0.caseNo: Invalid input: expected string, received undefined',
    ]);
    expect(messages({ services: [{ itemCode: 'XK-001', caseNo: '  ' }] })).toEqual([
      'services.0.caseNo: caseNo (办件编号) is required',
    ]);
  });

  it('applies the batch and theme rules', () => {
    expect(messages({ services: [service('C1'), service('C2')] })[0]).toMatch(/^mode: mode is required/);
    expect(messages({ mode: 'batch', services: [service('C1'), service('C2')] })).toEqual([]);
    expect(messages({ mode: 'batch', services: [service('C1'), service('C2', 'XK-002')] })[0]).toMatch(/same/);
    expect(messages({ mode: 'theme', services: [service('C1')] })[0]).toMatch(/two or more/);
    expect(messages({ mode: 'batch', services: [service('C1'), service('C1')] })).toEqual([
      'services.1.caseNo: case C1 is listed twice',
    ]);
  });
});
