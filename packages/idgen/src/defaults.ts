import type { SnowflakeLayout } from './types.js';

/** Every default of `createSnowflake`, in one place. */
export const SNOWFLAKE_DEFAULTS = Object.freeze({
  /** 2024-01-01T00:00:00Z. */
  epoch: Date.UTC(2024, 0, 1),
  datacenterId: 0,
  layout: Object.freeze<SnowflakeLayout>({ timestampBits: 41, datacenterBits: 4, workerBits: 6, sequenceBits: 12 }),
  maxRollbackMs: 50,
  name: 'default',
});

/**
 * The longest `next()` ever busy-waits, in ms: when the newest millisecond's sequence is used up
 * and that millisecond is already `maxRollbackMs` ahead of the clock, it spins until the clock
 * enters its next millisecond, which takes less than this with a clock that keeps real time.
 */
export const MAX_WAIT_MS = 1;
