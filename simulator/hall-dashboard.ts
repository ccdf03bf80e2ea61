import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addUser, setPassword, UserError } from '../gateway/accounts/users.js';
import { describeScope, type Scope } from '../gateway/accounts/scope.js';
import type { GatewayConfigInput } from '../gateway/config.js';
import type { Database } from '../gateway/db/database.js';
import { systemClock } from '../gateway/ports.js';
import { WebhookReceiver } from './webhook-receiver.js';

/*
 * What a simulated hall adds for its managers: the robots its alerts go to (one local receiver
 * speaking as a WeCom group robot, a DingTalk robot and a generic webhook), and the dashboard's
 * demo accounts, one per level, with a county next door that sees none of this hall.
 */

/** One demo account: made afresh at each start, its password random and written only to an owner-only file. */
export interface DemoAccount {
  username: string;
  password: string;
  scope: Scope;
  /** What it shows the person trying the demo. */
  sees: string;
}

export interface HallAlerts {
  receiver: WebhookReceiver;
  /** gateway.yaml's alerts.channels for the receiver, with its addresses and secret in owner-only files. */
  channels: NonNullable<NonNullable<GatewayConfigInput['alerts']>['channels']>;
}

/** The receiver, and the channel files the gateway reads (a robot's address holds its key: never in a config). */
export async function startHallAlerts(dataDir: string): Promise<HallAlerts> {
  const receiver = await WebhookReceiver.start();
  const dir = join(dataDir, 'alert-robots');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = (name: string, value: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `${value}\n`, { mode: 0o600 });
    return path;
  };
  const channels: HallAlerts['channels'] = [
    { kind: 'wecom', name: '企业微信值班群', urlFile: secret('wecom-url', receiver.wecomUrl) },
    {
      kind: 'dingtalk',
      name: '钉钉值班群',
      urlFile: secret('dingtalk-url', receiver.dingtalkUrl),
      ...(receiver.dingtalkSecret && { secretFile: secret('dingtalk-secret', receiver.dingtalkSecret) }),
    },
    { kind: 'webhook', name: '运维平台', url: receiver.webhookUrl },
  ];
  return { receiver, channels };
}

/** The hall's place, as its terminals are configured (simulator/sim-window.ts). */
export interface HallPlace {
  areaCode: string;
  hallCode: string;
}

/** A county that is not the hall's, in the same city: its account sees nothing of this hall. */
function neighbourCounty(areaCode: string): string {
  const last = Number(areaCode.slice(4));
  return `${areaCode.slice(0, 4)}${String(last >= 98 ? last - 2 : last + 2).padStart(2, '0')}`;
}

/** The demo's accounts, one per level, and the file (mode 600) that lists them with their passwords. */
export async function createDemoAccounts(db: Database, place: HallPlace, file: string, random: (size: number) => Buffer = randomBytes): Promise<DemoAccount[]> {
  const plan: Omit<DemoAccount, 'password'>[] = [
    { username: 'province', scope: { role: 'province', areaPrefix: place.areaCode.slice(0, 2), hallCode: null }, sees: 'every hall of the province' },
    { username: 'city', scope: { role: 'city', areaPrefix: place.areaCode.slice(0, 4), hallCode: null }, sees: 'every hall of the city' },
    { username: 'county', scope: { role: 'county', areaPrefix: place.areaCode, hallCode: null }, sees: 'the halls of this county: this one' },
    { username: 'hall', scope: { role: 'hall', areaPrefix: place.areaCode, hallCode: place.hallCode }, sees: 'this hall only' },
    { username: 'other-county', scope: { role: 'county', areaPrefix: neighbourCounty(place.areaCode), hallCode: null }, sees: 'another county: none of this hall' },
  ];
  const accounts: DemoAccount[] = [];
  for (const account of plan) {
    const password = random(12).toString('base64url');
    const change = { clock: systemClock, actor: 'hcp start' };
    try {
      await addUser(db, { username: account.username, displayName: `演示：${describeScope(account.scope)}`, scope: account.scope, password }, change);
    } catch (err) {
      // A data folder used before (--data-dir): the account is there; it gets this start's password.
      if (!(err instanceof UserError && err.code === 'exists')) throw err;
      await setPassword(db, account.username, password, change);
    }
    accounts.push({ ...account, password });
  }
  const lines = accounts.map((a) => `${a.username.padEnd(13)} ${a.password}   ${describeScope(a.scope).padEnd(16)} ${a.sees}`);
  writeFileSync(file, `# The dashboard's demo accounts of this simulated hall (made afresh at each hcp start)\n# user         password           scope            sees\n${lines.join('\n')}\n`, { mode: 0o600 });
  return accounts;
}
