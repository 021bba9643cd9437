import type { Clock, TimerHandle } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { TimeoutError, withoutStack } from '../errors/resilience-errors.js';
import type { PolicyExecuteOptions } from '../policy/policy.js';
import { describeOption, policyClock, policyName } from './compose.js';
import type { PolicyBaseOptions, ResilienceInstrumentation, ResiliencePolicy } from './types.js';

export interface TimeoutOptions extends PolicyBaseOptions {
  /**
   * Limit on each call, in milliseconds. When it passes, the call's signal aborts with a
   * `TimeoutError` and the call rejects with it at once, even if the work ignores its signal.
   * A caller's deadline that comes earlier wins. Required.
   */
  readonly timeoutMs: number;
}

/** Limits each call to `timeoutMs` (or the caller's deadline, whichever is earlier). */
export class TimeoutPolicy implements ResiliencePolicy {
  readonly name: string;
  readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly what: string;
  private readonly onTimedOut: ((ms: number) => void) | undefined;

  constructor(options: TimeoutOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('timeout', 'expects an options object { timeoutMs }');
    const { timeoutMs } = options;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new InvalidOptionError('timeout.timeoutMs', `should be a positive finite number of milliseconds, got ${describeOption(timeoutMs)}`);
    }
    this.name = policyName('timeout', options.name);
    this.timeoutMs = timeoutMs;
    this.clock = policyClock('timeout', options.clock);
    this.what = `call through "${this.name}"`;
    const instrumentation: ResilienceInstrumentation | undefined = options.instrumentation;
    this.onTimedOut =
      instrumentation === undefined
        ? undefined
        : (ms) => {
            try {
              instrumentation.timedOut(this.name, ms);
            } catch {
              // A failing instrumentation never changes the outcome of a call.
            }
          };
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T> {
    return runAttempt(fn, options?.signal, options?.deadline, this.clock, this.timeoutMs, this.what, this.onTimedOut);
  }
}

/** Limits each call to `timeoutMs`: see {@link TimeoutOptions}. */
export function timeout(options: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(options);
}

const once = { once: true } as const;

/**
 * Runs one attempt: `fn` gets a fresh AbortSignal that aborts on the caller's abort (with the
 * caller's reason), after `timeoutMs`, or at `deadline` (with a `TimeoutError`); the returned
 * promise settles as soon as the signal aborts, even if `fn` ignores it. An attempt whose deadline
 * has already passed is not started. Nothing is left behind once it settles: the timer is
 * cleared and the listener on the caller's signal removed.
 *
 * Same contract as `AttemptSignal` + `raceAbort`, without listening on the attempt's own signal:
 * on Node 20 a listener on a fresh signal costs as much as the rest of the call.
 */
export function runAttempt<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  caller: AbortSignal | undefined,
  deadline: number | undefined,
  clock: Clock,
  timeoutMs: number | undefined,
  what: string,
  onTimedOut?: (ms: number) => void,
): Promise<T> {
  if (caller === undefined && deadline === undefined && timeoutMs === undefined) {
    // Nothing can abort this attempt, but its signal must still be its own: user code may add
    // listeners to it.
    try {
      return fn(new AbortController().signal);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }
  if (caller?.aborted === true) return Promise.reject(caller.reason as Error);
  let limit = timeoutMs;
  let byDeadline = false;
  if (deadline !== undefined) {
    const remaining = deadline - clock.now();
    if (limit === undefined || remaining < limit) {
      limit = remaining;
      byDeadline = true;
    }
  }
  if (limit !== undefined && limit <= 0) {
    return Promise.reject(withoutStack(() => new TimeoutError(0, `${what} (its deadline had already passed)`)));
  }
  return new Promise<T>((resolve, reject) => {
    const controller = new AbortController();
    let timer: TimerHandle | undefined;
    let settled = false;
    const onCallerAbort = (): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      const reason: unknown = caller?.reason;
      controller.abort(reason);
      reject(reason as Error);
    };
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (caller !== undefined) caller.removeEventListener('abort', onCallerAbort);
      return true;
    };
    if (caller !== undefined) caller.addEventListener('abort', onCallerAbort, once);
    if (limit !== undefined) {
      const ms = limit;
      timer = clock.setTimeout(() => {
        timer = undefined;
        if (!settle()) return;
        const error = withoutStack(() => new TimeoutError(Math.round(ms), byDeadline ? `${what} (at the caller's deadline)` : what));
        controller.abort(error);
        onTimedOut?.(Math.round(ms));
        reject(error);
      }, ms);
    }
    let work: Promise<T>;
    try {
      // Promise.resolve: a plain-JS caller returning a non-promise must not leave the timer set.
      work = Promise.resolve(fn(controller.signal));
    } catch (error) {
      work = Promise.reject(error as Error);
    }
    work.then(
      (value) => {
        if (settle()) resolve(value);
      },
      (error: unknown) => {
        if (settle()) reject(error as Error);
      },
    );
  });
}
