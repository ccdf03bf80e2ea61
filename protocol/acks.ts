import { z } from 'zod';

/** Province to terminal, on `…/acks`. accepted and duplicate clear the outbox; rejected quarantines. */
export const ackSchema = z.object({
  ids: z.array(z.string().min(1)).min(1),
  status: z.enum(['accepted', 'duplicate', 'rejected']),
  reason: z.string().optional(),
  serverTime: z.iso.datetime({ offset: true }).optional(),
});
export type Ack = z.infer<typeof ackSchema>;
export type AckStatus = Ack['status'];

/**
 * Terminal to province, on `…/time`, while the terminal's clock is not trusted: the province
 * answers on `…/acks` with an ack naming the probe's id and carrying `serverTime`.
 */
export const timeProbeSchema = z.object({ probe: z.string().min(1).max(64) });
export type TimeProbe = z.infer<typeof timeProbeSchema>;
