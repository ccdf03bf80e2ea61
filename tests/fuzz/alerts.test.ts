import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../bridge/config.js';
import { robotResult } from '../../gateway/alerts/channels/channel.js';
import { webhookBody } from '../../gateway/alerts/channels/webhook.js';
import { ALERT_KINDS, FAULT_KINDS, readAlertDetail } from '../../gateway/alerts/detail.js';
import { terminalFaults } from '../../gateway/alerts/fault-scan.js';
import { alertMessage, escapeMarkdown, type MessageAlert } from '../../gateway/alerts/message.js';
import { followUpClocks, parseWorkingCalendar, WEEKDAYS_CALENDAR } from '../../gateway/alerts/working-days.js';
import { WebhookReceiver } from '../../simulator/webhook-receiver.js';
import { pathChars, printedShort, send } from '../support/fuzz-http.js';

/**
 * The alerts' boundaries with hostile input: the calendar file a hall writes (refused with a
 * ConfigError or read, never another exception), the telemetry terminals send (never a throw,
 * only known fault kinds), alert details and places from the database (a message always, every
 * value inert in the markdown), and what a robot answers (sent only on errcode 0).
 */
const SEED = 20261130;
// eslint-disable-next-line no-control-regex
const LINE_BREAK = /[\n\r\u0000]/;
const hostileKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'holidays', 'workdays', 'grade', 'reasons', 'channel', 'via', 'flags', 'pending', 'oldestPendingHours', 'printerCondition', 'backlog', 'clock', 'printer', 'alarms', 'synced', 'condition', 'oldestPendingAgeMs', 'errcode', 'errmsg');
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom(...'\\`*_[]()<>!|~#&"\n\r\t\u0000\u2028\u202e\ud800 -.:/h'), maxLength: 40 }),
  fc.constantFrom('**[点此](http://evil.example)**', '<font color="warning">x</font>', '\n### 伪造标题', '![img](http://e/x.png)', 'very_dissatisfied', 'paper_out', 'clock_unsynced', '2026-02-30', '2026-10-01'),
);
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileText,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 6 }),
  ),
})).value;
const day = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
const instant = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-12-31T00:00:00Z'), noInvalidDate: true });
const zone = fc.constantFrom('Asia/Shanghai', 'UTC', 'Europe/London', 'America/New_York', 'Asia/Urumqi');

describe('the working-day calendar file', () => {
  it('hostile contents are a ConfigError or a calendar of real days, never another exception', () => {
    const input = fc.oneof(anyValue, fc.record({ holidays: fc.array(fc.oneof(day, hostileText), { maxLength: 8 }), workdays: fc.array(fc.oneof(day, hostileText), { maxLength: 8 }) }, { requiredKeys: [] }));
    fc.assert(
      fc.property(input, (value) => {
        try {
          const calendar = parseWorkingCalendar(value, 'calendar.yaml');
          for (const d of [...calendar.holidays, ...calendar.workdays]) expect(new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10)).toBe(d);
          for (const d of calendar.workdays) expect(calendar.holidays.has(d)).toBe(false);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('any calendar and dates give clocks in order, each due after the day it happened, left never above the days given', () => {
    const calendar = fc
      .record({ holidays: fc.uniqueArray(day, { maxLength: 60 }), workdays: fc.uniqueArray(day, { maxLength: 20 }) })
      .map(({ holidays, workdays }) => parseWorkingCalendar({ holidays, workdays: workdays.filter((d) => !holidays.includes(d)) }));
    const settings = fc.record({ callbackWorkingDays: fc.integer({ min: 1, max: 30 }), appealWorkingDays: fc.integer({ min: 1, max: 30 }), rectifyWorkingDays: fc.integer({ min: 1, max: 90 }) });
    fc.assert(
      fc.property(fc.oneof(calendar, fc.constant(WEEKDAYS_CALENDAR)), settings, instant, instant, zone, (cal, s, occurredAt, now, tz) => {
        const clocks = followUpClocks(occurredAt, s, cal, tz, now);
        for (const [key, n] of [['callback', s.callbackWorkingDays], ['appeal', s.appealWorkingDays], ['rectify', s.rectifyWorkingDays]] as const) {
          const c = clocks[key];
          expect(c.due.getTime()).toBeGreaterThan(occurredAt.getTime());
          expect(c.overdue).toBe(now.getTime() >= c.due.getTime());
          expect(c.workingDaysLeft).toBeLessThanOrEqual(n);
          if (c.overdue) expect(c.workingDaysLeft).toBeLessThanOrEqual(0);
          else expect(c.workingDaysLeft).toBeGreaterThanOrEqual(1);
        }
        if (s.callbackWorkingDays <= s.appealWorkingDays) expect(clocks.callback.due.getTime()).toBeLessThanOrEqual(clocks.appeal.due.getTime());
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});

describe('hostile telemetry', () => {
  it('never throws; only known fault kinds, each once', () => {
    const settings = fc.record({ offlineMinutes: fc.integer({ min: 1, max: 10_080 }), backlogHours: fc.double({ min: 0.1, max: 720, noNaN: true }), clockUnsynced: fc.boolean(), paperOut: fc.boolean() });
    const telemetry = fc.oneof(
      anyValue,
      fc.record({ backlog: fc.record({ pending: anyValue, oldestPendingAgeMs: anyValue }), clock: fc.record({ synced: anyValue }), printer: fc.record({ condition: anyValue }), alarms: anyValue }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(telemetry, settings, fc.option(fc.boolean()), instant, fc.option(instant), instant, (body, s, online, lastSeen, telemetryAt, now) => {
        const { active, unknown } = terminalFaults(
          { terminalId: 'T', areaCode: '370102', hallCode: 'H', windowNo: '1', approved: true, online, lastSeen, stateAt: lastSeen, telemetry: body, telemetryAt },
          s,
          now,
        );
        const kinds = active.map((f) => f.kind);
        expect(new Set(kinds).size).toBe(kinds.length);
        for (const k of [...kinds, ...unknown]) expect(FAULT_KINDS).toContain(k);
        for (const f of active) expect(Number.isNaN(f.since.getTime())).toBe(false);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

/** Markdown-active characters and line breaks: none may come from a value. */
// eslint-disable-next-line no-control-regex
const ACTIVE = /[\\`*_[\]()<>!|~#&"\u0000-\u001f\u2028\u2029\u202a-\u202e]/;

describe('hostile alert details and places', () => {
  const alert = fc.record({
    id: fc.stringMatching(/^[1-9]\d{0,17}$/),
    kind: fc.constantFrom(...ALERT_KINDS),
    terminalId: fc.option(hostileText),
    areaCode: hostileText,
    hallCode: hostileText,
    windowNo: fc.option(hostileText),
    detail: fc.oneof(anyValue, fc.record({ grade: anyValue, reasons: fc.array(hostileText, { maxLength: 12 }), channel: anyValue, via: anyValue, pending: anyValue, oldestPendingHours: anyValue }, { requiredKeys: [] })),
    occurredAt: fc.oneof(instant, fc.constant(new Date(Number.NaN))),
    notifyCount: fc.integer({ min: 0, max: 100 }),
  }) as fc.Arbitrary<MessageAlert>;

  it('a message always; every value inert: the only markdown is the template’s', () => {
    const labels = fc.option(fc.func(fc.option(hostileText, { nil: undefined })), { nil: undefined });
    fc.assert(
      fc.property(alert, labels, fc.option(fc.constantFrom('https://hall.example.gov.cn/dashboard', 'http://127.0.0.1:8472/'), { nil: undefined }), (a, reasonLabel, dashboardUrl) => {
        const m = alertMessage(a, { timeZone: 'Asia/Shanghai', dashboardUrl, reasonLabel });
        const lines = m.markdown.split('\n');
        expect(lines[0]).toMatch(/^### /);
        expect(m.text.split('\n')).toHaveLength(lines.length);
        for (const [i, line] of lines.entries()) {
          if (i === 0) expect(line.slice(4)).not.toMatch(ACTIVE);
          else if (line.startsWith('[在看板中查看并确认](')) expect(line).toBe(`[在看板中查看并确认](${m.link})`);
          else {
            expect(line).toMatch(/^- [\u4e00-\u9fff]+：/);
            expect(line.replace(/^- [\u4e00-\u9fff]+：/, '')).not.toMatch(ACTIVE);
          }
        }
        expect(m.title).not.toMatch(LINE_BREAK);
        // The webhook's JSON carries the same, and is JSON.
        expect(() => JSON.parse(JSON.stringify(webhookBody(m, a, new Date(0))))).not.toThrow();
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('escapeMarkdown leaves nothing active, whatever the text', () => {
    fc.assert(
      fc.property(hostileText, fc.integer({ min: 1, max: 300 }), (text, max) => {
        expect(escapeMarkdown(text, max)).not.toMatch(ACTIVE);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('readAlertDetail reads anything without a throw', () => {
    fc.assert(
      fc.property(anyValue, (detail) => {
        const d = readAlertDetail(detail);
        expect(d.reasons.length).toBeLessThanOrEqual(10);
        expect(d.reasons.every((r) => typeof r === 'string')).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('what a robot answers', () => {
  it('sent only on a 2xx with errcode 0; every failure is a short line', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.oneof(anyValue, fc.record({ errcode: anyValue, errmsg: anyValue })), (status, json) => {
        const result = robotResult({ status, json });
        const errcode = (json as { errcode?: unknown } | null)?.errcode;
        expect(result.ok).toBe(status >= 200 && status < 300 && errcode === 0);
        if (!result.ok) {
          expect(result.message.length).toBeLessThanOrEqual(301);
          expect(result.message).not.toMatch(LINE_BREAK);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('the webhook receiver under hostile calls', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start({ webhookSecret: 'hook' });
  });
  afterAll(async () => {
    await receiver.stop();
  });

  it('answers every call with JSON, never crashes, and accepts nothing unsigned or with the wrong key', async () => {
    const path = fc.oneof(
      fc.constantFrom('/cgi-bin/webhook/send', '/robot/send', '/hooks/alerts', '/'),
      fc.tuple(fc.constantFrom('/cgi-bin/webhook/send', '/robot/send', '/hooks/alerts'), fc.array(pathChars, { maxLength: 12 })).map(([p, rest]) => `${p}?${rest.join('')}`),
    );
    const junk = fc
      .record({
        method: fc.constantFrom('POST', 'GET', 'PUT', 'DELETE'),
        path,
        headers: fc.dictionary(fc.constantFrom('content-type', 'x-hcp-signature', 'x-other'), fc.string({ unit: fc.constantFrom(...'abc=0123456789sha'), maxLength: 20 }), { maxKeys: 3 }),
        body: fc.option(fc.oneof(hostileText, anyValue.map((v) => JSON.stringify(v) ?? 'null')), { nil: undefined }),
      })
      .map(printedShort);
    await fc.assert(
      fc.asyncProperty(junk, async (j) => {
        const before = receiver.accepted().length;
        const answer = await send(receiver.url, j);
        expect(() => JSON.parse(answer.text)).not.toThrow();
        // Nothing here knows the key, the token or the secret.
        expect(receiver.accepted().length).toBe(before);
      }),
      { seed: SEED, numRuns: 200 },
    );
    // Still answering as a robot.
    const ok = await fetch(receiver.wecomUrl, { method: 'POST', body: JSON.stringify({ msgtype: 'markdown', markdown: { content: 'x' } }) });
    expect(await ok.json()).toEqual({ errcode: 0, errmsg: 'ok' });
  });
});
