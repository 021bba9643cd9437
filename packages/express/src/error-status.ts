import { ErrorCode, isHitchError } from '@hitch/core';

/**
 * The one table from Hitch error codes to HTTP status codes. Validation, not found and illegal
 * transition are the caller's mistakes (4xx); an open breaker, a full bulkhead or queue, or an
 * exhausted retry budget mean "this dependency is shedding load, try later" (503); a timeout
 * is a gateway timeout (504). Codes not listed (configuration errors, shutdown) are 500.
 */
export const HTTP_STATUS_BY_ERROR_CODE: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  [ErrorCode.Validation]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.IllegalTransition]: 409,
  [ErrorCode.GuardRejected]: 409,
  [ErrorCode.VersionConflict]: 409,
  [ErrorCode.CircuitOpen]: 503,
  [ErrorCode.BulkheadRejected]: 503,
  [ErrorCode.RetryBudgetExceeded]: 503,
  [ErrorCode.TaskQueueFull]: 503,
  [ErrorCode.TaskRunnerClosed]: 503,
  [ErrorCode.Timeout]: 504,
});

/** Code of errors that are not Hitch's and carry no client status: the body never says more. */
export const INTERNAL_ERROR_CODE = 'HITCH_INTERNAL';
/** Code of a 4xx raised by Express or its middleware (body-parser's 400 and 413, a bad route parameter). */
export const BAD_REQUEST_CODE = 'HITCH_BAD_REQUEST';

/** How an error is answered: status, code and whether its message may be shown to the client. */
export interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
}

/**
 * Status and code for an error a handler threw or passed to `next`. Hitch errors use the table;
 * an error with a 4xx `status` or `statusCode` (http-errors, body-parser) keeps it; anything else
 * is a 500 whose message is not exposed.
 */
export function answerFor(error: unknown): ErrorAnswer {
  if (isHitchError(error)) {
    const status = HTTP_STATUS_BY_ERROR_CODE[error.code] ?? 500;
    return { status, code: error.code, expose: status < 500 || status === 503 || status === 504 };
  }
  if (typeof error === 'object' && error !== null) {
    const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
    const s = typeof status === 'number' ? status : statusCode;
    if (typeof s === 'number' && Number.isInteger(s) && s >= 400 && s < 500) return { status: s, code: BAD_REQUEST_CODE, expose: true };
  }
  return { status: 500, code: INTERNAL_ERROR_CODE, expose: false };
}
