import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../bridge/config.js';
import { answerProblems, configFromAnswers, PROVISION_FIELDS, SOUND_ANSWERS } from '../../bridge/provision/fields.js';
import { BUTTON_COUNT } from '../../protocol/grades.js';

describe('provision fields', () => {
  it.each(PROVISION_FIELDS.filter((f) => f.default !== undefined).map((f) => [f.flag, f] as const))(
    '--%s offers a default the bridge config takes',
    (_flag, field) => {
      expect(answerProblems({ [field.flag]: field.default! }, field)).toEqual([]);
    },
  );

  it('names a flag for every problem, even when a whole section is missing', () => {
    const problems = answerProblems({ 'broker-url': 'mqtts://b.example:8883' });
    expect(problems).toEqual(
      expect.arrayContaining(['--terminal-id: required', '--area-code: required', '--hall-code: required', '--window: required', expect.stringMatching(/^--database: required/)]),
    );
    expect(problems.filter((p) => !p.startsWith('--'))).toEqual([]);
  });

  it('leaves a field with a default to the config: a printer without --printer-columns takes 32', () => {
    expect(SOUND_ANSWERS['printer-columns']).toBeUndefined();
    expect(answerProblems(SOUND_ANSWERS)).toEqual([]);
  });

  it('names the flags of a section the schema finds missing: an Arduino without its pins', () => {
    const { 'serial-path': _serial, ...rest } = SOUND_ANSWERS;
    expect(answerProblems({ ...rest, 'board-path': '/dev/ttyACM1' })).toEqual([expect.stringMatching(/^--buttons, --leds: required/)]);
  });

  it("asks for the Pi's GPIO chip when there is no Arduino, and the pins in BCM numbers under their own flags", () => {
    const { 'serial-path': _serial, ...rest } = SOUND_ANSWERS;
    const answers = { ...rest, 'gpio-chip': 'auto', 'gpio-buttons': '5,6,16,20,21', 'gpio-leds': '17,27,22,23,24', 'gpio-buzzer': '18' };
    expect(answerProblems(answers)).toEqual([]);
    expect(parseConfig(configFromAnswers(answers)).board).toEqual({
      io: 'gpio',
      chip: 'auto',
      pins: { buttons: [5, 6, 16, 20, 21], leds: [17, 27, 22, 23, 24], buzzer: 18 },
      bias: 'pull-up',
      debounceMs: 10,
    });
    expect(answerProblems({ ...answers, 'gpio-leds': '17,27,22,23,5' })).toEqual(['--gpio-leds: GPIO 5 (header pin 29) is already used by button 1']);
    expect(answerProblems({ ...answers, 'gpio-buzzer': '1' })).toEqual(['--gpio-buzzer: GPIO 1 (header pin 28) is ID_SC, the HAT identification EEPROM (keep GPIO 0 and 1 free)']);
    expect(answerProblems({ ...answers, 'gpio-chip': '-x' })).toEqual(["--gpio-chip: a chip name cannot start with '-'"]);
    // An Arduino wins: the GPIO questions are not asked then.
    expect(configFromAnswers({ ...answers, 'board-path': '/dev/ttyACM0', buttons: '2,3,4,5,6', leds: '8,9,10,11,12' }).board).toEqual({ path: '/dev/ttyACM0', pins: { buttons: [2, 3, 4, 5, 6], leds: [8, 9, 10, 11, 12] } });
  });

  it('names the flag of the one missing from a pair: a client certificate without its key', () => {
    const answers = { ...SOUND_ANSWERS, 'cert-file': '/etc/hcp/client.pem' };
    expect(answerProblems(answers)).toEqual(['--key-file: a client certificate needs its key: give both or neither']);
  });

  it('asks for as many button and LED pins as protocol/grades.ts has buttons', () => {
    const ask = (flag: string): string | undefined => PROVISION_FIELDS.find((f) => f.flag === flag)?.ask;
    expect(ask('buttons')).toContain(`${BUTTON_COUNT} buttons`);
    expect(ask('leds')).toContain(`${BUTTON_COUNT} LEDs`);
  });
});
