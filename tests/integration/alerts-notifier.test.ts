import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acknowledge, listAlerts } from '../../gateway/alerts/alert-store.js';
import { channelsFromConfig } from '../../gateway/alerts/channels/from-config.js';
import { FaultScanner } from '../../gateway/alerts/fault-scan.js';
import { AlertNotifier, type AlertNotifierDeps } from '../../gateway/alerts/notifier.js';
import { WEEKDAYS_CALENDAR } from '../../gateway/alerts/working-days.js';
import type { Database } from '../../gateway/db/database.js';
import type { Clock } from '../../gateway/ports.js';
import { hostTimers } from '../../protocol/timers.js';
import { waitUntil } from '../../simulator/wait.js';
import { WebhookReceiver, type ReceivedMessage } from '../../simulator/webhook-receiver.js';
import { databasePerTest, gatewayDatabaseEngines } from '../support/db-engines.js';
import { ManualTimers } from '../support/manual-timers.js';
import { addTerminal, PROVINCE, storeRating } from './alerts-fixture.js';

/**
 * The notifier against the webhook receiver over real HTTP: a WeCom robot, a DingTalk robot with
 * 加签 (the receiver checks the signature and the timestamp) and a signed generic webhook.
 */

const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });
const START = Date.parse('2026-11-30T02:20:00Z');
const logger = pino({ level: 'silent' });
const REASONS: Record<string, string> = { R01: '服务态度差', R02: '办事效率低' };

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function secretFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-alerts-'));
  temps.push(dir);
  const path = join(dir, 'secret');
  writeFileSync(path, `${text}\n`);
  chmodSync(path, 0o600);
  return path;
}

function channelsFor(receiver: WebhookReceiver, clock: Clock) {
  return channelsFromConfig(
    [
      { kind: 'wecom', urlFile: secretFile(receiver.wecomUrl) },
      { kind: 'dingtalk', urlFile: secretFile(receiver.dingtalkUrl), secretFile: secretFile(receiver.dingtalkSecret ?? '') },
      { kind: 'webhook', name: 'ops', url: receiver.webhookUrl, secretFile: secretFile('hook-secret') },
    ],
    { clock, timeoutMs: 5000 },
  );
}

const of = (channel: ReceivedMessage['channel']) => (m: ReceivedMessage) => m.channel === channel;

describe.each(engines)('alert notifier on $name', (engine) => {
  let db: Database;
  let receiver: WebhookReceiver;
  let timers: ManualTimers;
  let clock: Clock;
  const notifiers: AlertNotifier[] = [];
  const others: Database[] = [];

  const database = databasePerTest(engine);
  beforeEach(async () => {
    db = database();
    timers = new ManualTimers();
    clock = { now: () => new Date(START + timers.now()) };
    receiver = await WebhookReceiver.start({ clock, webhookSecret: 'hook-secret' });
  });
  afterEach(async () => {
    await Promise.all(notifiers.splice(0).map((n) => n.stop()));
    await Promise.all(others.splice(0).map((d) => d.close()));
    await receiver.stop();
  });

  function notifier(more: Partial<AlertNotifierDeps> = {}): AlertNotifier {
    const n = new AlertNotifier({
      db,
      channels: channelsFor(receiver, clock),
      instance: 'gw-1',
      clock,
      timers,
      logger,
      repeatMinutes: 15,
      maxRepeats: 2,
      timeZone: 'Asia/Shanghai',
      dashboardUrl: 'https://hall.example.gov.cn/dashboard',
      reasonLabel: (code) => REASONS[code],
      ...more,
    });
    notifiers.push(n);
    return n;
  }

  /** Kicks the notifier and resolves once it has looked again and sleeps (the sends it was making are recorded; a timer advanced now wakes it). */
  async function looks(n: AlertNotifier): Promise<void> {
    const target = n.status().looks + 1;
    n.kick();
    await waitUntil(() => n.status().looks >= target && n.status().idle, 'the notifier to look again and wait');
  }

  it('a bad review reaches every channel within one kick, in Chinese, with nothing personal in it', async () => {
    const n = notifier();
    await n.start();
    const record = await storeRating(db, 'very_dissatisfied', { windowNo: '12' });
    n.kick();
    const [wecom, dingtalk, webhook] = await Promise.all([receiver.waitFor(of('wecom')), receiver.waitFor(of('dingtalk')), receiver.waitFor(of('webhook'))]);
    for (const m of [wecom, dingtalk, webhook]) expect(m.accepted, JSON.stringify(m.answer)).toBe(true);
    expect(wecom.markdown).toBe(
      [
        '### 差评提醒',
        '- 大厅：hall-lixia',
        '- 窗口：12号窗口',
        '- 评价：非常不满意',
        '- 原因：办事效率低',
        '- 来源：窗口评价器',
        '- 评价时间：2026-11-30 10:15',
        `[在看板中查看并确认](https://hall.example.gov.cn/dashboard/?alert=${(await listAlerts(db, listOptions())).rows[0]!.id}#alerts)`,
      ].join('\n'),
    );
    expect(dingtalk.body).toMatchObject({ msgtype: 'markdown', markdown: { title: '差评提醒：hall-lixia 12号窗口 非常不满意', text: wecom.markdown } });
    expect(webhook.body).toMatchObject({ type: 'hcp.alert', kind: 'bad_review', grade: 'very_dissatisfied', gradeZh: '非常不满意', hallCode: 'hall-lixia', windowNo: '12', markdown: wecom.markdown });
    expect(webhook.headers['x-hcp-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    // No case number, staff id, item or terminal key anywhere in what left.
    const everything = JSON.stringify(receiver.received.map((m) => m.body));
    for (const personal of [record.services[0]!.caseNo, record.staffId!, record.services[0]!.itemCode, record.services[0]!.itemName!]) expect(everything).not.toContain(personal);
    await looks(n);
    expect(n.status()).toMatchObject({ sent: 3, failed: 0, lastError: null });
    const [row] = (await listAlerts(db, listOptions())).rows;
    expect(row).toMatchObject({ notifyCount: 1, notifiedAt: clock.now(), notifyError: null });
  });

  it('repeats every repeatMinutes until acknowledged; then never again', async () => {
    const n = notifier({ maxRepeats: 8 });
    await n.start();
    await storeRating(db, 'dissatisfied');
    n.kick();
    await receiver.waitFor(of('webhook'));
    await looks(n);
    timers.advance(14 * 60_000);
    await looks(n);
    expect(receiver.accepted('wecom')).toHaveLength(1);
    timers.advance(60_000);
    const second = await receiver.waitFor((m) => m.channel === 'wecom' && (m.markdown ?? '').includes('第2次'));
    expect(second.markdown).toMatch(/^### 差评提醒（第2次，尚未确认）/);
    await receiver.waitFor((m) => m.channel === 'dingtalk' && (m.markdown ?? '').includes('第2次'));
    await receiver.waitFor((m) => m.channel === 'webhook' && (m.body as { repeat?: number }).repeat === 1);
    const id = (await listAlerts(db, listOptions())).rows[0]!.id;
    expect(await acknowledge(db, { id, actor: 'duty', scope: PROVINCE, now: clock.now() })).toBe('ok');
    timers.advance(60 * 60_000);
    await looks(n);
    expect(receiver.accepted()).toHaveLength(6);
  });

  it('stops after maxRepeats repeats', async () => {
    const n = notifier({ maxRepeats: 2 });
    await n.start();
    await storeRating(db, 'dissatisfied');
    n.kick();
    for (let send = 1; send <= 3; send += 1) {
      await waitUntil(() => receiver.accepted().length === 3 * send, `send ${send}`);
      await looks(n);
      timers.advance(15 * 60_000);
    }
    await looks(n);
    timers.advance(15 * 60_000);
    await looks(n);
    expect(receiver.accepted()).toHaveLength(9);
    const [row] = (await listAlerts(db, listOptions())).rows;
    expect(row?.notifyCount).toBe(3);
  });

  it('a failing channel is retried alone, after a backoff, without holding the others', async () => {
    receiver.failNext('wecom', 2);
    // The backoff's jitter at its top: the waits are 30 s, then 60 s.
    const n = notifier({ retryMs: 30_000, random: () => 1 });
    await n.start();
    await storeRating(db, 'dissatisfied');
    n.kick();
    await Promise.all([receiver.waitFor((m) => m.channel === 'dingtalk' && m.accepted), receiver.waitFor((m) => m.channel === 'webhook' && m.accepted)]);
    await waitUntil(() => n.status().failed === 1, 'the wecom failure recorded');
    await looks(n);
    let [row] = (await listAlerts(db, listOptions())).rows;
    expect(row?.notifyCount).toBe(0);
    expect(row?.notifyError).toBe('wecom#1: HTTP 200, errcode 45009: api freq out of limit');
    expect(row?.notifyError).not.toContain(receiver.wecomKey);
    // 30 s: wecom again (fails), alone.
    timers.advance(30_000);
    await waitUntil(() => n.status().failed === 2, 'the second wecom failure');
    await looks(n);
    // 60 s more (doubled): it takes it.
    timers.advance(59_000);
    await looks(n);
    expect(receiver.accepted('wecom')).toHaveLength(0);
    // (the poll it sleeps in ends at 94 s: a kick looks now)
    timers.advance(1000);
    n.kick();
    await receiver.waitFor((m) => m.channel === 'wecom' && m.accepted);
    await looks(n);
    expect(receiver.received.map((m) => m.channel).sort()).toEqual(['dingtalk', 'webhook', 'wecom', 'wecom', 'wecom']);
    [row] = (await listAlerts(db, listOptions())).rows;
    expect(row).toMatchObject({ notifyCount: 1, notifyError: null });
    expect(n.status().channels.map((c) => [c.name, c.sent, c.failed])).toEqual([
      ['wecom#1', 1, 2],
      ['dingtalk#2', 1, 0],
      ['ops', 1, 0],
    ]);
  });

  it('a channel that keeps failing gets the next repeat with the others once its backoff reaches repeatMinutes; maxRepeats applies to it', async () => {
    receiver.failNext('wecom', 100);
    // Retries of wecom alone after 5 and 10 minutes; the next would wait 20 ≥ 15: the send is over, the repeat due at 15 minutes after.
    const n = notifier({ retryMs: 5 * 60_000, maxRepeats: 1, random: () => 1 });
    await n.start();
    await storeRating(db, 'dissatisfied');
    n.kick();
    await waitUntil(() => n.status().failed === 1 && receiver.accepted().length === 2, 'the first send');
    await looks(n);
    const step = async (minutes: number, failed: number, accepted: number): Promise<void> => {
      timers.advance(minutes * 60_000);
      await waitUntil(() => n.status().failed === failed && receiver.accepted().length === accepted, `${failed} wecom failures, ${accepted} accepted`);
      await looks(n);
    };
    await step(5, 2, 2);
    await step(10, 3, 2);
    let [row] = (await listAlerts(db, listOptions())).rows;
    expect(row).toMatchObject({ notifyCount: 1, notifyError: expect.stringContaining('wecom#1: HTTP 200, errcode 45009') });
    // Not held back: 15 minutes on, the repeat (第2次) reaches the other two; wecom is tried with them and fails again.
    await step(14, 3, 2);
    await step(1, 4, 4);
    expect(receiver.accepted('dingtalk').map((m) => (m.markdown ?? '').includes('第2次'))).toEqual([false, true]);
    await step(5, 5, 4);
    await step(10, 6, 4);
    // maxRepeats 1: that was the last; nothing more for anyone.
    timers.advance(120 * 60_000);
    await looks(n);
    expect(receiver.received.filter(of('wecom'))).toHaveLength(6);
    expect(receiver.accepted()).toHaveLength(4);
    [row] = (await listAlerts(db, listOptions())).rows;
    expect(row?.notifyCount).toBe(2);
  });

  it('a failed channel waits half to all of the doubled backoff, by the randomness given', async () => {
    receiver.failNext('wecom', 1);
    const n = notifier({ retryMs: 60_000, random: () => 0 });
    await n.start();
    await storeRating(db, 'dissatisfied');
    n.kick();
    await waitUntil(() => n.status().failed === 1 && receiver.accepted().length === 2, 'the first send');
    await looks(n);
    // random 0: half of 60 s.
    timers.advance(29_000);
    await looks(n);
    expect(receiver.accepted('wecom')).toHaveLength(0);
    timers.advance(1000);
    n.kick();
    await receiver.waitFor((m) => m.channel === 'wecom' && m.accepted);
  });

  it('a DingTalk robot that refuses the signature is a failure with its errcode', async () => {
    const wrong = channelsFromConfig([{ kind: 'dingtalk', urlFile: secretFile(receiver.dingtalkUrl), secretFile: secretFile('SECnot-the-right-one') }], { clock });
    const n = notifier({ channels: wrong });
    await n.start();
    await storeRating(db, 'dissatisfied');
    n.kick();
    const refused = await receiver.waitFor(of('dingtalk'));
    expect(refused.answer.body).toEqual({ errcode: 310000, errmsg: 'sign not match' });
    await waitUntil(() => n.status().failed === 1, 'the failure counted');
    expect(n.status().lastError?.message).toBe('dingtalk#1: HTTP 200, errcode 310000: sign not match');
  });

  it('a send left claimed by a crash: the same instance sends it at once on restart; another only after the lease', async () => {
    await storeRating(db, 'dissatisfied');
    // gw-1 claimed it and died before recording the send.
    await db.query(`UPDATE alerts SET claimed_by = 'gw-1', claimed_at = $1, notify_due_at = $2`, [clock.now(), new Date(START + 80_000)]);
    const other = notifier({ instance: 'gw-2' });
    await other.start();
    await looks(other);
    expect(receiver.received).toHaveLength(0);
    timers.advance(80_000);
    await receiver.waitFor(of('webhook'));
    await looks(other);
    await other.stop();
    await db.query(`UPDATE alerts SET claimed_by = 'gw-1', claimed_at = $1, notify_due_at = $2, notify_count = 0`, [clock.now(), new Date(clock.now().getTime() + 80_000)]);
    receiver.clear();
    const restarted = notifier({ instance: 'gw-1' });
    await restarted.start();
    restarted.kick();
    await Promise.all([receiver.waitFor(of('wecom')), receiver.waitFor(of('dingtalk')), receiver.waitFor(of('webhook'))]);
  });

  it('a fault found by the scan is sent at once, in words a duty manager reads', async () => {
    const n = notifier();
    await n.start();
    await addTerminal(db, { id: 'T-OFF', windowNo: '3', online: false, stateAt: new Date(START - 15 * 60_000), lastSeen: new Date(START - 15 * 60_000) });
    const scanner = new FaultScanner({ db, clock, timers, logger, settings: { offlineMinutes: 10, backlogHours: 2, clockUnsynced: true, paperOut: true }, onRaised: () => n.kick() });
    await scanner.scanNow();
    const m = await receiver.waitFor(of('wecom'));
    expect(m.markdown?.split('\n').slice(0, 4)).toEqual(['### 评价器离线提醒', '- 大厅：hall-lixia', '- 窗口：3号窗口', '- 评价器：T-OFF']);
    expect(m.markdown).toContain('- 开始时间：2026-11-30 10:05');
  });

  it('two notifiers on one database send each alert once', async () => {
    const second = await engine.another(db);
    if (second !== db) others.push(second);
    const real: Clock = { now: () => new Date() };
    await receiver.stop();
    receiver = await WebhookReceiver.start({ webhookSecret: 'hook-secret' });
    const a = notifier({ clock: real, timers: hostTimers, pollMs: 20, instance: 'gw-a', channels: channelsFor(receiver, real) });
    const b = notifier({ db: second, clock: real, timers: hostTimers, pollMs: 20, instance: 'gw-b', channels: channelsFor(receiver, real), batchSize: 3 });
    for (let i = 0; i < 12; i += 1) await storeRating(db, 'dissatisfied', {}, new Date(Date.now() - 1000));
    await Promise.all([a.start(), b.start()]);
    await waitUntil(() => a.status().sent + b.status().sent >= 36, 'every alert at every channel', { timeoutMs: 20_000 });
    await Promise.all([looks(a), looks(b)]);
    const ids = receiver.accepted('webhook').map((m) => (m.body as { id: string }).id);
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
    expect(receiver.received).toHaveLength(36);
    expect(a.status().sent + b.status().sent).toBe(36);
  });
});

function listOptions() {
  return {
    scope: PROVINCE,
    state: 'all' as const,
    limit: 50,
    offset: 0,
    timeZone: 'Asia/Shanghai',
    followUp: { callbackWorkingDays: 1, appealWorkingDays: 5, rectifyWorkingDays: 15 },
    calendar: WEEKDAYS_CALENDAR,
    now: new Date(START),
  };
}
