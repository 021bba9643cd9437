import { isHitchError, isInvalidOptionError } from '@hitch/core';
import { describe, expect, it } from 'vitest';
import type { SnowflakeOptions } from '../src/index.js';
import { InvalidSnowflakeOptionError, createSnowflake, isInvalidSnowflakeOptionError } from '../src/index.js';
import { ManualClock, T0 } from './support/manual-clock.js';

const clock = new ManualClock(T0);
const env = {};

/** Calls createSnowflake and returns what it threw. */
function thrown(options: unknown): InvalidSnowflakeOptionError {
  try {
    createSnowflake(options as SnowflakeOptions);
  } catch (error) {
    if (!isInvalidSnowflakeOptionError(error)) throw error;
    return error;
  }
  throw new Error('createSnowflake did not throw');
}

// Every message names the option and says the fix. Pinned: they are part of the API.
describe.each<[string, unknown, string]>([
  ['options of the wrong type', null, 'options: must be an object such as { workerId: 3 }, got null'],
  [
    'an unknown option (a typo)',
    { workerID: 3, clock, env },
    'workerID: is not an option of createSnowflake; the options are epoch, datacenterId, workerId, layout, maxRollbackMs, clock, hitch, name, env',
  ],
  [
    'a worker id beyond the layout (never masked)',
    { workerId: 64, clock, env },
    'workerId: must be an integer in 0..63 (layout.workerBits = 6), got 64; ids are never masked into range, so pick one in range or widen layout.workerBits',
  ],
  [
    'a negative worker id',
    { workerId: -1, clock, env },
    'workerId: must be an integer in 0..63 (layout.workerBits = 6), got -1; ids are never masked into range, so pick one in range or widen layout.workerBits',
  ],
  [
    'a worker id as a string',
    { workerId: '3', clock, env },
    'workerId: must be an integer in 0..63 (layout.workerBits = 6), got "3"; ids are never masked into range, so pick one in range or widen layout.workerBits',
  ],
  [
    'datacenter 40 with 4 bits (other libraries mask it to 8)',
    { workerId: 1, datacenterId: 40, clock, env },
    'datacenterId: must be an integer in 0..15 (layout.datacenterBits = 4), got 40; ids are never masked into range, so pick one in range or widen layout.datacenterBits',
  ],
  [
    'a layout of 64 bits',
    { workerId: 1, layout: { sequenceBits: 13 }, clock, env },
    'layout: the fields must add up to 63 bits (the sign bit stays 0), got 41 + 4 + 6 + 13 = 64; take 1 bit from a field',
  ],
  [
    'a layout of 61 bits',
    { workerId: 1, layout: { sequenceBits: 10 }, clock, env },
    'layout: the fields must add up to 63 bits (the sign bit stays 0), got 41 + 4 + 6 + 10 = 61; give 2 more bits to a field',
  ],
  ['a field of 0 bits', { workerId: 1, layout: { workerBits: 0, sequenceBits: 18 }, clock, env }, 'layout.workerBits: must be an integer of at least 1, got 0'],
  [
    'an unknown layout field',
    { workerId: 1, layout: { seqBits: 3 }, clock, env },
    'layout.seqBits: is not a layout field; the fields are timestampBits, datacenterBits, workerBits, sequenceBits',
  ],
  [
    'a sequence wider than 32 bits',
    { workerId: 1, layout: { timestampBits: 21, datacenterBits: 3, workerBits: 6, sequenceBits: 33 }, clock, env },
    'layout.sequenceBits: must be at most 32 (2^32 ids per millisecond), got 33',
  ],
  ['a layout that is not an object', { workerId: 1, layout: 5, clock, env }, 'layout: must be an object such as { workerBits: 8, datacenterBits: 2 }, got 5'],
  [
    'an epoch in the future',
    { workerId: 1, epoch: T0 + 1, clock, env },
    "epoch: must not be in the future: 2025-06-01T00:00:00.001Z is after the clock's 2025-06-01T00:00:00.000Z; pass a past time such as Date.UTC(2024, 0, 1)",
  ],
  ['an epoch that is not a time', { workerId: 1, epoch: 'yesterday', clock, env }, 'epoch: must be Unix time in whole milliseconds or a valid Date, got "yesterday"'],
  [
    'an epoch too long ago for the timestamp bits',
    { workerId: 1, epoch: 0, layout: { timestampBits: 31, datacenterBits: 14 }, clock, env },
    'epoch: 1970-01-01T00:00:00.000Z is too long ago for layout.timestampBits = 31: its timestamps ran out at 1970-01-25T20:31:23.647Z; pick a later epoch or more timestamp bits',
  ],
  ['a negative maxRollbackMs', { workerId: 1, maxRollbackMs: -1, clock, env }, 'maxRollbackMs: must be a whole number of milliseconds, 0 or more, got -1'],
  ['a fractional maxRollbackMs', { workerId: 1, maxRollbackMs: 0.5, clock, env }, 'maxRollbackMs: must be a whole number of milliseconds, 0 or more, got 0.5'],
  [
    'Date.now instead of a clock',
    { workerId: 1, clock: Date.now, env },
    'clock: must be an object with a now() method returning Unix milliseconds, such as { now: Date.now }',
  ],
  ['a clock returning a string', { workerId: 1, clock: { now: () => 'x' }, env }, 'clock: now() must return Unix time in milliseconds, it returned "x"'],
  ['a hitch without metrics', { workerId: 1, hitch: {}, clock, env }, 'hitch: must be a Hitch instance from createHitch() (it has no metrics registry)'],
  ['an empty name', { workerId: 1, name: '', clock, env }, 'name: must be a non-empty string of at most 64 characters (a metric label value), got ""'],
  ['env that is not an object', { workerId: 1, env: 'x', clock }, 'env: must be an object of environment variables such as process.env'],
])('createSnowflake with %s', (_case, options, message) => {
  it('throws a RangeError that says the fix', () => {
    const error = thrown(options);
    expect(error.message).toBe(message);
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toBeInstanceOf(InvalidSnowflakeOptionError);
    expect(error.option).toBe(message.slice(0, message.indexOf(':')));
  });
});

describe('InvalidSnowflakeOptionError', () => {
  it("carries core's InvalidOptionError brands, so core's guards recognise it", () => {
    const error = thrown({ workerId: 99, clock, env });
    expect(error.code).toBe('HITCH_INVALID_OPTION');
    expect(error.name).toBe('InvalidSnowflakeOptionError');
    expect(isInvalidOptionError(error)).toBe(true);
    expect(isHitchError(error)).toBe(true);
    expect(isInvalidSnowflakeOptionError(new RangeError('x'))).toBe(false);
  });
});

describe('valid options', () => {
  it('accepts a Date epoch, a custom layout and the extremes of each field', () => {
    const layout = { timestampBits: 40, datacenterBits: 2, workerBits: 9, sequenceBits: 12 };
    const snowflake = createSnowflake({ workerId: 511, datacenterId: 3, layout, epoch: new Date(T0 - 1000), clock, env });
    expect(snowflake).toMatchObject({ workerId: 511, datacenterId: 3, epoch: T0 - 1000, layout, workerIdSource: 'option', maxRollbackMs: 50, name: 'default' });
  });

  it('accepts an epoch equal to the clock and maxRollbackMs 0', () => {
    const snowflake = createSnowflake({ workerId: 0, epoch: T0, maxRollbackMs: 0, clock, env });
    expect(snowflake.decode(snowflake.next())).toEqual({ timestamp: T0, datacenterId: 0, workerId: 0, sequence: 0 });
  });
});
