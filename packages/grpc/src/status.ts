import { ErrorCode, isHitchError } from '@hitch/core';
import { status as Status } from '@grpc/grpc-js';

/**
 * The one table from Hitch error codes to gRPC status codes: the caller's mistakes are
 * INVALID_ARGUMENT, NOT_FOUND and FAILED_PRECONDITION; load shedding (open breaker, full
 * bulkhead or queue, spent retry budget) is UNAVAILABLE, which clients may retry elsewhere or
 * later; a timeout is DEADLINE_EXCEEDED. Codes not listed are INTERNAL.
 */
export const GRPC_STATUS_BY_ERROR_CODE: Readonly<Partial<Record<ErrorCode, Status>>> = Object.freeze({
  [ErrorCode.Validation]: Status.INVALID_ARGUMENT,
  [ErrorCode.NotFound]: Status.NOT_FOUND,
  [ErrorCode.IllegalTransition]: Status.FAILED_PRECONDITION,
  [ErrorCode.GuardRejected]: Status.FAILED_PRECONDITION,
  // Optimistic concurrency lost a race: the client may re-read and retry (gRPC's ABORTED).
  [ErrorCode.VersionConflict]: Status.ABORTED,
  [ErrorCode.CircuitOpen]: Status.UNAVAILABLE,
  [ErrorCode.BulkheadRejected]: Status.UNAVAILABLE,
  [ErrorCode.RetryBudgetExceeded]: Status.UNAVAILABLE,
  [ErrorCode.TaskQueueFull]: Status.UNAVAILABLE,
  [ErrorCode.TaskRunnerClosed]: Status.UNAVAILABLE,
  [ErrorCode.Timeout]: Status.DEADLINE_EXCEEDED,
});

/**
 * Status codes that make a SERVER span an error (semantic conventions, RPC spans: the others are
 * the caller's business: a NOT_FOUND is a correct answer).
 */
export const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([
  Status.UNKNOWN,
  Status.DEADLINE_EXCEEDED,
  Status.UNIMPLEMENTED,
  Status.INTERNAL,
  Status.UNAVAILABLE,
  Status.DATA_LOSS,
]);

/** `OK`, `NOT_FOUND`, ...: the name of a status code, as `rpc.status_code` and the metric label carry it. */
export function statusName(code: number): string {
  return (Status as unknown as Record<number, string | undefined>)[code] ?? String(code);
}

/** Every status code name, for the metric label's allow-list. */
export const STATUS_NAMES: readonly string[] = Object.keys(Status).filter((k) => Number.isNaN(Number(k)));

/** What a handler's error is answered with. */
export interface StatusAnswer {
  readonly code: Status;
  readonly details: string;
}

/**
 * The status for an error a handler threw, rejected with or passed to its callback. Hitch errors
 * use the table, with their message; an error that already carries a numeric gRPC `code` keeps
 * it; anything else is INTERNAL with a generic message (no stack, no internals leak).
 */
export function statusFor(error: unknown): StatusAnswer {
  if (isHitchError(error)) {
    return { code: GRPC_STATUS_BY_ERROR_CODE[error.code] ?? Status.INTERNAL, details: error.message };
  }
  const code = grpcCodeOf(error);
  if (code !== undefined) {
    const details = (error as { details?: unknown }).details;
    return { code, details: typeof details === 'string' ? details : error instanceof Error ? error.message : '' };
  }
  return { code: Status.INTERNAL, details: 'Internal error' };
}

/**
 * The gRPC status code (1..16) a non-Hitch error already carries, e.g. a `ServiceError` from a
 * downstream call or a `{ code, details }` status object; `undefined` for anything else.
 */
export function grpcCodeOf(error: unknown): Status | undefined {
  if (typeof error !== 'object' || error === null || isHitchError(error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && Number.isInteger(code) && code > 0 && code <= 16 ? code : undefined;
}
