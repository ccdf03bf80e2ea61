import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Issue 12, item 6: the shipped unit's `systemd-analyze security` exposure stays at 3.0 or less
 * (it was 5.9) and the hardening leaves the bridge what it needs: its serial and printer ports,
 * the network, its state folder (database and terminal key) and its config folder.
 * systemd-analyze (Debian package `systemd`) reads the unit offline: no running systemd needed.
 */
const DEPLOY = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy');
const UNIT = resolve(DEPLOY, 'hcp-bridge.service');
const GATEWAY_UNIT = resolve(DEPLOY, 'hcp-gateway.service');
const MAX_EXPOSURE = 3.0;

function findSystemdAnalyze(): string | undefined {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'pipe' });
    return 'systemd-analyze';
  } catch {
    return undefined;
  }
}

/** Every value of a directive (a unit may repeat one), as written. */
function directive(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}=`))
    .map((line) => line.slice(name.length + 1).trim());
}

/** `systemd-analyze security`'s overall exposure level for a unit file. */
function exposureOf(unitPath: string): number {
  const tool = findSystemdAnalyze();
  if (!tool) throw new Error('systemd-analyze is not installed: `apt-get install systemd` (it reads the unit offline, no running systemd is needed)');
  // It exits non-zero when the exposure is above its own threshold; the output is what counts here.
  let output: string;
  try {
    output = execFileSync(tool, ['security', '--offline=yes', '--no-pager', unitPath], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    output = String((err as { stdout?: unknown }).stdout ?? '');
  }
  const level = /Overall exposure level for [\w-]+\.service: ([\d.]+)/.exec(output)?.[1];
  expect(level, `no exposure level in systemd-analyze's output:\n${output}`).toBeDefined();
  return Number(level);
}

describe('deploy/hcp-bridge.service hardening', () => {
  const unit = readFileSync(UNIT, 'utf8');

  it(`has a systemd-analyze security exposure of ${MAX_EXPOSURE} or less`, () => {
    expect(exposureOf(UNIT)).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it('still reaches the serial ports (ttyUSB, ttyACM, ttyAMA, ttyS) and USB printers, through dialout and lp', () => {
    expect(directive(unit, 'DevicePolicy')).toEqual(['closed']);
    expect(directive(unit, 'DeviceAllow')).toEqual(expect.arrayContaining(['char-ttyUSB rw', 'char-ttyACM rw', 'char-ttyAMA rw', 'char-ttyS rw', 'char-usb rw']));
    expect(directive(unit, 'SupplementaryGroups').join(' ').split(/\s+/)).toEqual(expect.arrayContaining(['dialout', 'lp', 'audio']));
    // PrivateDevices would hide every tty whatever DeviceAllow says.
    expect(directive(unit, 'PrivateDevices')).toEqual([]);
  });

  it('keeps the network, the state folder (database, terminal key) and the config folder', () => {
    expect(directive(unit, 'RestrictAddressFamilies').join(' ').split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    expect(directive(unit, 'PrivateNetwork')).toEqual([]);
    expect(directive(unit, 'ReadWritePaths').join(' ').split(/\s+/)).toEqual(expect.arrayContaining(['/var/lib/hcp', '/etc/hcp']));
    expect(directive(unit, 'StateDirectory')).toEqual(['hcp']);
    // /proc/sys/kernel/random/boot_id is on every record (bridge/clock.ts).
    expect(directive(unit, 'ProcSubset')).toEqual([]);
    // V8's JIT.
    expect(directive(unit, 'MemoryDenyWriteExecute')).toEqual([]);
  });
});

describe('deploy/hcp-gateway.service hardening', () => {
  const unit = readFileSync(GATEWAY_UNIT, 'utf8');

  it(`has a systemd-analyze security exposure of ${MAX_EXPOSURE} or less`, () => {
    expect(exposureOf(GATEWAY_UNIT)).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it('keeps the network (broker, database, admin API) and its state folder (the embedded database), and runs `hcp gateway`', () => {
    expect(directive(unit, 'RestrictAddressFamilies').join(' ').split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    expect(directive(unit, 'PrivateNetwork')).toEqual([]);
    expect(directive(unit, 'ReadWritePaths')).toEqual(['/var/lib/hcp-gateway']);
    expect(directive(unit, 'StateDirectory')).toEqual(['hcp-gateway']);
    expect(directive(unit, 'MemoryDenyWriteExecute')).toEqual([]);
    expect(directive(unit, 'ExecStart')[0]).toMatch(/hcp\.js gateway --config \S+$/);
  });
});
