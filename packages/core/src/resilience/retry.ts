import type { Clock } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import {
  RetryBudgetExceededError,
  isBulkheadRejectedError,
  isCircuitOpenError,
  isRetryBudgetExceededError,
  withoutStack,
} from '../errors/resilience-errors.js';
import type { PolicyExecuteOptions } from '../policy/policy.js';
import type { BackoffOptions } from './backoff.js';
import { Backoff } from './backoff.js';
import type { NestedExecutable, NestedNext } from './compose.js';
import { describeOption, executeNested, isAborted, policyClock, policyName } from './compose.js';
import type { RetryBudgetOptions } from './retry-budget.js';
import { RetryBudget } from './retry-budget.js';
import { runAttempt } from './timeout.js';
import type { PolicyBaseOptions, ResilienceInstrumentation, ResiliencePolicy } from './types.js';
import { RetryOutcome } from './types.js';

export interface RetryOptions extends PolicyBaseOptions {
  /** Attempts in all, the first included (`1`: never retry). Defaults to `3`. */
  readonly maxAttempts?: number;
  /**
   * The delay before each retry. Defaults to `{ kind: 'full' }`: exponential backoff with full
   * jitter, 100 ms initial cap doubling up to 10 s.
   */
  readonly backoff?: BackoffOptions;
  /**
   * Whether an attempt's error is worth another attempt; `attempt` is the number (from 1) of the
   * attempt that failed. Defaults to {@link defaultRetryOn}. Whatever it says, a call whose
   * caller aborted is never retried.
   */
  readonly retryOn?: (error: unknown, attempt: number) => boolean;
  /**
   * Caps retries at a fraction of calls, shared by every call through this policy (see
   * {@link RetryBudget} for the formula); pass a `RetryBudget` to share one between policies, or
   * `false` to retry without limit. Defaults to `{}`: ratio 0.1, 1 retry per second, 10 s window.
   */
  readonly budget?: RetryBudgetOptions | RetryBudget | false;
  /** Source of numbers in [0, 1) for the jitter. Defaults to `Math.random`. */
  readonly random?: () => number;
}

/**
 * The default `retryOn`: retries every error except those saying a retry is pointless or harmful:
 * `CircuitOpenError` (the call was not made and will not be until the breaker probes),
 * `BulkheadRejectedError` (the process is at its concurrency limit; retrying adds load) and
 * `RetryBudgetExceededError` from an inner retry (retrying would multiply retries).
 *
 * A `TimeoutError` is retried: coming from an inner `timeout` it is that attempt's limit, not
 * the caller's. When it comes from the caller's deadline, the deadline check stops the retries
 * anyway, and a caller's abort is never retried whatever `retryOn` says.
 */
export function defaultRetryOn(error: unknown): boolean {
  return !isCircuitOpenError(error) && !isBulkheadRejectedError(error) && !isRetryBudgetExceededError(error);
}

/**
 * Retries failed attempts with backoff, within a retry budget and the caller's deadline.
 *
 * Deadline: before sleeping `delay`, the retry stops (outcome `deadline`, rejecting with the last
 * error) if `now + delay + shortest >= deadline`, where `shortest` is the shortest attempt of
 * this call so far: an attempt is skipped only when even the fastest one seen could not finish
 * in time, so a retry that had a real chance is never given up, and one that could only be cut
 * by the deadline is not started.
 */
export class RetryPolicy implements ResiliencePolicy, NestedExecutable {
  readonly name: string;
  readonly maxAttempts: number;
  /** The budget retries are drawn from; undefined when disabled (`budget: false`). */
  readonly budget: RetryBudget | undefined;
  private readonly backoff: Backoff;
  private readonly retryOn: (error: unknown, attempt: number) => boolean;
  private readonly clock: Clock;
  private readonly instrumentation: ResilienceInstrumentation | undefined;
  private readonly what: string;

  constructor(options: RetryOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('retry', `expects an options object, got ${describeOption(options)}`);
    const { maxAttempts = 3, retryOn = defaultRetryOn, budget = {} } = options;
    if (typeof maxAttempts !== 'number' || !Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new InvalidOptionError('retry.maxAttempts', `should be a positive integer, got ${describeOption(maxAttempts)}`);
    }
    if (typeof retryOn !== 'function') {
      throw new InvalidOptionError('retry.retryOn', `should be a function (error, attempt) => boolean, got ${describeOption(retryOn)}`);
    }
    this.name = policyName('retry', options.name);
    this.maxAttempts = maxAttempts;
    this.retryOn = retryOn;
    this.clock = policyClock('retry', options.clock);
    this.instrumentation = options.instrumentation;
    this.backoff = new Backoff(options.backoff, options.random ?? Math.random, 'retry.backoff');
    if (budget === false) this.budget = undefined;
    else if (budget instanceof RetryBudget) this.budget = budget;
    else if (typeof budget === 'object' && budget !== null) this.budget = new RetryBudget({ clock: this.clock, ...budget }, 'retry.budget');
    else throw new InvalidOptionError('retry.budget', `should be budget options, a RetryBudget or false, got ${describeOption(budget)}`);
    this.what = `attempt through "${this.name}"`;
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T> {
    return this.run(fn, undefined, options);
  }

  [executeNested]<T>(next: NestedNext<T>, options: PolicyExecuteOptions | undefined): Promise<T> {
    return this.run(undefined, next, options);
  }

  private async run<T>(fn: ((signal: AbortSignal) => Promise<T>) | undefined, next: NestedNext<T> | undefined, options: PolicyExecuteOptions | undefined): Promise<T> {
    const caller = options?.signal;
    const deadline = options?.deadline;
    if (caller?.aborted === true) throw caller.reason;
    this.budget?.recordCall();
    let previousDelay = 0;
    let shortest = Infinity;
    for (let attempt = 1; ; attempt++) {
      const started = deadline === undefined ? 0 : this.clock.now();
      try {
        const value = await (next !== undefined ? next(options) : runAttempt(fn as (signal: AbortSignal) => Promise<T>, caller, deadline, this.clock, undefined, this.what));
        if (this.instrumentation !== undefined) this.report(attempt, RetryOutcome.Success, undefined, undefined);
        return value;
      } catch (error) {
        if (isAborted(caller)) {
          this.report(attempt, RetryOutcome.Aborted, undefined, error);
          throw (caller as AbortSignal).reason;
        }
        if (!this.retryOn(error, attempt)) {
          this.report(attempt, RetryOutcome.NotRetryable, undefined, error);
          throw error;
        }
        if (attempt >= this.maxAttempts) {
          this.report(attempt, RetryOutcome.Exhausted, undefined, error);
          throw error;
        }
        const delay = this.backoff.delay(attempt, previousDelay);
        if (deadline !== undefined) {
          const now = this.clock.now();
          shortest = Math.min(shortest, now - started);
          if (now + delay + shortest >= deadline) {
            this.report(attempt, RetryOutcome.Deadline, undefined, error);
            throw error;
          }
        }
        if (this.budget !== undefined && !this.budget.tryRetry()) {
          this.report(attempt, RetryOutcome.BudgetExceeded, undefined, error);
          throw withoutStack(() => new RetryBudgetExceededError(this.name, error));
        }
        this.report(attempt, RetryOutcome.Retry, delay, error);
        previousDelay = delay;
      }
      if (previousDelay > 0) await this.sleep(previousDelay, caller);
    }
  }

  /** Waits `ms`; the caller's abort clears the timer and rejects at once with the caller's reason. */
  private sleep(ms: number, caller: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (caller === undefined) {
        this.clock.setTimeout(resolve, ms);
        return;
      }
      const onAbort = (): void => {
        this.clock.clearTimeout(timer);
        reject(caller.reason as Error);
      };
      const timer = this.clock.setTimeout(() => {
        caller.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      caller.addEventListener('abort', onAbort, { once: true });
    });
  }

  private report(attempt: number, outcome: RetryOutcome, delayMs: number | undefined, error: unknown): void {
    if (this.instrumentation === undefined) return;
    try {
      this.instrumentation.retryAttempt(this.name, attempt, outcome, delayMs, error);
    } catch {
      // A failing instrumentation never changes the outcome of a call.
    }
  }
}

/** Retries failed attempts: see {@link RetryOptions} for the defaults. */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}
