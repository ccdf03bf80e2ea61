import { describe, expect, it } from 'vitest';
import { checkVariableBudget, VARIABLE_BUDGET } from '../../firmware/espruino/build.js';
import { measureVariables } from '../../firmware/espruino/measure.js';
import { espruinoBinary } from '../../firmware/espruino/shared-tools.js';
import { linuxBundle } from '../support/espruino-interpreter.js';

/*
 * The variable budget, held in CI as `npm run build:espruino` holds it (CI runs `npm test`, not
 * the build): the terminal's test build on the interpreter with a Pico's 5,100 variables, through
 * its busiest moments (firmware/espruino/measure.ts).
 */
describe("the terminal's variables on Espruino's interpreter with a Pico's memory", () => {
  it(`stay within VARIABLE_BUDGET (${VARIABLE_BUDGET}) after start, at the busiest moment and replaying its journal`, async () => {
    const figures = await measureVariables(await linuxBundle(), espruinoBinary('pico'));
    console.log(`Espruino variables (Pico interpreter): ${JSON.stringify(figures)}`);
    expect(figures.afterStart).toBeLessThan(figures.busiest); // the busy moments were reached
    expect(() => checkVariableBudget(figures)).not.toThrow();
  }, 300_000);
});
