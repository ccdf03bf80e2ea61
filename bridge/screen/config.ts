import { z } from 'zod';

/**
 * The bridge's `screen` section: the customer screen facing the citizen (docs/customer-screen.md),
 * served by the bridge on a port of its own, apart from the staff API. Left out, no screen is served.
 */
export const screenConfigSchema = z.strictObject({
  /** Where the screen's page listens: 127.0.0.1 for the Pi's own touchscreen; 0.0.0.0 (or the Pi's LAN address) for a tablet on the window's LAN. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Its own port, beside the API's 8080 (8090 is `hcp start`'s hall view). */
  port: z.number().int().min(0).max(65535).default(8081),
  /**
   * Names, besides localhost and IP addresses, a tablet may open the screen under, e.g.
   * window3-screen.hall.local (no port: it is screen.port). An address needs none: DNS rebinding
   * sends a name.
   */
  allowedHosts: z
    .array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'a host name without port, e.g. window3.hall.local').transform((name) => name.toLowerCase().replace(/\.$/, '')))
    .default([]),
  /** Show the staff member's star rating (from the gateway's statistics) on the staff card. */
  showStars: z.boolean().default(true),
  /** How long the thanks (with the receipt's QR code) stays up after an invitation closes. */
  thanksSeconds: z.number().int().min(3).max(120).default(15),
});
export type ScreenConfig = z.infer<typeof screenConfigSchema>;
