import { z } from 'zod';

/**
 * The bridge's `screen` section: the customer screen facing the citizen (docs/customer-screen.md),
 * served by the bridge's HTTP server. Left out, no screen page is served.
 */
export const screenConfigSchema = z.strictObject({
  /** Show the staff member's star rating (from the gateway's statistics) on the staff card. */
  showStars: z.boolean().default(true),
});
export type ScreenConfig = z.infer<typeof screenConfigSchema>;
