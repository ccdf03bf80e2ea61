import type { AlertMessage } from '../message.js';
import { postJson, robotResult, HttpChannel, type SendResult } from './channel.js';

/**
 * A WeCom (企业微信) group robot: POST {"msgtype":"markdown","markdown":{"content":…}} to its
 * webhook address (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…); `errcode` 0 is sent.
 * The content is at most 4096 bytes of UTF-8 (docs/alerts.md has the sources).
 */
export const WECOM_MAX_BYTES = 4096;

export class WecomChannel extends HttpChannel {
  readonly kind = 'wecom' as const;

  async send(message: AlertMessage): Promise<SendResult> {
    const body = JSON.stringify({ msgtype: 'markdown', markdown: { content: withinBytes(message.markdown, WECOM_MAX_BYTES) } });
    const posted = await postJson(this.target.url, body, {}, this.deps);
    return posted.ok ? robotResult(posted.answer) : posted;
  }
}

/** Whole lines of `text` that fit in `max` bytes of UTF-8 (a long reason list is cut, never a character). */
export function withinBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  const lines = text.split('\n');
  while (lines.length > 1 && Buffer.byteLength(lines.join('\n')) > max) lines.pop();
  let out = lines.join('\n');
  while (Buffer.byteLength(out) > max) out = [...out].slice(0, -1).join('');
  return out;
}
