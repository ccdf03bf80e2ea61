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
