import type { Clock } from '../clock/clock.js';
import type { Policy, PolicyExecuteOptions } from '../policy/policy.js';

/** Circuit breaker states, with their gauge values (`hitch_circuit_breaker_state`). */
export const CircuitState = { Closed: 'closed', Open: 'open', HalfOpen: 'half_open' } as const;
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

/** How one retry attempt ended (the `outcome` label of `hitch_retry_attempts_total`). */
export const RetryOutcome = {
  /** The attempt succeeded. */
  Success: 'success',
  /** It failed and another attempt follows. */
  Retry: 'retry',
  /** It failed and was the last allowed (`maxAttempts`). */
  Exhausted: 'exhausted',
  /** It failed with an error `retryOn` rejects. */
  NotRetryable: 'not_retryable',
  /** It failed and the retry budget is spent. */
  BudgetExceeded: 'budget_exceeded',
  /** It failed and no further attempt could finish before the deadline. */
  Deadline: 'deadline',
  /** The caller aborted. */
  Aborted: 'aborted',
} as const;
export type RetryOutcome = (typeof RetryOutcome)[keyof typeof RetryOutcome];

/**
 * What policies report. The resilience code never imports metrics, tracing or logging:
 * `createHitch` passes an implementation that turns these into metrics, span events on the
 * active span and log lines. Every method is called synchronously in the caller's context.
 */
export interface ResilienceInstrumentation {
  stateChanged(breaker: string, from: CircuitState, to: CircuitState): void;
  retryAttempt(policy: string, attempt: number, outcome: RetryOutcome, delayMs: number | undefined, error: unknown): void;
  timedOut(policy: string, timeoutMs: number): void;
  bulkheadRejected(policy: string): void;
  /** A breaker rejected a call without making it. */
  breakerRejected(breaker: string, state: CircuitState): void;
}

/** Options every policy factory takes. */
export interface PolicyBaseOptions {
  /** Name in metrics, span events and errors. Defaults to the policy kind (`'retry'`, `'breaker'`...). */
  readonly name?: string;
  /** Time and timers. Defaults to `systemClock`. */
  readonly clock?: Clock;
  /** Where the policy reports. Defaults to none (hitch.resilience.* factories pass the Hitch instance's). */
  readonly instrumentation?: ResilienceInstrumentation;
}

/** `execute` options: the caller's signal and an absolute deadline in clock milliseconds. */
export type ExecuteOptions = PolicyExecuteOptions;

/** A resilience policy: runs `fn`, maybe several times, each attempt with its own signal. */
export interface ResiliencePolicy extends Policy {
  readonly name: string;
}
