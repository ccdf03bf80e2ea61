import { describe, expect, it } from 'vitest';
import { answerProblems, PROVISION_FIELDS } from '../../bridge/provision/fields.js';
import { BUTTON_COUNT } from '../../protocol/grades.js';

describe('provision fields', () => {
  it.each(PROVISION_FIELDS.filter((f) => f.default !== undefined).map((f) => [f.flag, f] as const))(
    '--%s offers a default the bridge config takes',
    (_flag, field) => {
      expect(answerProblems({ [field.flag]: field.default! }, field)).toEqual([]);
    },
  );

  it('asks for as many button and LED pins as protocol/grades.ts has buttons', () => {
    const ask = (flag: string): string | undefined => PROVISION_FIELDS.find((f) => f.flag === flag)?.ask;
    expect(ask('buttons')).toContain(`${BUTTON_COUNT} buttons`);
    expect(ask('leds')).toContain(`${BUTTON_COUNT} LEDs`);
  });
});
