import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/*
 * scripts/gpio-sim.sh needs the kernel's gpio-sim module and root, which this machine lacks: what
 * can be checked here is that it is sound POSIX sh (and shellcheck-clean where shellcheck is
 * installed), and that it refuses clearly what it cannot do.
 */

const SCRIPT = 'scripts/gpio-sim.sh';
const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;
const run = (...args: string[]) => spawnSync('sh', [SCRIPT, ...args], { encoding: 'utf8', timeout: 10_000 });

describe('scripts/gpio-sim.sh', () => {
  it('is POSIX sh', () => {
    expect(spawnSync('sh', ['-n', SCRIPT]).status).toBe(0);
  });

  it.skipIf(!hasShellcheck)('is shellcheck-clean', () => {
    const result = spawnSync('shellcheck', ['--shell=sh', SCRIPT], { encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('refuses a line that is not a GPIO number, an unknown command, and reading LEDs without a chip', () => {
    expect(run('press', 'x')).toMatchObject({ status: 1, stderr: 'gpio-sim.sh: expected a BCM GPIO number 0..27, e.g. 5\n' });
    expect(run('press', '28')).toMatchObject({ status: 1, stderr: 'gpio-sim.sh: GPIO 28: the chip has lines 0..27\n' });
    expect(run('bogus')).toMatchObject({ status: 1, stderr: "gpio-sim.sh: unknown command 'bogus': up, press N, release N, leds, down\n" });
    const leds = run('leds');
    if (spawnSync('test', ['-d', '/sys/kernel/config/gpio-sim/hcp-terminal']).status !== 0) {
      expect(leds).toMatchObject({ status: 1, stderr: `gpio-sim.sh: no simulated chip: run 'sudo ${SCRIPT} up' first\n` });
    }
  });
});
