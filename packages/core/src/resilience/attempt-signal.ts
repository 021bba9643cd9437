import type { Clock, TimerHandle } from '../clock/clock.js';
import { TimeoutError, withoutStack } from '../errors/resilience-errors.js';

/**
 * The AbortSignal of one attempt. It fires when the caller's signal aborts (with the caller's
 * reason), when `timeoutMs` passes, or when the deadline is reached (with a `TimeoutError`).
 * `dispose()` removes the listener and the timer: call it when the attempt settles, so an idle
 * policy holds no timer and keeps nothing alive.
 */
export class AttemptSignal {
  private readonly controller = new AbortController();
  private readonly clock: Clock;
  private readonly caller: AbortSignal | undefined;
  private timer: TimerHandle | undefined;
  private readonly onCallerAbort: (() => void) | undefined;
  /** The limit that fired, when the attempt was aborted by time. */
  timedOutAfterMs: number | undefined;

  constructor(clock: Clock, caller: AbortSignal | undefined, timeoutMs: number | undefined, deadline: number | undefined, what: string) {
    this.clock = clock;
    this.caller = caller;
    if (caller !== undefined) {
      if (caller.aborted) {
        this.controller.abort(caller.reason);
        return;
      }
      this.onCallerAbort = () => this.controller.abort(caller.reason);
      caller.addEventListener('abort', this.onCallerAbort, { once: true });
    }
    let limit = timeoutMs;
    if (deadline !== undefined) {
      const remaining = deadline - clock.now();
      if (limit === undefined || remaining < limit) limit = remaining;
    }
    if (limit !== undefined) {
      if (limit <= 0) {
        this.fire(0, `${what} (its deadline had already passed)`);
      } else {
        const ms = limit;
        this.timer = clock.setTimeout(() => {
          this.timer = undefined;
          this.fire(ms, what);
        }, ms);
      }
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborts the attempt now with `reason` (e.g. a breaker timing out a hung probe). */
  abort(reason: unknown): void {
    this.controller.abort(reason);
  }

  dispose(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.onCallerAbort !== undefined) this.caller?.removeEventListener('abort', this.onCallerAbort);
  }

  private fire(ms: number, what: string): void {
    this.timedOutAfterMs = ms;
    this.controller.abort(withoutStack(() => new TimeoutError(Math.round(ms), what)));
  }
}

/**
 * Settles with `work`'s outcome, or rejects with the signal's reason as soon as it aborts,
 * whichever is first: a timeout must not wait for work that ignores its signal.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      work.catch(() => undefined);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
