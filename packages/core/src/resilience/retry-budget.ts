import type { Clock } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { describeOption, policyClock } from './compose.js';

export interface RetryBudgetOptions {
  /**
   * Retries may add at most this fraction of the calls seen in the window (`0.1`: 10 retries per
   * 100 calls, so retrying can raise the load on a failing downstream by 10 % at most).
   * Defaults to `0.1`.
   */
  readonly ratio?: number;
  /**
   * Retries allowed per second regardless of traffic, so a service that makes few calls can
   * still retry. Defaults to `1`.
   */
  readonly minRetriesPerSecond?: number;
  /** The sliding window over which calls and retries are counted, in milliseconds. Defaults to `10_000`. */
  readonly windowMs?: number;
  /** Time source. Defaults to `systemClock` (a retry policy passes its own clock). */
  readonly clock?: Clock;
}

/** The window is cut into this many buckets; the oldest is dropped as time moves on. */
const BUCKETS = 10;
/** Absorbs binary rounding, so that e.g. `0.29 * 100` still grants 29 retries. */
const EPSILON = 1e-9;

/**
 * Limits retries to a fraction of calls over a sliding time window, like Finagle's and Linkerd's
 * retry budgets. A retry is allowed while
 *
 *     retries + 1 <= minRetriesPerSecond * windowMs / 1000 + ratio * calls
 *
 * where `calls` (first attempts) and `retries` are counted over the last `windowMs`. When a
 * downstream fails every call, retries stop at that bound instead of multiplying its load by
 * `maxAttempts` (with the defaults: 10 retries per 10 s, plus 1 per 10 calls).
 *
 * The window is kept in 10 buckets of `windowMs / 10`, rotated by the clock (never by count): a
 * bucket leaves the window whole once it is `windowMs` old, and an idle period empties it, so
 * after `windowMs` without traffic the budget is back to its floor.
 * One budget may be shared by several retry policies (e.g. every route to one downstream).
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  private readonly clock: Clock;
  private readonly bucketMs: number;
  private readonly floor: number;
  private readonly calls = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private totalCalls = 0;
  private totalRetries = 0;
  /** The absolute index (`floor(now / bucketMs)`) of the bucket being filled. */
  private current: number;

  constructor(options: RetryBudgetOptions = {}, option = 'retryBudget') {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError(option, `should be an object like { ratio: 0.1 }, got ${describeOption(options)}`);
    const { ratio = 0.1, minRetriesPerSecond = 1, windowMs = 10_000 } = options;
    if (typeof ratio !== 'number' || !(ratio >= 0) || !Number.isFinite(ratio)) {
      throw new InvalidOptionError(`${option}.ratio`, `should be a finite number >= 0, got ${describeOption(ratio)}`);
    }
    if (typeof minRetriesPerSecond !== 'number' || !(minRetriesPerSecond >= 0) || !Number.isFinite(minRetriesPerSecond)) {
      throw new InvalidOptionError(`${option}.minRetriesPerSecond`, `should be a finite number >= 0, got ${describeOption(minRetriesPerSecond)}`);
    }
    if (typeof windowMs !== 'number' || !(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new InvalidOptionError(`${option}.windowMs`, `should be a positive finite number of milliseconds, got ${describeOption(windowMs)}`);
    }
    this.ratio = ratio;
    this.minRetriesPerSecond = minRetriesPerSecond;
    this.windowMs = windowMs;
    this.clock = policyClock(option, options.clock);
    this.bucketMs = windowMs / BUCKETS;
    this.floor = (minRetriesPerSecond * windowMs) / 1000;
    this.current = Math.floor(this.clock.now() / this.bucketMs);
  }

  /** Counts a call (its first attempt). */
  recordCall(): void {
    const index = this.rotate();
    this.calls[index] = (this.calls[index] ?? 0) + 1;
    this.totalCalls++;
  }

  /** Takes one retry from the budget: true if it was allowed (and is now counted), false if spent. */
  tryRetry(): boolean {
    const index = this.rotate();
    if (this.totalRetries + 1 > this.floor + this.ratio * this.totalCalls + EPSILON) return false;
    this.retries[index] = (this.retries[index] ?? 0) + 1;
    this.totalRetries++;
    return true;
  }

  /** Whole retries the budget would allow right now. */
  get available(): number {
    this.rotate();
    return Math.max(0, Math.floor(this.floor + this.ratio * this.totalCalls - this.totalRetries + EPSILON));
  }

  /** Calls and retries counted in the current window. */
  get counts(): { readonly calls: number; readonly retries: number } {
    this.rotate();
    return { calls: this.totalCalls, retries: this.totalRetries };
  }

  /** Drops the buckets that fell out of the window; returns the slot of the current bucket. */
  private rotate(): number {
    const now = Math.floor(this.clock.now() / this.bucketMs);
    const steps = now - this.current;
    if (steps > 0) {
      if (steps >= BUCKETS) {
        this.calls.fill(0);
        this.retries.fill(0);
        this.totalCalls = 0;
        this.totalRetries = 0;
      } else {
        for (let step = 1; step <= steps; step++) {
          const slot = (this.current + step) % BUCKETS;
          this.totalCalls -= this.calls[slot] ?? 0;
          this.totalRetries -= this.retries[slot] ?? 0;
          this.calls[slot] = 0;
          this.retries[slot] = 0;
        }
      }
      this.current = now;
    }
    return this.current % BUCKETS;
  }
}

/** A retry budget to share between retry policies: see {@link RetryBudget}. */
export function retryBudget(options?: RetryBudgetOptions): RetryBudget {
  return new RetryBudget(options);
}
