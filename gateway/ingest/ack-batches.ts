import type { Ack, AckStatus } from '../../protocol/acks.js';

export interface AckItem {
  terminalId: string;
  id: string;
  status: AckStatus;
  reason?: string;
}

/** Most ids in one ack message. */
export const MAX_ACK_IDS = 500;

/**
 * A settled batch's acks: one message per terminal, status and reason (one ack carries one
 * reason), at most `maxIds` ids each, in the order the records came.
 */
export function ackMessages(items: readonly AckItem[], serverTime: Date, maxIds = MAX_ACK_IDS): { terminalId: string; ack: Ack }[] {
  const groups = new Map<string, { terminalId: string; status: AckStatus; reason: string | undefined; ids: string[] }>();
  for (const item of items) {
    const key = JSON.stringify([item.terminalId, item.status, item.reason ?? null]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { terminalId: item.terminalId, status: item.status, reason: item.reason, ids: [] }));
    group.ids.push(item.id);
  }
  const time = serverTime.toISOString();
  const messages: { terminalId: string; ack: Ack }[] = [];
  for (const group of groups.values()) {
    for (let start = 0; start < group.ids.length; start += maxIds) {
      const ids = group.ids.slice(start, start + maxIds);
      messages.push({ terminalId: group.terminalId, ack: { ids, status: group.status, ...(group.reason !== undefined && { reason: group.reason }), serverTime: time } });
    }
  }
  return messages;
}
