import { IdgenErrorCode, isoTime } from './error-code.js';

/**
 * The clock reads more than `maxRollbackMs` behind the timestamp of the last id issued (or
 * before the epoch): issuing now would either repeat ids or stamp them further ahead of the
 * clock than allowed. `next()` throws this, without blocking, until the clock is back within
 * `maxRollbackMs`; the generator then continues by itself.
 */
export class ClockMovedBackwardsError extends Error {
  readonly code = IdgenErrorCode.ClockMovedBackwards;
  readonly isHitchError = true;
  readonly isClockMovedBackwardsError = true;
  /** How far the clock reads behind the last id's timestamp (behind the epoch if none was issued), in whole ms. */
  readonly rollbackMs: number;
  /** The tolerance that was exceeded. */
  readonly maxRollbackMs: number;
  /** The clock reading, Unix ms (whole). */
  readonly clockMs: number;

  constructor(clockMs: number, rollbackMs: number, maxRollbackMs: number, beforeEpoch: boolean) {
    super(
      beforeEpoch
        ? `clock moved backwards: it reads ${isoTime(clockMs)}, ${rollbackMs} ms before the epoch; no id can be issued until it passes the epoch`
        : `clock moved backwards: it reads ${isoTime(clockMs)}, ${rollbackMs} ms behind the last id's timestamp, more than maxRollbackMs ` +
            `(${maxRollbackMs}); next() refuses ids until the clock reaches ${isoTime(clockMs + rollbackMs - maxRollbackMs)}`,
    );
    this.name = 'ClockMovedBackwardsError';
    this.rollbackMs = rollbackMs;
    this.maxRollbackMs = maxRollbackMs;
    this.clockMs = clockMs;
  }
}

export function isClockMovedBackwardsError(error: unknown): error is ClockMovedBackwardsError {
  return typeof error === 'object' && error !== null && (error as { isClockMovedBackwardsError?: unknown }).isClockMovedBackwardsError === true;
}
