import { createHmac } from 'node:crypto';
import { ALERT_KIND_NAMES, readAlertDetail } from '../detail.js';
import type { AlertMessage, MessageAlert } from '../message.js';
import { postJson, withoutAddresses, HttpChannel, type SendResult } from './channel.js';

/**
 * A generic webhook (the hall's own systems): POST the alert as JSON; any 2xx is sent. With a
 * secret, the header `X-HCP-Signature: sha256=<hex HMAC-SHA256 of the body>` lets the receiver
 * check it came from the gateway; `sentAt` in the body lets it refuse a replay.
 */
export const SIGNATURE_HEADER = 'x-hcp-signature';

export function webhookSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** What the receiver gets: the message, and the facts as fields (no personal data, as the message). */
export function webhookBody(message: AlertMessage, alert: MessageAlert, sentAt: Date): Record<string, unknown> {
  const d = readAlertDetail(alert.detail);
  return {
    type: 'hcp.alert',
    id: alert.id,
    kind: alert.kind,
    kindZh: ALERT_KIND_NAMES[alert.kind] ?? alert.kind,
    repeat: alert.notifyCount,
    areaCode: alert.areaCode,
    hallCode: alert.hallCode,
    windowNo: alert.windowNo,
    terminalId: alert.terminalId,
    occurredAt: Number.isFinite(alert.occurredAt.getTime()) ? alert.occurredAt.toISOString() : null,
    grade: d.grade,
    gradeZh: d.gradeZh,
    reasons: d.reasons,
    title: message.title,
    text: message.text,
    markdown: message.markdown,
    link: message.link,
    sentAt: sentAt.toISOString(),
  };
}

export class WebhookChannel extends HttpChannel {
  readonly kind = 'webhook' as const;

  async send(message: AlertMessage, alert: MessageAlert): Promise<SendResult> {
    const { url, secret, clock } = this.target;
    const body = JSON.stringify(webhookBody(message, alert, clock.now()));
    const headers: Record<string, string> = secret === undefined ? {} : { [SIGNATURE_HEADER]: webhookSignature(body, secret) };
    const posted = await postJson(url, body, headers, this.deps);
    if (!posted.ok) return posted;
    const { status } = posted.answer;
    return status >= 200 && status < 300 ? { ok: true } : { ok: false, message: withoutAddresses(`HTTP ${status}`) };
  }
}
