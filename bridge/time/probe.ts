import { fail, ok, warn, type CheckResult } from '../diagnose/check.js';
import { timedatectlSynced } from './wall-source.js';

export async function checkClock(ntpSynced: () => Promise<boolean | undefined> = timedatectlSynced): Promise<CheckResult> {
  const name = 'clock';
  let synced: boolean | undefined;
  try {
    synced = await ntpSynced();
  } catch {
    synced = undefined;
  }
  if (synced === true) return ok(name, 'synchronised by NTP');
  if (synced === false) {
    return fail(name, 'not synchronised: records will wait for the province\'s time, then go flagged clock_unsynced', [
      'check the network, then `sudo timedatectl set-ntp true` and `timedatectl timesync-status`',
    ]);
  }
  return warn(name, 'unknown: `timedatectl` is missing or cannot tell (no systemd here?); the bridge takes the province\'s time once it reaches the broker', [
    'on the Pi, `timedatectl show -p NTPSynchronized --value` should say yes',
  ]);
}
