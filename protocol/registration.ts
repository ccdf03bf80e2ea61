import { z } from 'zod';
import { areaCodeSchema } from './records.js';

/**
 * The birth a terminal publishes (retained, on `…/state`) when a technician provisions it: who
 * and where it is, and its Ed25519 public key (the province verifies receipt QR codes with it).
 * The province answers by publishing the terminal's retained `…/config`.
 */
export const registrationSchema = z.object({
  online: z.boolean(),
  provisioning: z.literal(true),
  at: z.iso.datetime({ offset: true }),
  /** SPKI DER, base64. */
  publicKey: z.string().min(40).max(200),
  areaCode: areaCodeSchema,
  hallCode: z.string().min(1).max(64),
  windowNo: z.string().min(1).max(16),
  bridge: z.string().min(1).max(32),
});
export type Registration = z.infer<typeof registrationSchema>;
