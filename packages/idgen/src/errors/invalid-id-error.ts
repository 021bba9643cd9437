import { IdgenErrorCode } from './error-code.js';

const PREVIEW_LENGTH = 40;

function preview(input: unknown): string {
  if (typeof input === 'bigint') return `${input}n`;
  if (typeof input === 'string') return JSON.stringify(input.length > PREVIEW_LENGTH ? `${input.slice(0, PREVIEW_LENGTH)}...` : input);
  if (typeof input === 'number') return String(input);
  return typeof input;
}

/**
 * `decode` or `compare` got something that is not an id: not a bigint or decimal string, or
 * outside 0..2^63-1. It carries the brands of core's `ValidationError` (code `HITCH_VALIDATION`,
 * `issues`), so `@hitch/express` answers 400 and `@hitch/grpc` INVALID_ARGUMENT when a handler
 * decodes an id from a request and lets this propagate.
 */
export class InvalidIdError extends Error {
  readonly code = IdgenErrorCode.InvalidId;
  readonly isHitchError = true;
  readonly isValidationError = true;
  readonly isInvalidIdError = true;
  /** The rejected input, shortened for display: `"12a"`, `-1n`, `number`. */
  readonly input: string;
  readonly issues: readonly { readonly path: string; readonly message: string }[];

  constructor(input: unknown, problem: string) {
    const shown = preview(input);
    super(`invalid id ${shown}: ${problem}`);
    this.name = 'InvalidIdError';
    this.input = shown;
    this.issues = [{ path: '', message: this.message }];
  }
}

export function isInvalidIdError(error: unknown): error is InvalidIdError {
  return typeof error === 'object' && error !== null && (error as { isInvalidIdError?: unknown }).isInvalidIdError === true;
}
