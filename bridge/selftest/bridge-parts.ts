import type { Ack } from '../../protocol/acks.js';
import type { Timers } from '../../protocol/timers.js';
import type { BridgeConfig } from '../config.js';
import type { TerminalInfo, TerminalLink } from '../terminal/terminal-link.js';
import type { InvitationDesk } from '../desk/invitation-desk.js';
import type { ReceiptService } from '../printer/receipt-service.js';
import type { TimeKeeper } from '../time/time-keeper.js';
import type { Uplink } from '../uplink/uplink.js';
import { nextEvent } from './next-event.js';
import type { SelftestParts } from './selftest.js';

export interface BridgeParts {
  terminal: BridgeConfig['terminal'];
  link: TerminalLink;
  desk: InvitationDesk;
  uplink: Uplink;
  receipts: ReceiptService | undefined;
  clock: TimeKeeper;
  timers: Timers;
  newId(): string;
}

/** The self-test's view of a running bridge: each step asks a part, and waits on its events. */
export function selftestPartsOf({ terminal, link, desk, uplink, receipts, clock, timers, newId }: BridgeParts): SelftestParts {
  return {
    // Asked afresh: a terminal that went away a moment ago still counts as alive in status().
    terminalHello: async (ms) => {
      const answer = nextEvent<[TerminalInfo]>(timers, link, 'hello', ms);
      link.greet();
      return (await answer)?.[0] ?? null;
    },
    sendTest: async (frame, ms) => {
      const seq = link.send({ type: 'test', ...frame });
      return (await nextEvent<[number]>(timers, link, 'acknowledged', ms, (acked) => acked === seq)) !== null;
    },
    nextPress: async (ms) => (await nextEvent<[number]>(timers, link, 'press', ms))?.[0] ?? null,
    ...(receipts && {
      printTestReceipt: async (ms: number) => {
        const { receiptId, url } = receipts.queueTest(terminal.id, terminal.windowNo, newId());
        const printed = await nextEvent<[{ id: string }]>(timers, receipts, 'printed', ms, (info) => info.id === receiptId);
        return printed ? { printed: true as const, url } : { printed: false as const, reason: `not printed within ${ms / 1000} s; the printer is ${receipts.status().condition}` };
      },
    }),
    // The outbox announces the record: the uplink sends it without being told.
    storeRecord: (detail) => desk.recordSelftest(detail, link.status().terminal),
    provinceAnswer: async (id, ms) => (await nextEvent<[Ack]>(timers, uplink, 'acked', ms, (ack) => ack.ids.includes(id)))?.[0] ?? null,
    brokerState: () => (uplink.status().connected ? 'the broker is connected; the province did not answer' : 'the broker is not connected'),
    now: () => clock.now(),
  };
}
