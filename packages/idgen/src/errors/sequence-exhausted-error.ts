import { IdgenErrorCode, isoTime } from './error-code.js';

/**
 * Every id the generator may issue right now is used (the sequence of the newest millisecond is
 * exhausted and that millisecond is already `maxRollbackMs` ahead of the clock), and the clock
 * did not reach its next millisecond within the 1 ms `next()` may wait. Only a clock that stands
 * still or runs slower than real time gets here (a frozen test clock); `next()` issues again as
 * soon as the clock moves on.
 */
export class SequenceExhaustedError extends Error {
  readonly code = IdgenErrorCode.SequenceExhausted;
  readonly isHitchError = true;
  readonly isSequenceExhaustedError = true;
  /** The clock reading when `next()` gave up, Unix ms (whole). */
  readonly clockMs: number;

  constructor(clockMs: number, idsPerMillisecond: number, maxRollbackMs: number, maxWaitMs: number) {
    super(
      `sequence exhausted: all ${idsPerMillisecond} ids of each millisecond up to maxRollbackMs (${maxRollbackMs}) ahead of the clock are used, ` +
        `and the clock (${isoTime(clockMs)}) did not move to its next millisecond within ${maxWaitMs} ms; is it frozen?`,
    );
    this.name = 'SequenceExhaustedError';
    this.clockMs = clockMs;
  }
}

export function isSequenceExhaustedError(error: unknown): error is SequenceExhaustedError {
  return typeof error === 'object' && error !== null && (error as { isSequenceExhaustedError?: unknown }).isSequenceExhaustedError === true;
}
