import { z } from 'zod';
import { areaCodeSchema } from './records.js';

/** A terminal's public key: Ed25519, SPKI DER, base64 (bridge/identity/terminal-key.ts). */
const publicKeySchema = z.string().min(40).max(200);

/**
 * The birth a terminal publishes (retained, on `…/state`) when a technician provisions it: who
 * and where it is, and its Ed25519 public key (the province verifies its sealed records and its
 * receipt QR codes with it). The province answers by publishing the terminal's retained `…/config`.
 * A registration that brings a different key for a terminal already registered is not applied
 * without the provincial operator (docs/protocol.md, "Registration and key pinning").
 */
export const registrationSchema = z.object({
  online: z.boolean(),
  provisioning: z.literal(true),
  at: z.iso.datetime({ offset: true }),
  publicKey: publicKeySchema,
  areaCode: areaCodeSchema,
  hallCode: z.string().min(1).max(64),
  windowNo: z.string().min(1).max(16),
  bridge: z.string().min(1).max(32),
});
export type Registration = z.infer<typeof registrationSchema>;

/**
 * The birth the bridge publishes (retained, on `…/state`) on every connection, and the last will
 * (`online: false`). It carries the terminal's public key too: a receiver that has none for this
 * terminal registers it as at provisioning; one that holds another keeps it pending for the operator.
 */
export const birthSchema = z.looseObject({
  online: z.boolean(),
  at: z.iso.datetime({ offset: true }).optional(),
  publicKey: publicKeySchema.optional(),
});
export type Birth = z.infer<typeof birthSchema>;
