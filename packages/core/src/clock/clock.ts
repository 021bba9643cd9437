import { performance } from 'node:perf_hooks';

// Read once: the getter costs about a third of a now() call, and policies read the clock per call.
const timeOrigin = performance.timeOrigin;

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * The one source of time in Hitch. Everything that reads the time or sets a timer takes a
 * `clock` option, so tests run on a fake clock instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (may be fractional). */
  now(): number;
  /**
   * Schedules `fn` after `ms`. Like Node's timer, it keeps the process alive until it fires or is
   * cleared: someone is waiting on it (a retry backoff, a timeout). Background timers call
   * {@link unrefTimer} on the handle.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: Node timers, and a high-resolution `now()` aligned to the Unix
 * epoch at process start (`performance.timeOrigin + performance.now()`). It is monotonic: it
 * does not step when the wall clock is adjusted, so durations never come out negative.
 */
export const systemClock: Clock = {
  now: () => timeOrigin + performance.now(),
  setTimeout(fn, ms) {
    return setTimeout(fn, ms);
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * Lets a background timer (a periodic sweep) not keep the process alive. Works on handles of
 * any clock that has an `unref()` (Node timers); a no-op for others (fake clocks).
 */
export function unrefTimer(handle: TimerHandle): void {
  const unref = (handle as { unref?: unknown } | null)?.unref;
  if (typeof unref === 'function') (unref as () => void).call(handle);
}
