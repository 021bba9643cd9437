import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SnowflakeLayout } from '../src/index.js';
import { createSnowflake, isClockMovedBackwardsError, isSequenceExhaustedError } from '../src/index.js';
import { ManualClock, T0 } from './support/manual-clock.js';

interface Scenario {
  /** Clock steps in ms, each followed by `calls[i]` calls to next(). */
  readonly deltas: readonly number[];
  readonly calls: readonly number[];
}

/**
 * Runs a scenario against a fresh generator and checks, after every call: ids unique and
 * strictly increasing; the id's timestamp at most maxRollbackMs ahead of the clock reading it was
 * issued at; a refusal only when the clock is more than maxRollbackMs behind the last id's
 * timestamp; SequenceExhaustedError only when the whole window is used up.
 */
function check(scenario: Scenario, options: { layout?: SnowflakeLayout; maxRollbackMs: number; advancePerRead: number }) {
  const clock = new ManualClock(T0, options.advancePerRead);
  const snowflake = createSnowflake({ workerId: 1, clock, env: {}, maxRollbackMs: options.maxRollbackMs, ...(options.layout ? { layout: options.layout } : {}) });
  const seen = new Set<bigint>();
  let last = -1n;
  let lastTimestamp = -Infinity;
  let lastSequence = -1;
  const maxSequence = 2 ** (options.layout?.sequenceBits ?? 12) - 1;
  let issued = 0;
  scenario.deltas.forEach((delta, step) => {
    clock.advance(delta);
    for (let call = 0; call < (scenario.calls[step] ?? 1); call++) {
      let id: bigint;
      try {
        id = snowflake.next();
      } catch (error) {
        const reading = Math.floor(clock.lastRead);
        if (isClockMovedBackwardsError(error)) {
          expect(lastTimestamp - reading).toBeGreaterThan(options.maxRollbackMs);
          expect(error.rollbackMs).toBe(lastTimestamp - reading);
        } else if (isSequenceExhaustedError(error)) {
          expect(lastSequence).toBe(maxSequence);
          expect(lastTimestamp - reading).toBe(options.maxRollbackMs);
        } else {
          throw error;
        }
        continue;
      }
      issued++;
      expect(seen.has(id)).toBe(false);
      seen.add(id);
      expect(id).toBeGreaterThan(last);
      last = id;
      const decoded = snowflake.decode(id);
      expect(decoded.timestamp).toBeLessThanOrEqual(Math.floor(clock.lastRead) + options.maxRollbackMs);
      lastTimestamp = decoded.timestamp;
      lastSequence = decoded.sequence;
    }
  });
  return issued;
}

const scenario = (maxCalls: number) =>
  fc
    .array(fc.tuple(fc.oneof(fc.integer({ min: -60, max: 3 }), fc.double({ min: -60, max: 3, noNaN: true })), fc.integer({ min: 0, max: maxCalls })), {
      minLength: 1,
      maxLength: 300,
    })
    .map((steps): Scenario => ({ deltas: steps.map(([d]) => d), calls: steps.map(([, c]) => c) }));

describe('random clock deltas in [-60, +3] ms', () => {
  it('default layout and maxRollbackMs: zero duplicates, strict order, never more than 50 ms ahead', () => {
    fc.assert(
      fc.property(scenario(20), (s) => {
        check(s, { maxRollbackMs: 50, advancePerRead: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it('4 ids per millisecond: the logical clock runs ahead and waits, still within maxRollbackMs', () => {
    const layout = { timestampBits: 51, datacenterBits: 4, workerBits: 6, sequenceBits: 2 };
    fc.assert(
      fc.property(scenario(40), fc.integer({ min: 0, max: 60 }), (s, maxRollbackMs) => {
        // The clock moves a little on every read, so a wait for the next millisecond ends.
        check(s, { layout, maxRollbackMs, advancePerRead: 0.25 });
      }),
      { numRuns: 300 },
    );
  });

  it('a rollback-heavy walk still issues ids (the property is not vacuous)', () => {
    const steps = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? -7 : 3));
    const issued = check({ deltas: steps, calls: steps.map(() => 5) }, { maxRollbackMs: 50, advancePerRead: 0 });
    expect(issued).toBe(1000);
  });
});
