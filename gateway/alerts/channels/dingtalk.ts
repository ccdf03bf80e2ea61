import { createHmac } from 'node:crypto';
import type { AlertMessage } from '../message.js';
import { postJson, robotResult, HttpChannel, type SendResult } from './channel.js';

/**
 * A DingTalk (钉钉) custom group robot: POST {"msgtype":"markdown","markdown":{"title","text"}}
 * to https://oapi.dingtalk.com/robot/send?access_token=…; `errcode` 0 is sent. With 加签 (a
 * secret SEC…), the address also carries `timestamp` (milliseconds) and `sign`: the base64 of
 * HMAC-SHA256 keyed with the secret over `${timestamp}\n${secret}`, URL-encoded; DingTalk refuses
 * a timestamp more than an hour from its clock (docs/alerts.md has the sources).
 */
export function dingtalkSign(timestamp: number | string, secret: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

/** The robot's address with timestamp and sign added (searchParams URL-encodes the base64's + / =). */
export function signedDingtalkUrl(url: string, secret: string, now: Date): string {
  const signed = new URL(url);
  const timestamp = String(now.getTime());
  signed.searchParams.set('timestamp', timestamp);
  signed.searchParams.set('sign', dingtalkSign(timestamp, secret));
  return signed.href;
}

export class DingtalkChannel extends HttpChannel {
  readonly kind = 'dingtalk' as const;

  async send(message: AlertMessage): Promise<SendResult> {
    const { url: address, secret, clock } = this.target;
    const url = secret === undefined ? address : signedDingtalkUrl(address, secret, clock.now());
    const body = JSON.stringify({ msgtype: 'markdown', markdown: { title: message.title, text: message.markdown } });
    const posted = await postJson(url, body, {}, this.deps);
    return posted.ok ? robotResult(posted.answer) : posted;
  }
}
