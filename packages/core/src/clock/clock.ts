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
  /** Schedules `fn` after `ms`. The returned timer must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `unref()`ed Node timers, and a high-resolution `now()` aligned to the Unix
 * epoch at process start (`performance.timeOrigin + performance.now()`). It is monotonic: it
 * does not step when the wall clock is adjusted, so durations never come out negative.
 */
export const systemClock: Clock = {
  now: () => timeOrigin + performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
