import type { z } from 'zod';
import { registrationSchema } from '../../protocol/registration.js';

/*
 * The address a window's static QR sign (gateway/qr-sign) carries, and how the rate-later page
 * reads it back: the page's public URL with the hall and the window, as the terminals register
 * them. One place for both, so the sign and the page cannot disagree on the parameters' names.
 */

const CONTROL = /\p{Cc}/u;
const printable = (schema: z.ZodString) => schema.refine((s) => !CONTROL.test(s) && s.trim() === s, 'printable text, no spaces around it');

/** A hall code as a terminal registers it (protocol/registration.ts), e.g. XH-ZWFW. */
export const hallCodeSchema = printable(registrationSchema.shape.hallCode);
/** A window number as a terminal registers it, e.g. A03. */
export const windowNoSchema = printable(registrationSchema.shape.windowNo);

export interface WindowSignPlace {
  hallCode: string;
  windowNo: string;
}

/** `base` (rateLater.publicUrl) with `hall` and `window` set (any already there replaced). */
export function windowSignUrl(base: string, place: WindowSignPlace): string {
  const url = new URL(base);
  url.searchParams.set('hall', place.hallCode);
  url.searchParams.set('window', place.windowNo);
  return url.toString();
}

/** The sign's hall and window from a request's query: each given once and well-formed, or none (the landing page). */
export function readWindowSign(query: URLSearchParams): WindowSignPlace | undefined {
  const halls = query.getAll('hall');
  const windows = query.getAll('window');
  if (halls.length !== 1 || windows.length !== 1) return undefined;
  const hall = hallCodeSchema.safeParse(halls[0]);
  const window = windowNoSchema.safeParse(windows[0]);
  return hall.success && window.success ? { hallCode: hall.data, windowNo: window.data } : undefined;
}
