import { z } from 'zod';

/**
 * Retained on `…/config`, province to terminal. The bad-review reason catalogue is the
 * province's, versioned, and never edited locally: a terminal offers at most five reasons, one
 * per button.
 */
export const reasonCatalogSchema = z.object({
  version: z.string().min(1).max(32),
  reasons: z
    .array(z.object({ code: z.string().min(1).max(32), label: z.string().min(1).max(40) }))
    .min(1)
    .max(5, 'at most five reasons: one per button'),
});
export type ReasonCatalog = z.infer<typeof reasonCatalogSchema>;

export const provinceConfigSchema = z.object({
  reasonCatalog: reasonCatalogSchema.optional(),
});
export type ProvinceConfig = z.infer<typeof provinceConfigSchema>;
