/** Stable codes of every error Hitch throws. */
export const ErrorCode = {
  InvalidOption: 'HITCH_INVALID_OPTION',
  MetricName: 'HITCH_METRIC_NAME',
  MetricRegistration: 'HITCH_METRIC_REGISTRATION',
  Shutdown: 'HITCH_SHUT_DOWN',
  Timeout: 'HITCH_TIMEOUT',
  CircuitOpen: 'HITCH_CIRCUIT_OPEN',
  BulkheadRejected: 'HITCH_BULKHEAD_REJECTED',
  RetryBudgetExceeded: 'HITCH_RETRY_BUDGET_EXCEEDED',
  TaskQueueFull: 'HITCH_TASK_QUEUE_FULL',
  TaskRunnerClosed: 'HITCH_TASK_RUNNER_CLOSED',
  Validation: 'HITCH_VALIDATION',
  NotFound: 'HITCH_NOT_FOUND',
  IllegalTransition: 'HITCH_ILLEGAL_TRANSITION',
  GuardRejected: 'HITCH_GUARD_REJECTED',
  VersionConflict: 'HITCH_VERSION_CONFLICT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error Hitch throws: each carries a stable `code`. */
export abstract class HitchError extends Error {
  abstract readonly code: ErrorCode;
  readonly isHitchError = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True for any error thrown by Hitch. */
export function isHitchError(error: unknown): error is HitchError {
  return typeof error === 'object' && error !== null && (error as { isHitchError?: unknown }).isHitchError === true;
}

/** An option passed to a Hitch factory or constructor is invalid. The message says which and how to fix it. */
export class InvalidOptionError extends HitchError {
  readonly code = ErrorCode.InvalidOption;
  readonly isInvalidOptionError = true;
  /** Dotted path of the offending option, e.g. `metrics.defaultLabels.region`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.option = option;
  }
}

export function isInvalidOptionError(error: unknown): error is InvalidOptionError {
  return typeof error === 'object' && error !== null && (error as { isInvalidOptionError?: unknown }).isInvalidOptionError === true;
}

/** A Hitch instance (or one of its parts) was used after `shutdown()`. */
export class ShutdownError extends HitchError {
  readonly code = ErrorCode.Shutdown;
  readonly isShutdownError = true;

  constructor(what: string) {
    super(`${what} was called after shutdown(); create a new Hitch instance instead`);
  }
}

export function isShutdownError(error: unknown): error is ShutdownError {
  return typeof error === 'object' && error !== null && (error as { isShutdownError?: unknown }).isShutdownError === true;
}
