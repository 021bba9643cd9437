/**
 * Counts of calls, failures and slow calls over the last `windowMs` milliseconds, kept in
 * `bucketCount` buckets of `windowMs / bucketCount` each (a ring).
 *
 * Buckets rotate with the clock, never with the number of calls: every `record` (and
 * `advance`) computes, with integer math on the time it is given, how many buckets have elapsed
 * since the last one and clears them, at most `bucketCount` buckets whatever the gap. So a
 * window that sat idle for ten minutes holds nothing from ten minutes ago, and no timer is
 * needed to age it.
 *
 * The window covers the current (partial) bucket and the `bucketCount - 1` before it: between
 * `windowMs - windowMs / bucketCount` and `windowMs` of history. More buckets make it slide more
 * smoothly; each costs three 32-bit counters.
 *
 * Time that goes backwards (a clock adjusted by hand) is recorded in the current bucket.
 */
export class SlidingWindow {
  /** Calls in the window. */
  calls = 0;
  /** Failed calls in the window. */
  failures = 0;
  /** Slow calls in the window (failed or not). */
  slowCalls = 0;

  private readonly bucketMs: number;
  private readonly bucketCount: number;
  /** Per bucket, three counters in a row: calls, failures, slow calls. */
  private readonly counts: Uint32Array;
  /** Absolute number of the current bucket: `Math.floor(time / bucketMs)`. */
  private headBucket: number;
  /** Offset of the current bucket in `counts` (moved along as buckets elapse, no modulo per call). */
  private headIndex = 0;
  /** When the current bucket ends: before it, `advance` is one comparison. */
  private headEnd: number;

  /**
   * @param windowMs length of the window in milliseconds (positive, finite).
   * @param bucketCount number of buckets (a positive integer, at most `windowMs`). The caller
   *   validates both: this class sits on the hot path and checks nothing.
   * @param now the current time in clock milliseconds.
   */
  constructor(windowMs: number, bucketCount: number, now: number) {
    this.bucketMs = windowMs / bucketCount;
    this.bucketCount = bucketCount;
    this.counts = new Uint32Array(bucketCount * 3);
    this.headBucket = Math.floor(now / this.bucketMs);
    this.headEnd = (this.headBucket + 1) * this.bucketMs;
  }

  /** Counts one call that ended at `now`. */
  record(now: number, failed: boolean, slow: boolean): void {
    if (now >= this.headEnd) this.advance(now);
    const counts = this.counts;
    const i = this.headIndex;
    counts[i]!++;
    this.calls++;
    if (failed) {
      counts[i + 1]!++;
      this.failures++;
    }
    if (slow) {
      counts[i + 2]!++;
      this.slowCalls++;
    }
  }

  /**
   * Moves the window to `now`, clearing the buckets that have elapsed since the last call:
   * `O(min(elapsed buckets, bucketCount))`, and nothing at all within the current bucket.
   */
  advance(now: number): void {
    if (now < this.headEnd) return;
    const bucket = Math.floor(now / this.bucketMs);
    const elapsed = bucket - this.headBucket;
    if (elapsed <= 0) return;
    this.headBucket = bucket;
    this.headEnd = (bucket + 1) * this.bucketMs;
    if (elapsed >= this.bucketCount) {
      this.clearAll();
      return;
    }
    const end = this.counts.length;
    let i = this.headIndex;
    for (let n = 0; n < elapsed; n++) {
      i = i + 3 === end ? 0 : i + 3;
      this.clearBucket(i);
    }
    this.headIndex = i;
  }

  /** Forgets every count (a breaker closing starts a fresh window). */
  reset(now: number): void {
    this.headBucket = Math.floor(now / this.bucketMs);
    this.headEnd = (this.headBucket + 1) * this.bucketMs;
    this.clearAll();
  }

  private clearBucket(i: number): void {
    const counts = this.counts;
    this.calls -= counts[i]!;
    this.failures -= counts[i + 1]!;
    this.slowCalls -= counts[i + 2]!;
    counts[i] = 0;
    counts[i + 1] = 0;
    counts[i + 2] = 0;
  }

  private clearAll(): void {
    this.counts.fill(0);
    this.calls = 0;
    this.failures = 0;
    this.slowCalls = 0;
    this.headIndex = 0;
  }
}
