import { ErrorCode, HitchError } from './hitch-error.js';

/**
 * Builds an error without capturing a stack trace. Rejections on a hot path (an open breaker, a
 * full bulkhead) happen thousands of times a second during an outage: the stack would cost more
 * than the call, and it always points at the same line of Hitch.
 */
export function withoutStack<E extends Error>(create: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return create();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** An attempt ran out of time (a `timeout` policy, or the caller's deadline). */
export class TimeoutError extends HitchError {
  readonly code = ErrorCode.Timeout;
  readonly isTimeoutError = true;
  /** The limit that was hit, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, what = 'operation') {
    super(`${what} timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

export function isTimeoutError(error: unknown): error is TimeoutError {
  return typeof error === 'object' && error !== null && (error as { isTimeoutError?: unknown }).isTimeoutError === true;
}

/** A circuit breaker is open (or half-open with all probes taken): the call was not made. */
export class CircuitOpenError extends HitchError {
  readonly code = ErrorCode.CircuitOpen;
  readonly isCircuitOpenError = true;
  readonly breaker: string;
  /** When the breaker will let a probe through, in clock milliseconds; undefined in half-open. */
  readonly retryAfterMs: number | undefined;

  constructor(breaker: string, retryAfterMs?: number) {
    super(`circuit breaker "${breaker}" is open: the call was not made${retryAfterMs !== undefined ? `; probing again in ${Math.max(0, Math.round(retryAfterMs))} ms` : ''}`);
    this.breaker = breaker;
    this.retryAfterMs = retryAfterMs;
  }
}

export function isCircuitOpenError(error: unknown): error is CircuitOpenError {
  return typeof error === 'object' && error !== null && (error as { isCircuitOpenError?: unknown }).isCircuitOpenError === true;
}

/** A bulkhead had no free slot and a full queue. */
export class BulkheadRejectedError extends HitchError {
  readonly code = ErrorCode.BulkheadRejected;
  readonly isBulkheadRejectedError = true;
  readonly policy: string;

  constructor(policy: string, maxConcurrent: number, queueLimit: number) {
    super(`bulkhead "${policy}" is full (${maxConcurrent} running, ${queueLimit} queued): the call was rejected`);
    this.policy = policy;
  }
}

export function isBulkheadRejectedError(error: unknown): error is BulkheadRejectedError {
  return typeof error === 'object' && error !== null && (error as { isBulkheadRejectedError?: unknown }).isBulkheadRejectedError === true;
}

/** A retry was due but the retry budget was spent: retrying would have amplified an outage. */
export class RetryBudgetExceededError extends HitchError {
  readonly code = ErrorCode.RetryBudgetExceeded;
  readonly isRetryBudgetExceededError = true;
  readonly policy: string;

  constructor(policy: string, cause: unknown) {
    super(`retry budget of "${policy}" is spent: not retrying (the last attempt's error is the cause)`, { cause });
    this.policy = policy;
  }
}

export function isRetryBudgetExceededError(error: unknown): error is RetryBudgetExceededError {
  return (
    typeof error === 'object' && error !== null && (error as { isRetryBudgetExceededError?: unknown }).isRetryBudgetExceededError === true
  );
}

/** A task runner's queue is full: backpressure, the task was not accepted. */
export class TaskQueueFullError extends HitchError {
  readonly code = ErrorCode.TaskQueueFull;
  readonly isTaskQueueFullError = true;
  readonly runner: string;

  constructor(runner: string, queueLimit: number) {
    super(`task runner "${runner}" has ${queueLimit} tasks queued (its queueLimit): the task was rejected`);
    this.runner = runner;
  }
}

export function isTaskQueueFullError(error: unknown): error is TaskQueueFullError {
  return typeof error === 'object' && error !== null && (error as { isTaskQueueFullError?: unknown }).isTaskQueueFullError === true;
}

/** A task was submitted to a runner that is draining or drained. */
export class TaskRunnerClosedError extends HitchError {
  readonly code = ErrorCode.TaskRunnerClosed;
  readonly isTaskRunnerClosedError = true;
  readonly runner: string;

  constructor(runner: string) {
    super(`task runner "${runner}" is draining or drained: it accepts no new tasks`);
    this.runner = runner;
  }
}

export function isTaskRunnerClosedError(error: unknown): error is TaskRunnerClosedError {
  return typeof error === 'object' && error !== null && (error as { isTaskRunnerClosedError?: unknown }).isTaskRunnerClosedError === true;
}
