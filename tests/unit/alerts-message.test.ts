import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { failureText, withoutAddresses } from '../../gateway/alerts/channels/channel.js';
import { DingtalkChannel, dingtalkSign, signedDingtalkUrl } from '../../gateway/alerts/channels/dingtalk.js';
import { channelsFromConfig } from '../../gateway/alerts/channels/from-config.js';
import { WebhookChannel, webhookSignature } from '../../gateway/alerts/channels/webhook.js';
import { WecomChannel, withinBytes } from '../../gateway/alerts/channels/wecom.js';
import { alertLink, alertMessage, escapeMarkdown, localTime, type MessageAlert } from '../../gateway/alerts/message.js';
import { ROBOT_ERRORS, WebhookReceiver } from '../../simulator/webhook-receiver.js';

const NOW = new Date('2026-11-30T02:20:00Z');
const clock = { now: () => NOW };

const badReview: MessageAlert = {
  id: '17',
  kind: 'bad_review',
  terminalId: 'T-LX-07',
  areaCode: '370102',
  hallCode: 'hall-lixia',
  windowNo: '7',
  detail: { grade: 'dissatisfied', reasons: ['R01', 'R09'], channel: 'receipt_qr' },
  occurredAt: new Date('2026-11-30T02:15:07Z'),
  notifyCount: 0,
};

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
function file(text: string, mode = 0o600): string {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-alerts-unit-'));
  temps.push(dir);
  const path = join(dir, 'f');
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe('the alert message', () => {
  it('a bad review: hall, window, grade, reasons by label, source, local time, link', () => {
    const m = alertMessage(badReview, { timeZone: 'Asia/Shanghai', dashboardUrl: 'https://hall.example.gov.cn/dash/', reasonLabel: (c) => (c === 'R01' ? '服务态度差' : undefined) });
    expect(m.markdown.split('\n')).toEqual([
      '### 差评提醒',
      '- 大厅：hall-lixia',
      '- 窗口：7号窗口',
      '- 评价：不满意',
      '- 原因：服务态度差、R09',
      '- 来源：回执二维码',
      '- 评价时间：2026-11-30 10:15',
      '[在看板中查看并确认](https://hall.example.gov.cn/dash/?alert=17#alerts)',
    ]);
    expect(m.title).toBe('差评提醒：hall-lixia 7号窗口 不满意');
    expect(m.text.split('\n')[1]).toBe('大厅：hall-lixia');
    expect(m.link).toBe('https://hall.example.gov.cn/dash/?alert=17#alerts');
  });

  it('a repeat says so; without publicUrl there is no link; faults name the terminal and the time', () => {
    const repeat = alertMessage({ ...badReview, notifyCount: 2, detail: { grade: 'very_dissatisfied', reasons: [] } }, { timeZone: 'Asia/Shanghai' });
    expect(repeat.markdown).toMatch(/^### 差评提醒（第3次，尚未确认）\n/);
    expect(repeat.markdown).toContain('- 原因：未选择原因');
    expect(repeat.link).toBeNull();
    expect(repeat.markdown).not.toContain('](');
    const backlog = alertMessage({ ...badReview, kind: 'backlog_old', windowNo: null, detail: { pending: 12, oldestPendingHours: 3.4 } }, { timeZone: 'Asia/Shanghai' });
    expect(backlog.markdown.split('\n')).toEqual(['### 记录积压未上传提醒', '- 大厅：hall-lixia', '- 评价器：T-LX-07', '- 积压：12条，最早的已3小时', '- 开始时间：2026-11-30 10:15']);
  });

  it('values are inert: no markdown, no tags, no line breaks, bounded', () => {
    expect(escapeMarkdown('**[点此](http://evil.example)** <font color="red">#x</font>\n### h')).toBe('＊＊［点此］（http://evil.example）＊＊ ＜font color=＂red＂＞＃x＜/font＞ ＃＃＃ h');
    expect(escapeMarkdown('a\u202eb\u2028c')).toBe('a b c');
    expect(escapeMarkdown('x'.repeat(100), 10)).toBe(`${'x'.repeat(10)}…`);
    const hostile = alertMessage({ ...badReview, hallCode: 'H\n### 点我[x](http://e)', windowNo: '1\n- 伪造' }, { timeZone: 'Asia/Shanghai' });
    expect(hostile.markdown.split('\n')).toHaveLength(7);
    expect(hostile.markdown).toContain('- 大厅：H ＃＃＃ 点我［x］（http://e）');
  });

  it('times in the configured zone; a link only from a URL', () => {
    expect(localTime(new Date('2026-11-30T16:05:00Z'), 'Asia/Shanghai')).toBe('2026-12-01 00:05');
    expect(localTime(new Date('2026-11-30T16:05:00Z'), 'UTC')).toBe('2026-11-30 16:05');
    expect(localTime(new Date(Number.NaN), 'UTC')).toBe('时间未知');
    expect(alertLink('not a url', '1')).toBeNull();
    expect(alertLink('https://h.example/a(b)', '5')).toBe('https://h.example/a%28b%29/?alert=5#alerts');
  });
});

describe('channel formats', () => {
  it('DingTalk 加签: base64 HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, URL-encoded', () => {
    // The test vector of the dingding crate (docs.rs, signature.rs): timestamp 1700000000000, secret "secret".
    expect(encodeURIComponent(dingtalkSign('1700000000000', 'secret'))).toBe('OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D');
    const url = new URL(signedDingtalkUrl('https://oapi.dingtalk.com/robot/send?access_token=abc', 'secret', new Date(1_700_000_000_000)));
    expect(url.searchParams.get('access_token')).toBe('abc');
    expect(url.searchParams.get('timestamp')).toBe('1700000000000');
    expect(url.search).toContain('sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D');
  });

  it('the webhook signature is the hex HMAC-SHA256 of the body', () => {
    expect(webhookSignature('{"a":1}', 'k')).toBe(`sha256=${createHmac('sha256', 'k').update('{"a":1}').digest('hex')}`);
  });

  it('WeCom content is cut to 4096 bytes at a line, never inside a character', () => {
    const long = Array.from({ length: 400 }, (_, i) => `- 第${i}行：差评`).join('\n');
    const cut = withinBytes(long, 4096);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(4096);
    expect(long.startsWith(cut)).toBe(true);
    expect(cut.endsWith('差评')).toBe(true);
    expect(withinBytes('差'.repeat(2000), 10)).toBe('差差差');
  });

  it('failures name no address or key', () => {
    expect(withoutAddresses('connect ECONNREFUSED at https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY now')).toBe('connect ECONNREFUSED at https://qyapi.weixin.qq.com/… now');
    expect(failureText(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe('fetch failed (ECONNREFUSED)');
    expect(failureText(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toBe('no answer in time');
  });
});

describe('channels against the webhook receiver', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await WebhookReceiver.start({ clock, webhookSecret: 'hook' });
  });
  afterEach(async () => {
    await receiver.stop();
  });
  const message = alertMessage(badReview, { timeZone: 'Asia/Shanghai' });

  it('WeCom: ok with its key; errcode 93000 with another; a dropped connection is a failure', async () => {
    expect(await new WecomChannel({ name: 'w', url: receiver.wecomUrl, clock }).send(message)).toEqual({ ok: true });
    const wrong = await new WecomChannel({ name: 'w', url: `${receiver.url}/cgi-bin/webhook/send?key=nope`, clock }).send(message);
    expect(wrong).toEqual({ ok: false, message: `HTTP 200, errcode ${ROBOT_ERRORS.wecomBadKey.errcode}: ${ROBOT_ERRORS.wecomBadKey.errmsg}` });
    receiver.failNext('wecom', 1, { drop: true });
    const dropped = await new WecomChannel({ name: 'w', url: receiver.wecomUrl, clock }).send(message);
    expect(dropped.ok).toBe(false);
    expect(JSON.stringify(dropped)).not.toContain(receiver.wecomKey);
  });

  it('DingTalk: signed and in time is ok; a timestamp over an hour off is refused; no secret where one is wanted is refused', async () => {
    const secret = receiver.dingtalkSecret!;
    expect(await new DingtalkChannel({ name: 'd', url: receiver.dingtalkUrl, secret, clock }).send(message)).toEqual({ ok: true });
    const early = { now: () => new Date(NOW.getTime() - 3601_000) };
    expect(await new DingtalkChannel({ name: 'd', url: receiver.dingtalkUrl, secret, clock: early }).send(message)).toEqual({ ok: false, message: 'HTTP 200, errcode 310000: invalid timestamp' });
    expect(await new DingtalkChannel({ name: 'd', url: receiver.dingtalkUrl, secret: undefined, clock }).send(message)).toEqual({ ok: false, message: 'HTTP 200, errcode 310000: invalid timestamp' });
    expect(await new DingtalkChannel({ name: 'd', url: `${receiver.url}/robot/send?access_token=x`, secret, clock }).send(message)).toEqual({ ok: false, message: 'HTTP 200, errcode 300001: token is not exist' });
  });

  it('webhook: signed is ok; unsigned or signed with another secret is 401; a slow receiver times out', async () => {
    expect(await new WebhookChannel({ name: 'h', url: receiver.webhookUrl, secret: 'hook', clock }).send(message, badReview)).toEqual({ ok: true });
    expect(await new WebhookChannel({ name: 'h', url: receiver.webhookUrl, secret: undefined, clock }).send(message, badReview)).toEqual({ ok: false, message: 'HTTP 401' });
    expect(await new WebhookChannel({ name: 'h', url: receiver.webhookUrl, secret: 'other', clock }).send(message, badReview)).toEqual({ ok: false, message: 'HTTP 401' });
    receiver.slow(500);
    expect(await new WebhookChannel({ name: 'h', url: receiver.webhookUrl, secret: 'hook', clock }, { timeoutMs: 50 }).send(message, badReview)).toEqual({ ok: false, message: 'no answer in time' });
    expect(receiver.accepted('webhook')).toHaveLength(1);
  });
});

describe('channels from gateway.yaml', () => {
  it('reads addresses and secrets from owner-only files and names channels', () => {
    const channels = channelsFromConfig(
      [
        { kind: 'wecom', urlFile: file('https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\n') },
        { kind: 'dingtalk', name: '值班群', urlFile: file('https://oapi.dingtalk.com/robot/send?access_token=t'), secretFile: file('SECabc') },
        { kind: 'webhook', url: 'https://ops.example/hcp' },
      ],
      { clock },
    );
    expect(channels.map((c) => [c.kind, c.name])).toEqual([
      ['wecom', 'wecom#1'],
      ['dingtalk', '值班群'],
      ['webhook', 'webhook#3'],
    ]);
  });

  it('refuses a file others may read, one without an address, an empty one, and two channels of one name, without showing the content', () => {
    const refusal = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refusal(() => channelsFromConfig([{ kind: 'wecom', urlFile: file('https://q.example/?key=SECRET', 0o644) }], { clock }))).toMatch(/alerts\.channels\.0\.urlFile .* other users may read it/);
    const notUrl = refusal(() => channelsFromConfig([{ kind: 'wecom', urlFile: file('SECRET-TEXT') }], { clock }));
    expect(notUrl).toMatch(/does not hold an http\(s\) address/);
    expect(notUrl).not.toContain('SECRET-TEXT');
    expect(refusal(() => channelsFromConfig([{ kind: 'dingtalk', urlFile: file('https://d.example/robot'), secretFile: file('\n') }], { clock }))).toMatch(/secretFile .* is empty/);
    expect(refusal(() => channelsFromConfig([{ kind: 'webhook', name: 'a', url: 'https://a.example' }, { kind: 'webhook', name: 'a', url: 'https://b.example' }], { clock }))).toMatch(/"a" is used twice/);
    expect(refusal(() => channelsFromConfig([{ kind: 'wecom', urlFile: '/nonexistent/hcp-url' }], { clock }))).toMatch(/cannot be read/);
  });
});
