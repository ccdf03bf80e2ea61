import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeProvinceKeyFile } from '../gateway/province/keygen.js';
import { parseProvinceProfile, type ProvinceProfileInput } from '../gateway/province/profile.js';
import { sm2PublicKeyOf } from '../gateway/province/sm2.js';
import { emulatorOptionsFor } from './province-http/from-profile.js';
import { ProvinceHttpEmulator, type ProvinceHttpOptions } from './province-http/server.js';

/** The simulated hall's province: the HTTP emulator, and the profile the hall's gateway delivers to it with. */
export class HallProvince {
  constructor(
    public emulator: ProvinceHttpEmulator,
    /** The profile written for the gateway (gateway.yaml province.profileFile). */
    readonly profileFile: string,
    private readonly options: ProvinceHttpOptions,
  ) {}

  /**
   * The province stopped and started again on its port with its memory (its ledger): with
   * `appWord`, one that now expects another appWord from us (as when a province rotates it), so
   * that every call is refused until it is started again without.
   */
  async restart(changes: { appWord?: string } = {}): Promise<ProvinceHttpEmulator> {
    const port = Number(new URL(this.emulator.url).port);
    await this.emulator.stop();
    const known = this.options.callers instanceof Map ? [...this.options.callers] : Object.entries(this.options.callers);
    const callers = Object.fromEntries(known.map(([mark, caller]) => [mark, { ...caller, ...(changes.appWord !== undefined && { appWord: changes.appWord }) }]));
    this.emulator = await ProvinceHttpEmulator.start({ ...this.options, callers, port, ledger: this.emulator.ledger });
    return this.emulator;
  }

  stop(): Promise<void> {
    return this.emulator.stop();
  }
}

/**
 * The simulated province's own profile (national style: pf 4, 5 = 非常满意, the gateway's rating
 * page); a test may give another (docs/province-profiles/*.yaml): its endpoints, keys and pace are
 * replaced by the emulator's and the data folder's.
 */
export const SIMULATED_PROVINCE: ProvinceProfileInput = {
  name: '模拟省好差评系统（simulated province）',
  endpoints: { service: 'http://127.0.0.1/', evaluation: 'http://127.0.0.1/' },
  appMark: 'HCP-SIM-HALL',
  sm2: { privateKeyFile: 'sm2-private.hex', publicKey: '' },
  dataSource: '330',
  channels: { counter: 4, receiptQr: 3 },
  satisfaction: 'five_is_best',
  deptCode: '11330106MB0000000X',
  rateLater: { mode: 'gateway', periodDays: 7 },
};

/**
 * Starts the province emulator for `hcp start` and writes, in the data folder, what a hall's
 * operator would have been given and made: the gateway's SM2 key (made once, kept), the appWord
 * (made once), and the profile pointing at the emulator, with a demo's short backoff so that a
 * province brought back from a fault is seen catching up at once.
 */
export async function startHallProvince(dataDir: string, options: { port?: number; profile?: ProvinceProfileInput } = {}): Promise<HallProvince> {
  const dir = join(dataDir, 'province');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'sm2-private.hex');
  const publicKey = existsSync(keyFile) ? sm2PublicKeyOf(readFileSync(keyFile, 'utf8').trim()) : writeProvinceKeyFile(keyFile).publicKey;
  const appWordFile = join(dir, 'appword');
  if (!existsSync(appWordFile)) writeFileSync(appWordFile, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  const appWord = readFileSync(appWordFile, 'utf8').trim();

  const profileFor = (url: string): ProvinceProfileInput => ({
    ...(options.profile ?? SIMULATED_PROVINCE),
    endpoints: { service: `${url}/api/hcp/service`, evaluation: `${url}/api/hcp/evaluation` },
    allowInsecureHttp: true,
    appWordFile,
    appWordEnv: undefined,
    sm2: { ...(options.profile ?? SIMULATED_PROVINCE).sm2, privateKeyFile: keyFile, publicKey },
    http: { timeoutMs: 5000, perSecond: 20, maxAttemptsBeforeAlert: 5, backoff: { baseMs: 1000, maxMs: 15_000 } },
  });
  // The emulator's settings come from the profile (paths, grade direction, signature format); its port is its own.
  const emulatorOptions = { port: options.port ?? 0, ...emulatorOptionsFor(parseProvinceProfile(profileFor('http://127.0.0.1')), appWord) };
  const emulator = await ProvinceHttpEmulator.start(emulatorOptions);
  const profileFile = join(dir, 'profile.yaml');
  writeFileSync(profileFile, `# Written by hcp start for its simulated province (docs/province-profile.md).\n${stringify(profileFor(emulator.url))}`);
  return new HallProvince(emulator, profileFile, emulatorOptions);
}
