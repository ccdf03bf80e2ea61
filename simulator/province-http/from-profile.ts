import type { ProvinceProfile } from '../../gateway/province/profile.js';
import type { ProvinceHttpOptions } from './server.js';

/**
 * The emulator's settings that play the province a profile was written for: its caller (the
 * profile's appMark with our public key and the appWord), grade direction, signature format and
 * user id, time format and window, area code length, and the endpoints' paths. Port and host are the caller's.
 */
export function emulatorOptionsFor(profile: ProvinceProfile, appWord: string): Omit<ProvinceHttpOptions, 'port' | 'host'> {
  return {
    callers: { [profile.appMark]: { appWord, publicKey: profile.sm2.publicKey } },
    satisfaction: profile.satisfaction,
    signatureFormat: profile.sm2.signatureFormat,
    userId: profile.sm2.userId,
    timeFormat: profile.time.envelope,
    timeWindowMs: profile.time.windowSeconds * 1000,
    areaCodeDigits: profile.areaCodeDigits,
    paths: { service: new URL(profile.endpoints.service).pathname, evaluation: new URL(profile.endpoints.evaluation).pathname },
  };
}
