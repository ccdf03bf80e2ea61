import { execFile } from 'node:child_process';

/** The machine's clocks as they are, untrusted: injected so tests can jump the wall clock. */
export interface WallSource {
  wallMs(): number;
  monoMs(): number;
  /** Whether the OS says NTP has synchronised the wall clock; undefined where it cannot tell. */
  ntpSynced(): Promise<boolean | undefined>;
}

/** `timedatectl` (systemd-timesyncd on Raspberry Pi OS) knows; where it is missing we cannot tell. */
export function timedatectlSynced(): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 2000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      const value = stdout.trim();
      resolve(value === 'yes' ? true : value === 'no' ? false : undefined);
    });
  });
}

export const systemWall: WallSource = {
  wallMs: () => Date.now(),
  // CLOCK_MONOTONIC on Linux: counts from boot, unaffected by wall-clock jumps.
  monoMs: () => Number(process.hrtime.bigint() / 1_000_000n),
  ntpSynced: timedatectlSynced,
};
