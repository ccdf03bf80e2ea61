import { Audit } from './audit.js';
import { ClockSync } from './clock-sync.js';
import type { Feature, FeatureContext } from './feature.js';
import { Retention } from './retention.js';
import { Telemetry } from './telemetry.js';
import { Voice } from './voice.js';

/**
 * Every feature the bridge runs, in start order (stopped in reverse); one that does not apply to
 * this config gives undefined. A new feature is its own file and one line here.
 */
const FEATURES: ReadonlyArray<(ctx: FeatureContext) => Feature | undefined> = [
  (ctx) => new ClockSync(ctx),
  // Before anything that acts: no staff action goes unaudited.
  (ctx) => new Audit(ctx),
  (ctx) => new Retention(ctx),
  // The receipt service is built with the printer (staff reprints and the self-test use it too).
  (ctx) => ctx.receipts,
  (ctx) => new Telemetry(ctx),
  // The customer screen is built with the bridge (its status reads it).
  (ctx) => ctx.screen,
  (ctx) => ctx.voice && new Voice({ ...ctx, voice: ctx.voice }),
];

export function bridgeFeatures(ctx: FeatureContext): Feature[] {
  return FEATURES.map((make) => make(ctx)).filter((feature) => feature !== undefined);
}
