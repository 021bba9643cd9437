import { isHitchError, isValidationError } from '@hitch/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SnowflakeLayout } from '../src/index.js';
import { InvalidIdError, createSnowflake, isInvalidIdError } from '../src/index.js';
import { ManualClock } from './support/manual-clock.js';

const LAYOUTS: readonly [string, SnowflakeLayout][] = [
  ['default 41/4/6/12', { timestampBits: 41, datacenterBits: 4, workerBits: 6, sequenceBits: 12 }],
  ['Twitter-like 41/5/5/12', { timestampBits: 41, datacenterBits: 5, workerBits: 5, sequenceBits: 12 }],
  ['wide sequence 21/4/6/32', { timestampBits: 21, datacenterBits: 4, workerBits: 6, sequenceBits: 32 }],
  ['wide timestamp 59/1/1/2', { timestampBits: 59, datacenterBits: 1, workerBits: 1, sequenceBits: 2 }],
  ['1-bit timestamp 1/30/31/1', { timestampBits: 1, datacenterBits: 30, workerBits: 31, sequenceBits: 1 }],
  ['straddling words 30/10/10/13', { timestampBits: 30, datacenterBits: 10, workerBits: 10, sequenceBits: 13 }],
];

const EPOCH = Date.UTC(2024, 0, 1);

/** Issues the id for one (timestamp, datacenter, worker, sequence) through the public API. */
function issueAt(layout: SnowflakeLayout, timestampMs: number, datacenterId: number, workerId: number, sequence: number) {
  const clock = new ManualClock(EPOCH + timestampMs);
  // The epoch is at or before the clock; a layout with a short timestamp field needs a late one.
  const snowflake = createSnowflake({ layout, datacenterId, workerId, clock, epoch: EPOCH, maxRollbackMs: 0, env: {} });
  let id = snowflake.next();
  for (let i = 0; i < sequence; i++) id = snowflake.next();
  return { snowflake, id };
}

function expectedId(layout: SnowflakeLayout, t: number, dc: number, w: number, s: number): bigint {
  const seqBits = BigInt(layout.sequenceBits);
  const wBits = BigInt(layout.workerBits);
  const dcBits = BigInt(layout.datacenterBits);
  return (BigInt(t) << (dcBits + wBits + seqBits)) | (BigInt(dc) << (wBits + seqBits)) | (BigInt(w) << seqBits) | BigInt(s);
}

describe.each(LAYOUTS)('decode round-trips at the field extremes (%s)', (_name, layout) => {
  const max = (bits: number) => Math.min(2 ** bits - 1, Number.MAX_SAFE_INTEGER);
  // Timestamps are bounded by the clock (Date's range), the rest by the layout.
  const maxT = Math.min(max(layout.timestampBits), 8.64e15 - EPOCH);
  const cases: [number, number, number, number][] = [
    [0, 0, 0, 0],
    [maxT, max(layout.datacenterBits), max(layout.workerBits), Math.min(max(layout.sequenceBits), 3)],
    [maxT, 0, max(layout.workerBits), 0],
    [0, max(layout.datacenterBits), 0, 1],
  ];
  it.each(cases)('timestamp +%i ms, datacenter %i, worker %i, sequence %i', (t, dc, w, s) => {
    const { snowflake, id } = issueAt(layout, t, dc, w, s);
    expect(id).toBe(expectedId(layout, t, dc, w, s));
    const decoded = { timestamp: EPOCH + t, datacenterId: dc, workerId: w, sequence: s };
    expect(snowflake.decode(id)).toEqual(decoded);
    expect(snowflake.decode(id.toString())).toEqual(decoded);
  });

  it('decode(encode(fields)) is the identity (property)', () => {
    const arbitrary = fc.record({
      t: fc.integer({ min: 0, max: Math.min(maxT, 2 ** 40) }),
      dc: fc.integer({ min: 0, max: Math.min(max(layout.datacenterBits), 2 ** 31) }),
      w: fc.integer({ min: 0, max: Math.min(max(layout.workerBits), 2 ** 31) }),
      s: fc.integer({ min: 0, max: Math.min(max(layout.sequenceBits), 5) }),
    });
    fc.assert(
      fc.property(arbitrary, ({ t, dc, w, s }) => {
        const { snowflake, id } = issueAt(layout, t, dc, w, s);
        expect(id).toBe(expectedId(layout, t, dc, w, s));
        expect(snowflake.decode(id)).toEqual({ timestamp: EPOCH + t, datacenterId: dc, workerId: w, sequence: s });
      }),
      { numRuns: 200 },
    );
  });
});

describe('decode and compare reject what is not an id', () => {
  const snowflake = createSnowflake({ workerId: 1, env: {} });

  it.each<[string, unknown, string]>([
    ['an empty string (BigInt would read 0)', '', 'invalid id "": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)'],
    ['letters', 'abc', 'invalid id "abc": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)'],
    ['hex', '0x1f', 'invalid id "0x1f": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)'],
    ['a sign', '-1', 'invalid id "-1": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)'],
    ['spaces', ' 12', 'invalid id " 12": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)'],
    ['leading zeros', '0012', 'invalid id "0012": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)'],
    ['a float', '1.5', 'invalid id "1.5": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)'],
    [
      'a very long string (shortened in the message)',
      '9'.repeat(100),
      `invalid id "${'9'.repeat(40)}...": expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)`,
    ],
    ['2^63 as a string', '9223372036854775808', 'invalid id "9223372036854775808": out of range: ids are integers in 0..2^63-1'],
    ['2^63', 1n << 63n, 'invalid id 9223372036854775808n: out of range: ids are integers in 0..2^63-1'],
    ['a negative bigint', -1n, 'invalid id -1n: out of range: ids are integers in 0..2^63-1'],
    ['a number', 12, 'invalid id 12: expected a bigint or a decimal string, got number (a number loses digits above 2^53: keep ids as bigint or string)'],
    ['null', null, 'invalid id object: expected a bigint or a decimal string, got object'],
    ['undefined', undefined, 'invalid id undefined: expected a bigint or a decimal string, got undefined'],
  ])('%s', (_case, input, message) => {
    expect(() => snowflake.decode(input as bigint)).toThrow(message);
    expect(() => snowflake.compare(input as bigint, 1n)).toThrow(message);
    expect(() => snowflake.compare('1', input as bigint)).toThrow(InvalidIdError);
  });

  it('InvalidIdError is a validation error: HTTP 400 / gRPC INVALID_ARGUMENT in the adapters', () => {
    let error: unknown;
    try {
      snowflake.decode('nope');
    } catch (e) {
      error = e;
    }
    expect(isInvalidIdError(error)).toBe(true);
    expect(isValidationError(error)).toBe(true);
    expect(isHitchError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'HITCH_VALIDATION', name: 'InvalidIdError', input: '"nope"', issues: [{ path: '', message: (error as Error).message }] });
  });

  it('accepts 0 and 2^63-1', () => {
    expect(snowflake.decode('0')).toEqual({ timestamp: snowflake.epoch, datacenterId: 0, workerId: 0, sequence: 0 });
    expect(snowflake.decode('9223372036854775807')).toEqual({ timestamp: snowflake.epoch + 2 ** 41 - 1, datacenterId: 15, workerId: 63, sequence: 4095 });
  });
});

describe('compare', () => {
  const snowflake = createSnowflake({ workerId: 1, env: {} });

  it('orders ids numerically, bigints and strings mixed', () => {
    expect(snowflake.compare(1n, 2n)).toBe(-1);
    expect(snowflake.compare('10', 9n)).toBe(1);
    expect(snowflake.compare('123', 123n)).toBe(0);
    // Not lexicographic: "9" < "10" as ids.
    expect(snowflake.compare('9', '10')).toBe(-1);
  });

  it('sorts ids back into issue order, detached from the generator', () => {
    const ids = Array.from({ length: 1000 }, () => snowflake.nextString());
    const shuffled = [...ids].reverse();
    shuffled.sort(snowflake.compare);
    expect(shuffled).toEqual(ids);
  });
});
