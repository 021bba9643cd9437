import { isHitchError } from '@hitch/core';
import { describe, expect, it } from 'vitest';
import {
  ClockMovedBackwardsError,
  IdgenErrorCode,
  InvalidIdError,
  InvalidSnowflakeOptionError,
  SequenceExhaustedError,
  TimestampOverflowError,
  isClockMovedBackwardsError,
  isInvalidIdError,
  isInvalidSnowflakeOptionError,
  isSequenceExhaustedError,
  isTimestampOverflowError,
} from '../src/index.js';

const T = Date.UTC(2025, 5, 1);

describe.each([
  ['InvalidSnowflakeOptionError', new InvalidSnowflakeOptionError('workerId', 'x'), isInvalidSnowflakeOptionError, IdgenErrorCode.InvalidOption],
  ['InvalidIdError', new InvalidIdError('x', 'y'), isInvalidIdError, IdgenErrorCode.InvalidId],
  ['ClockMovedBackwardsError', new ClockMovedBackwardsError(T, 60, 50, false), isClockMovedBackwardsError, IdgenErrorCode.ClockMovedBackwards],
  ['SequenceExhaustedError', new SequenceExhaustedError(T, 4096, 50, 1), isSequenceExhaustedError, IdgenErrorCode.SequenceExhausted],
  ['TimestampOverflowError', new TimestampOverflowError(T, T - 1, 41), isTimestampOverflowError, IdgenErrorCode.TimestampOverflow],
] as const)('%s', (name, error, guard, code) => {
  it('has its name, stable code, brand and guard, and counts as a Hitch error', () => {
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(guard(error)).toBe(true);
    expect(isHitchError(error)).toBe(true);
    expect(error).toBeInstanceOf(Error);
  });

  it('its guard rejects other errors and non-errors', () => {
    expect(guard(new Error('x'))).toBe(false);
    expect(guard(undefined)).toBe(false);
    expect(guard({ code })).toBe(false);
  });
});

describe('codes', () => {
  it('are stable strings', () => {
    expect(IdgenErrorCode).toEqual({
      InvalidOption: 'HITCH_INVALID_OPTION',
      InvalidId: 'HITCH_VALIDATION',
      ClockMovedBackwards: 'HITCH_CLOCK_MOVED_BACKWARDS',
      SequenceExhausted: 'HITCH_SEQUENCE_EXHAUSTED',
      TimestampOverflow: 'HITCH_TIMESTAMP_OVERFLOW',
    });
  });
});
