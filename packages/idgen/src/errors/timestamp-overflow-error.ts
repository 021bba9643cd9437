import { IdgenErrorCode, isoTime } from './error-code.js';

/**
 * The clock is past the last millisecond `layout.timestampBits` can hold after the epoch. Ids
 * are never wrapped (they would sort before every earlier id); create a generator with a later
 * epoch or more timestamp bits.
 */
export class TimestampOverflowError extends Error {
  readonly code = IdgenErrorCode.TimestampOverflow;
  readonly isHitchError = true;
  readonly isTimestampOverflowError = true;
  /** The last Unix ms the layout can hold. */
  readonly lastTimestampMs: number;

  constructor(clockMs: number, lastTimestampMs: number, timestampBits: number) {
    super(
      `timestamp overflow: ${isoTime(clockMs)} is past ${isoTime(lastTimestampMs)}, the last millisecond ` +
        `layout.timestampBits (${timestampBits}) holds after the epoch; use a later epoch or more timestamp bits`,
    );
    this.name = 'TimestampOverflowError';
    this.lastTimestampMs = lastTimestampMs;
  }
}

export function isTimestampOverflowError(error: unknown): error is TimestampOverflowError {
  return typeof error === 'object' && error !== null && (error as { isTimestampOverflowError?: unknown }).isTimestampOverflowError === true;
}
