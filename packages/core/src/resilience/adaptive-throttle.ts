import { SlidingWindow } from './sliding-window.js';

/**
 * Client-side adaptive throttling, from the Google SRE book (chapter "Handling Overload"):
 * over a sliding window the client counts
 *
 * - `requests`: the requests the application attempted, including those rejected locally;
 * - `accepts`: the requests the backend accepted (that did not fail);
 *
 * and rejects each new request locally with probability
 * `max(0, (requests - k * accepts) / (requests + 1))`.
 *
 * While the backend accepts everything the probability is 0. When it starts failing,
 * `requests` outgrows `k * accepts` and the client sheds a growing share of the traffic itself,
 * without waiting for an error; since local rejections count as requests, the shedding
 * deepens while the backend keeps failing, and fades as soon as it accepts again (`k`
 * accepted requests make room for `k` attempted ones). `k = 2` sheds nothing until more than
 * half of the requests fail; a smaller `k` sheds earlier, a larger one later.
 *
 * This class is the bookkeeping only; the circuit breaker's `mode: { kind: 'adaptive' }` runs
 * calls through it. It checks no argument: the breaker validates them once.
 */
export class AdaptiveThrottle {
  private readonly k: number;
  private readonly random: () => number;
  /** `calls` are the requests, `failures` the requests that were not accepted. */
  private readonly window: SlidingWindow;

  /**
   * @param k the SRE book's `K` (>= 1).
   * @param windowMs length of the counting window in milliseconds.
   * @param bucketCount buckets in the window (a positive integer, at most `windowMs`).
   * @param random uniform in [0, 1); called once per request while the probability is above 0.
   * @param now the current time in clock milliseconds.
   */
  constructor(k: number, windowMs: number, bucketCount: number, random: () => number, now: number) {
    this.k = k;
    this.random = random;
    this.window = new SlidingWindow(windowMs, bucketCount, now);
  }

  /** Requests counted in the window at the last update (rejected ones included). */
  get requests(): number {
    return this.window.calls;
  }

  /** Requests the backend accepted, in the window at the last update. */
  get accepts(): number {
    return this.window.calls - this.window.failures;
  }

  /** The probability that a request arriving at `now` is rejected locally. */
  rejectProbability(now: number): number {
    const window = this.window;
    window.advance(now);
    const requests = window.calls;
    const accepts = requests - window.failures;
    const p = (requests - this.k * accepts) / (requests + 1);
    return p > 0 ? p : 0;
  }

  /**
   * Decides for a request arriving at `now`: `true` means reject it locally. A rejected request
   * is counted at once as a request that was not accepted; an admitted one is counted by
   * {@link record} when it ends.
   */
  shouldReject(now: number): boolean {
    const p = this.rejectProbability(now);
    if (p === 0 || this.random() >= p) return false;
    this.window.record(now, true, false);
    return true;
  }

  /** Counts an admitted request that ended at `now`, accepted by the backend or not. */
  record(now: number, accepted: boolean): void {
    this.window.record(now, !accepted, false);
  }

  /** Forgets every count. */
  reset(now: number): void {
    this.window.reset(now);
  }
}
