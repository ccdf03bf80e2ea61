/**
 * The uplink window (mqtt.inflight) the memory benchmark drains with. bench/drain.ts tries
 * several; 1000, the config's maximum, was the fastest there (N=20k: 128 → ~2.3k/s,
 * 512 → ~7k/s, 1000 → ~10k/s records to province ack on the shared 2-core machine).
 */
export const DEFAULT_INFLIGHT = 1000;
