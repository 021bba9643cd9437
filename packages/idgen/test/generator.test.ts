import { describe, expect, it } from 'vitest';
import {
  ClockMovedBackwardsError,
  SNOWFLAKE_DEFAULTS,
  createSnowflake,
  isClockMovedBackwardsError,
  isSequenceExhaustedError,
  isTimestampOverflowError,
} from '../src/index.js';
import { ManualClock, T0 } from './support/manual-clock.js';

/** Asserts strictly increasing (hence unique) ids. */
function expectStrictlyIncreasing(ids: readonly bigint[]): void {
  for (let i = 1; i < ids.length; i++) {
    if (!((ids[i] as bigint) > (ids[i - 1] as bigint))) throw new Error(`id ${i} (${ids[i]}) is not greater than id ${i - 1} (${ids[i - 1]})`);
  }
}

function issue(generator: { next(): bigint }, count: number): bigint[] {
  const ids: bigint[] = [];
  for (let i = 0; i < count; i++) ids.push(generator.next());
  return ids;
}

describe('next()', () => {
  it('puts the clock, datacenter, worker and sequence in the documented bits', () => {
    const clock = new ManualClock(T0 + 0.7);
    const snowflake = createSnowflake({ workerId: 5, datacenterId: 3, clock });
    const id = snowflake.next();
    const expected = (BigInt(T0 - SNOWFLAKE_DEFAULTS.epoch) << 22n) | (3n << 18n) | (5n << 12n) | 0n;
    expect(id).toBe(expected);
    expect(snowflake.next()).toBe(expected + 1n);
    clock.advance(1);
    expect(snowflake.next()).toBe(expected + (1n << 22n));
  });

  it('nextString() is the decimal form of the next id', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock });
    const first = snowflake.next();
    expect(snowflake.nextString()).toBe((first + 1n).toString());
  });

  it('ids fit in a signed 64-bit integer and are positive', () => {
    const clock = new ManualClock(SNOWFLAKE_DEFAULTS.epoch + 2 ** 41 - 1);
    const snowflake = createSnowflake({ workerId: 63, datacenterId: 15, clock });
    const id = snowflake.next();
    expect(id).toBe((1n << 63n) - 1n - 4095n);
    expect(BigInt.asIntN(64, id)).toBe(id);
  });

  it('follows the system clock by default, unique and increasing', () => {
    const snowflake = createSnowflake({ workerId: 2 });
    const ids = issue(snowflake, 50_000);
    expectStrictlyIncreasing(ids);
    expect(Math.abs(snowflake.decode(ids[0] as bigint).timestamp - Date.now())).toBeLessThan(60_000);
  });
});

describe('a frozen clock', () => {
  it('advances the logical clock up to maxRollbackMs ahead, then throws SequenceExhaustedError instead of spinning longer than 1 ms', () => {
    const clock = new ManualClock(T0);
    const layout = { timestampBits: 51, datacenterBits: 4, workerBits: 6, sequenceBits: 2 };
    const snowflake = createSnowflake({ workerId: 1, clock, layout, maxRollbackMs: 3 });
    // 4 ids per millisecond, in the clock's millisecond and the 3 after it.
    const ids = issue(snowflake, 16);
    expectStrictlyIncreasing(ids);
    expect(ids.map((id) => snowflake.decode(id).timestamp - T0)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(ids.map((id) => snowflake.decode(id).sequence)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);

    let error: unknown;
    try {
      snowflake.next();
    } catch (e) {
      error = e;
    }
    expect(isSequenceExhaustedError(error)).toBe(true);
    expect((error as Error).message).toBe(
      'sequence exhausted: all 4 ids of each millisecond up to maxRollbackMs (3) ahead of the clock are used, ' +
        'and the clock (2025-06-01T00:00:00.000Z) did not move to its next millisecond within 1 ms; is it frozen?',
    );
    // Nothing was issued or lost: once the clock moves, generation continues after the last id.
    clock.advance(1);
    const next = snowflake.next();
    expect(next).toBeGreaterThan(ids[15] as bigint);
    expect(snowflake.decode(next)).toMatchObject({ timestamp: T0 + 4, sequence: 0 });
  });

  it('with the default layout issues 4096 x (maxRollbackMs + 1) ids without waiting', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock });
    const ids = issue(snowflake, 4096 * 51);
    expectStrictlyIncreasing(ids);
    expect(snowflake.decode(ids[ids.length - 1] as bigint)).toMatchObject({ timestamp: T0 + 50, sequence: 4095 });
    expect(() => snowflake.next()).toThrow(/sequence exhausted/);
  });
});

describe('sequence exhaustion', () => {
  it('with maxRollbackMs 0 waits for the clock to reach the next millisecond', () => {
    const clock = new ManualClock(T0 + 0.5);
    const layout = { timestampBits: 51, datacenterBits: 4, workerBits: 6, sequenceBits: 2 };
    const snowflake = createSnowflake({ workerId: 1, clock, layout, maxRollbackMs: 0 });
    const ids = issue(snowflake, 4);
    // The clock now moves 0.25 ms per read: next() spins for two reads, then issues at T0 + 1.
    clock.advancePerRead = 0.25;
    const readsBefore = clock.reads;
    const id = snowflake.next();
    expect(clock.reads - readsBefore).toBe(3);
    expect(id).toBeGreaterThan(ids[3] as bigint);
    expect(snowflake.decode(id)).toMatchObject({ timestamp: T0 + 1, sequence: 0 });
  });

  it('never stamps an id more than maxRollbackMs ahead of the clock', () => {
    const clock = new ManualClock(T0, 0.05);
    const layout = { timestampBits: 51, datacenterBits: 4, workerBits: 6, sequenceBits: 2 };
    const snowflake = createSnowflake({ workerId: 1, clock, layout, maxRollbackMs: 2 });
    let previous = -1n;
    for (let i = 0; i < 2000; i++) {
      let id: bigint;
      try {
        id = snowflake.next();
      } catch (error) {
        // Documented outcome if this process stalls for over 1 ms while next() waits.
        if (isSequenceExhaustedError(error)) continue;
        throw error;
      }
      expect(id).toBeGreaterThan(previous);
      previous = id;
      expect(snowflake.decode(id).timestamp).toBeLessThanOrEqual(Math.floor(clock.lastRead) + 2);
    }
  });
});

describe('clock rollback', () => {
  it('continues after a small step back, from the last timestamp, without repeating', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock });
    const before = issue(snowflake, 3);
    clock.advance(-20);
    const after = issue(snowflake, 3);
    expectStrictlyIncreasing([...before, ...after]);
    // Still the last id's millisecond: the sequence goes on.
    expect(after.map((id) => snowflake.decode(id))).toEqual([3, 4, 5].map((sequence) => ({ timestamp: T0, datacenterId: 0, workerId: 1, sequence })));
  });

  it('accepts a step back of exactly maxRollbackMs', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock, maxRollbackMs: 50 });
    const first = snowflake.next();
    clock.advance(-50);
    expect(snowflake.next()).toBe(first + 1n);
  });

  it('refuses a step back beyond maxRollbackMs with ClockMovedBackwardsError, without blocking, until the clock catches up', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock, maxRollbackMs: 50 });
    const first = snowflake.next();
    clock.advance(-51);
    const readsBefore = clock.reads;
    let error: unknown;
    try {
      snowflake.next();
    } catch (e) {
      error = e;
    }
    expect(clock.reads - readsBefore).toBe(1);
    expect(error).toBeInstanceOf(ClockMovedBackwardsError);
    expect(isClockMovedBackwardsError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'HITCH_CLOCK_MOVED_BACKWARDS', rollbackMs: 51, maxRollbackMs: 50, clockMs: T0 - 51 });
    expect((error as Error).message).toBe(
      "clock moved backwards: it reads 2025-05-31T23:59:59.949Z, 51 ms behind the last id's timestamp, more than maxRollbackMs (50); " +
        'next() refuses ids until the clock reaches 2025-05-31T23:59:59.950Z',
    );
    clock.advance(1);
    expect(snowflake.next()).toBe(first + 1n);
  });

  it('refuses a large step back (an hour) until the clock is back within maxRollbackMs', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock });
    const first = snowflake.next();
    clock.advance(-3_600_000);
    expect(() => snowflake.next()).toThrow(expect.objectContaining({ rollbackMs: 3_600_000 }));
    clock.advance(3_600_000 - 60);
    expect(() => snowflake.next()).toThrow(expect.objectContaining({ rollbackMs: 60 }));
    clock.advance(10);
    expect(snowflake.next()).toBe(first + 1n);
    clock.set(T0 + 100);
    expect(snowflake.decode(snowflake.next())).toMatchObject({ timestamp: T0 + 100, sequence: 0 });
  });

  it('counts a step back from the previous reading, not from a logical clock running ahead', () => {
    const clock = new ManualClock(T0);
    const layout = { timestampBits: 51, datacenterBits: 4, workerBits: 6, sequenceBits: 2 };
    const snowflake = createSnowflake({ workerId: 1, clock, layout, maxRollbackMs: 10 });
    // Exhaust three milliseconds: the logical clock runs 2 ms ahead of a clock that did not move.
    issue(snowflake, 12);
    clock.advance(-9);
    // 9 + 2 = 11 ms behind the last timestamp: refused, though the clock only stepped back 9 ms.
    expect(() => snowflake.next()).toThrow(expect.objectContaining({ rollbackMs: 11, maxRollbackMs: 10 }));
  });

  it('replay: the clock walks T-5..T, jumps back to T-5 and walks again; every id is new and larger', () => {
    const clock = new ManualClock(T0 - 5);
    const snowflake = createSnowflake({ workerId: 1, clock });
    const ids: bigint[] = [];
    for (let pass = 0; pass < 2; pass++) {
      clock.set(T0 - 5);
      for (let step = 0; step <= 5; step++) {
        ids.push(...issue(snowflake, 3));
        clock.advance(1);
      }
    }
    clock.set(T0 + 1);
    ids.push(...issue(snowflake, 2));
    expectStrictlyIncreasing(ids);
    const decoded = ids.map((id) => snowflake.decode(id));
    // The second walk stays inside millisecond T's sequence space, then the clock passes T.
    expect(decoded.slice(18, 36).every((d) => d.timestamp === T0)).toBe(true);
    expect(decoded.slice(18, 36).map((d) => d.sequence)).toEqual(Array.from({ length: 18 }, (_, i) => i + 3));
    expect(decoded.slice(36).map((d) => [d.timestamp - T0, d.sequence])).toEqual([
      [1, 0],
      [1, 1],
    ]);
  });

  it('refuses a clock before the epoch before the first id', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock, epoch: T0 - 10 });
    clock.set(T0 - 12);
    expect(() => snowflake.next()).toThrow(
      expect.objectContaining({ rollbackMs: 2, message: 'clock moved backwards: it reads 2025-05-31T23:59:59.988Z, 2 ms before the epoch; no id can be issued until it passes the epoch' }),
    );
    clock.set(T0 - 10);
    expect(snowflake.decode(snowflake.next())).toMatchObject({ timestamp: T0 - 10, sequence: 0 });
  });
});

describe('the end of the timestamp field', () => {
  it('throws TimestampOverflowError instead of wrapping', () => {
    const clock = new ManualClock(T0);
    // 21 bits of milliseconds (about 35 minutes) and the widest sequence, 32 bits.
    const layout = { timestampBits: 21, datacenterBits: 4, workerBits: 6, sequenceBits: 32 };
    const snowflake = createSnowflake({ workerId: 1, clock, epoch: T0, layout });
    clock.set(T0 + 2 ** 21 - 1);
    const last = snowflake.next();
    expect(snowflake.decode(last).timestamp).toBe(T0 + 2 ** 21 - 1);
    clock.advance(1);
    let error: unknown;
    try {
      snowflake.next();
    } catch (e) {
      error = e;
    }
    expect(isTimestampOverflowError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'HITCH_TIMESTAMP_OVERFLOW', lastTimestampMs: T0 + 2 ** 21 - 1 });
  });
});

describe('a broken clock', () => {
  it('NaN from now() is an error, never an id', () => {
    const clock = new ManualClock(T0);
    const snowflake = createSnowflake({ workerId: 1, clock });
    snowflake.next();
    clock.set(NaN);
    expect(() => snowflake.next()).toThrow('clock: now() returned NaN; it must return Unix time in milliseconds');
  });
});
