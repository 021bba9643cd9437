import { IdgenErrorCode } from './error-code.js';

/**
 * An option of `createSnowflake` is out of range or malformed; the message names the option
 * and the fix. A `RangeError`, carrying the brands of core's `InvalidOptionError` (code
 * `HITCH_INVALID_OPTION`), so `isInvalidOptionError` and `isHitchError` from `@hitch/core`
 * recognise it too. Nothing is ever masked into range: `workerId: 40` with 6 worker bits throws.
 */
export class InvalidSnowflakeOptionError extends RangeError {
  readonly code = IdgenErrorCode.InvalidOption;
  readonly isHitchError = true;
  readonly isInvalidOptionError = true;
  readonly isInvalidSnowflakeOptionError = true;
  /** The offending option (`layout.workerBits`) or environment variable (`HITCH_WORKER_ID`). */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.name = 'InvalidSnowflakeOptionError';
    this.option = option;
  }
}

export function isInvalidSnowflakeOptionError(error: unknown): error is InvalidSnowflakeOptionError {
  return (
    typeof error === 'object' && error !== null && (error as { isInvalidSnowflakeOptionError?: unknown }).isInvalidSnowflakeOptionError === true
  );
}
