import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import type { CoarseTime } from '../clock/coarse-time.js';
import { systemCoarseTime } from '../clock/coarse-time.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { CircuitOpenError, TimeoutError, withoutStack } from '../errors/resilience-errors.js';
import type { PolicyExecuteOptions } from '../policy/policy.js';
import { AdaptiveThrottle } from './adaptive-throttle.js';
import { AttemptSignal, raceAbort } from './attempt-signal.js';
import { SignalPool } from './signal-pool.js';
import { SlidingWindow } from './sliding-window.js';
import type { NestedExecutable, NestedNext } from './compose.js';
import { executeNested } from './compose.js';
import { CircuitState } from './types.js';
import type { PolicyBaseOptions, ResilienceInstrumentation, ResiliencePolicy } from './types.js';

/**
 * Adaptive mode: instead of opening and closing, the breaker rejects a growing share of the
 * calls locally while the dependency fails, with the client-side throttling of the Google SRE
 * book (see {@link AdaptiveThrottle}). Each call is rejected (with a `CircuitOpenError`) with
 * probability `max(0, (requests - k * accepts) / (requests + 1))` over the last `windowMs`,
 * where `requests` counts every call attempted (locally rejected ones included) and `accepts`
 * the calls that did not fail (`isFailure`). A call the caller aborted is not counted.
 *
 * In this mode the breaker never probes and holds no timer; `failureRateThreshold`,
 * `slowCallDurationMs`, `slowCallRateThreshold`, `minimumCalls`, `consecutiveFailures`,
 * `openDurationMs`, `halfOpenProbes`, `probeTimeoutMs` and the breaker's `windowMs` do not
 * apply (they are still validated). `bucketCount` does: it divides this `windowMs`.
 *
 * Its `state` is `'open'` while the rejection probability is above 0 (some calls are being
 * shed or would be) and `'closed'` when it is 0; it is never `'half_open'`. `stateChanged`
 * reports each change between the two, as seen by a call.
 */
export interface AdaptiveModeOptions {
  readonly kind: 'adaptive';
  /**
   * The SRE book's `K`: accepted requests make room for `k` times as many attempted ones. `2`
   * (the book's recommendation) sheds nothing until more than half of the calls fail; closer
   * to `1` sheds earlier and harder, larger is more lenient. At least 1. Defaults to `2`.
   */
  readonly k?: number;
  /**
   * Length of the counting window in milliseconds. Defaults to `120_000` (2 minutes, as in the
   * book): long enough to remember how the dependency did under load, short enough to forget an
   * outage within minutes.
   */
  readonly windowMs?: number;
  /** Uniform random numbers in [0, 1) deciding each rejection (inject one in tests). Defaults to `Math.random`. */
  readonly random?: () => number;
}

/** `'standard'`: closed / open / half-open. `{ kind: 'adaptive' }`: see {@link AdaptiveModeOptions}. */
export type CircuitBreakerMode = 'standard' | AdaptiveModeOptions;

/**
 * Options of {@link circuitBreaker}. Every one has a default: `circuitBreaker()` alone opens
 * within about 2.5 s of a dependency starting to fail every call at 4 calls/s, whatever
 * happened before (see `windowMs`).
 *
 * Put a `timeout` policy inside the breaker (`compose(breaker, timeout)`): the breaker then
 * counts the timeouts as failures. A timeout outside it aborts the breaker's caller signal, and
 * a call whose caller aborted is never counted.
 */
export interface CircuitBreakerOptions extends PolicyBaseOptions {
  /**
   * Length of the sliding window, in milliseconds, over which failure and slow-call rates are
   * computed. Defaults to `5_000`.
   *
   * Why 5 s: when a dependency starts failing every call, the failure rate in the window reaches
   * `failureRateThreshold` once the failures make up that share of the window, i.e. after about
   * `failureRateThreshold * windowMs` (the healthy calls before the outage keep the rate down
   * until they slide out). With 5 s and 50% that is 2.25 to 2.5 s, however long the healthy
   * period before was; a 10 s window would take 4.5 to 5 s and a 60 s one (resilience4j's
   * 100-call default at 2 calls/s) 30 s. Shorter windows react faster but need more traffic to
   * reach `minimumCalls`: the rate rule applies from `minimumCalls / windowMs` calls per second
   * (2/s with the defaults); below that use `consecutiveFailures`.
   */
  readonly windowMs?: number;
  /**
   * Buckets the window is divided into. Counts leave the window one bucket at a time, so more
   * buckets slide more smoothly (the window covers between `windowMs * (1 - 1/bucketCount)` and
   * `windowMs`); each costs 12 bytes. A positive integer, at most `windowMs`. Defaults to `10`
   * (500 ms buckets with the default window).
   */
  readonly bucketCount?: number;
  /**
   * The breaker opens when, over the window, at least `minimumCalls` calls were made and
   * `failures / calls >= failureRateThreshold`. A fraction in (0, 1]: `0.5` means 50%. The
   * comparison is `>=` (as in resilience4j): exactly 6 failures in 10 calls opens a breaker
   * with `0.6`. Defaults to `0.5`.
   */
  readonly failureRateThreshold?: number;
  /**
   * A call that takes at least this long, in milliseconds, is slow (whether it succeeds or
   * fails); see `slowCallRateThreshold`. Positive; `Infinity` turns slow-call counting off.
   * Defaults to `Infinity` (off), because
   * - timing a call costs a second clock read per call (60 to 100 ns on the cloud VMs the
   *   benchmarks run on, about as much as the rest of the breaker's work in the closed state);
   * - a dependency that hangs is caught sooner by a `timeout` inside the breaker, whose
   *   `TimeoutError`s count as failures: a slow call is only counted when it ends.
   * Turn it on (e.g. `10_000`) to open on a dependency that answers, but too late.
   */
  readonly slowCallDurationMs?: number;
  /**
   * With `slowCallDurationMs` set, the breaker opens when, over the window, at least
   * `minimumCalls` calls were made and `slowCalls / calls >= slowCallRateThreshold`. A fraction
   * in (0, 1]. Defaults to `1` (as resilience4j): every call in the window was slow.
   */
  readonly slowCallRateThreshold?: number;
  /**
   * Calls the window must hold before the rates are considered, so that 1 failure out of 1 call
   * does not open the breaker. A positive integer. Defaults to `10` (2 calls/s over the default
   * window; Hystrix asks 20 per 10 s, the same rate).
   */
  readonly minimumCalls?: number;
  /**
   * Also open after this many consecutive failures, whatever the window says (a success
   * resets the count). Useful for low-traffic dependencies that never reach `minimumCalls`. A
   * positive integer. Defaults to none: at high traffic, a run of failures is a poor signal
   * (with 40% of calls failing, 10 in a row happen about every 20 s at 1000 calls/s, while
   * the failure rate stays below the threshold).
   */
  readonly consecutiveFailures?: number;
  /**
   * How long the breaker stays open, rejecting every call at once, before it lets probes
   * through (half-open), in milliseconds. No timer is involved: the first call after this
   * time moves the breaker to half-open, so an idle breaker holds nothing. Defaults to `5_000`.
   */
  readonly openDurationMs?: number;
  /**
   * Half-open: at most this many probe calls run at the same time; other calls are rejected at
   * once (never queued). The breaker closes after this many probes have succeeded and opens
   * again at the first probe that fails. A positive integer. Defaults to `1`: one successful
   * call is enough to try the dependency again, and a closed breaker with a fresh window
   * reopens within `minimumCalls` calls if it was wrong.
   */
  readonly halfOpenProbes?: number;
  /**
   * A probe that has not settled after this many milliseconds is aborted (its signal aborts
   * with a `TimeoutError`, its caller gets the `TimeoutError` at once even if the work ignores
   * the signal) and counts as a failure: a hung probe would otherwise hold the breaker
   * half-open forever. This timer is the only one the breaker ever holds; it is cleared when the
   * probe settles. A caller's earlier deadline also ends the probe, without counting it.
   * Positive and finite. Defaults to `10_000`: far beyond any healthy request/response call.
   */
  readonly probeTimeoutMs?: number;
  /**
   * Which errors count as failures of the dependency. An error it returns `false` for counts as
   * a success (the dependency answered, e.g. with a 404). Defaults to every error. Whatever this
   * says, a call whose caller's signal aborted is not counted at all: giving up says nothing
   * about the dependency.
   */
  readonly isFailure?: (error: unknown) => boolean;
  /** `'standard'` or `{ kind: 'adaptive' }` (see {@link AdaptiveModeOptions}). Defaults to `'standard'`. */
  readonly mode?: CircuitBreakerMode;
}

/** The defaults of {@link CircuitBreakerOptions}, documented there. */
export const circuitBreakerDefaults = {
  windowMs: 5_000,
  bucketCount: 10,
  failureRateThreshold: 0.5,
  slowCallDurationMs: Infinity,
  slowCallRateThreshold: 1,
  minimumCalls: 10,
  openDurationMs: 5_000,
  halfOpenProbes: 1,
  probeTimeoutMs: 10_000,
  adaptiveK: 2,
  adaptiveWindowMs: 120_000,
} as const;

type BreakerState =
  | { readonly kind: 'closed' }
  | { readonly kind: 'open'; readonly until: number }
  | { readonly kind: 'half_open'; probesInFlight: number; successes: number }
  /** Held open by `isolate()` until `reset()`. */
  | { readonly kind: 'isolated' }
  /** Adaptive mode: every call goes through the throttle. */
  | { readonly kind: 'adaptive' };

type HalfOpenState = Extract<BreakerState, { kind: 'half_open' }>;

const CLOSED: BreakerState = { kind: 'closed' };
const ISOLATED: BreakerState = { kind: 'isolated' };
const ADAPTIVE: BreakerState = { kind: 'adaptive' };

const enum ProbeOutcome {
  Success,
  Failure,
  /** The caller gave up (abort or its own deadline): the probe proves nothing. */
  NotCounted,
}

const everyError = (): boolean => true;

/**
 * A circuit breaker: it watches the failures (and slow calls) of what it wraps and, when they
 * pass a threshold, rejects calls at once with a `CircuitOpenError` for a while, instead of
 * piling more load on a dependency that is down. Create it with {@link circuitBreaker}.
 *
 * - closed: calls run; a time-based sliding window counts calls, failures and slow calls, and
 *   the breaker opens when a rate reaches its threshold (or after `consecutiveFailures`).
 * - open: every call is rejected at once (no stack trace is captured) until `openDurationMs`
 *   has passed; the next call then moves it to half-open.
 * - half-open: up to `halfOpenProbes` probe calls run (others are rejected); `halfOpenProbes`
 *   successes close it with a fresh window, one failure opens it again.
 *
 * Each call is tagged with the breaker's generation (incremented at every state change, and by
 * `reset()`) when it starts; a call that ends after a change is ignored. A call still running
 * from before the breaker opened cannot close it by succeeding, nor can a slow old call
 * reopen it from half-open by failing, nor does it count in the next window.
 *
 * Each call's `fn` gets its own signal: the caller's when it passed one (closed state), else
 * a signal no other running call has (see {@link CircuitBreaker.execute}).
 */
/** How the breaker calls the work: with the call's signal (`execute`), or ignoring it (the composition fast path). */
type Invoke<T> = (signal: AbortSignal | undefined) => Promise<T>;

export class CircuitBreaker implements ResiliencePolicy, NestedExecutable {
  readonly name: string;
  /** Reusable signals for calls without a caller signal. */
  private readonly signalPool = new SignalPool();
  private readonly clock: Clock;
  /** `clock.now`, called directly for the system clock. */
  private readonly now: () => number;
  /**
   * When a successful call ended, for the window: the shared coarse reading of the system clock
   * (at most 10 ms old while the event loop turns; see CoarseTime), saving a clock read per
   * call. `undefined` (read `now`) with an injected clock, or when calls are timed.
   */
  private readonly successTime: CoarseTime | undefined;
  private readonly instrumentation: ResilienceInstrumentation | undefined;
  private readonly failureRateThreshold: number;
  private readonly slowCallDurationMs: number;
  private readonly slowCallRateThreshold: number;
  private readonly minimumCalls: number;
  private readonly consecutiveFailures: number;
  private readonly openDurationMs: number;
  private readonly halfOpenProbes: number;
  private readonly probeTimeoutMs: number;
  private readonly isFailure: (error: unknown) => boolean;
  /** Whether a call's duration is measured (slow-call counting is on). */
  private readonly timed: boolean;
  private readonly window: SlidingWindow;
  private readonly throttle: AdaptiveThrottle | undefined;
  private readonly probeWhat: string;

  private current: BreakerState;
  /** Incremented at every state change: results of calls started in another generation are ignored. */
  private generation = 0;
  private consecutive = 0;
  /** Adaptive mode: whether the reported state is `'open'` (rejection probability above 0). */
  private shedding = false;

  constructor(options: CircuitBreakerOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('circuitBreaker', `expects an options object or nothing, got ${describe(options)}`);
    }
    this.name = validateName(options.name);
    const clock = validateClock(options.clock);
    this.clock = clock;
    // systemClock.now is a plain arrow: use it directly and skip one call per read.
    this.now = clock === systemClock ? systemClock.now : () => clock.now();
    this.instrumentation = validateInstrumentation(options.instrumentation);
    const d = circuitBreakerDefaults;
    const windowMs = positiveFinite('windowMs', options.windowMs, d.windowMs);
    const bucketCount = positiveInteger('bucketCount', options.bucketCount, d.bucketCount);
    this.failureRateThreshold = fraction('failureRateThreshold', options.failureRateThreshold, d.failureRateThreshold);
    this.slowCallDurationMs = positiveDuration('slowCallDurationMs', options.slowCallDurationMs, d.slowCallDurationMs);
    this.slowCallRateThreshold = fraction('slowCallRateThreshold', options.slowCallRateThreshold, d.slowCallRateThreshold);
    this.minimumCalls = positiveInteger('minimumCalls', options.minimumCalls, d.minimumCalls);
    this.consecutiveFailures =
      options.consecutiveFailures === undefined ? Infinity : positiveInteger('consecutiveFailures', options.consecutiveFailures, 1);
    this.openDurationMs = positiveFinite('openDurationMs', options.openDurationMs, d.openDurationMs);
    this.halfOpenProbes = positiveInteger('halfOpenProbes', options.halfOpenProbes, d.halfOpenProbes);
    this.probeTimeoutMs = positiveFinite('probeTimeoutMs', options.probeTimeoutMs, d.probeTimeoutMs);
    if (options.isFailure !== undefined && typeof options.isFailure !== 'function') {
      throw new InvalidOptionError('circuitBreaker.isFailure', `should be a function (error) => boolean, got ${describe(options.isFailure)}`);
    }
    this.isFailure = options.isFailure ?? everyError;
    const mode = options.mode ?? 'standard';
    const now = this.now();
    if (mode === 'standard') {
      this.throttle = undefined;
      this.current = CLOSED;
    } else if (typeof mode === 'object' && mode !== null && (mode as { kind?: unknown }).kind === 'adaptive') {
      const k = mode.k ?? d.adaptiveK;
      if (typeof k !== 'number' || !(k >= 1) || !Number.isFinite(k)) {
        throw new InvalidOptionError('circuitBreaker.mode.k', `should be a finite number >= 1, got ${describe(k)}`);
      }
      const adaptiveWindowMs = positiveFinite('mode.windowMs', mode.windowMs, d.adaptiveWindowMs);
      if (bucketCount > adaptiveWindowMs) {
        throw new InvalidOptionError('circuitBreaker.bucketCount', `should be at most mode.windowMs (${adaptiveWindowMs}): buckets of at least 1 ms, got ${bucketCount}`);
      }
      const random = mode.random ?? Math.random;
      if (typeof random !== 'function') {
        throw new InvalidOptionError('circuitBreaker.mode.random', `should be a function returning a number in [0, 1), got ${describe(random)}`);
      }
      this.throttle = new AdaptiveThrottle(k, adaptiveWindowMs, bucketCount, random, now);
      this.current = ADAPTIVE;
    } else {
      throw new InvalidOptionError('circuitBreaker.mode', `should be 'standard' or { kind: 'adaptive' }, got ${describe(mode)}`);
    }
    if (bucketCount > windowMs) {
      throw new InvalidOptionError('circuitBreaker.bucketCount', `should be at most windowMs (${windowMs}): buckets of at least 1 ms, got ${bucketCount}`);
    }
    this.window = new SlidingWindow(windowMs, bucketCount, now);
    this.timed = this.throttle === undefined && this.slowCallDurationMs !== Infinity;
    this.successTime = clock === systemClock && !this.timed ? systemCoarseTime() : undefined;
    this.probeWhat = `circuit breaker "${this.name}" probe`;
  }

  /**
   * The state, as the gauge `hitch_circuit_breaker_state` shows it. A breaker whose open
   * duration has passed still says `'open'` until a call moves it to half-open. Held open by
   * `isolate()`: `'open'`. Adaptive mode: `'open'` while calls are being shed.
   */
  get state(): CircuitState {
    switch (this.current.kind) {
      case 'closed':
        return CircuitState.Closed;
      case 'half_open':
        return CircuitState.HalfOpen;
      case 'adaptive':
        return this.shedding ? CircuitState.Open : CircuitState.Closed;
      default:
        return CircuitState.Open;
    }
  }

  /** Adaptive mode: the probability that the next call is rejected. Standard mode: `0`. */
  get rejectProbability(): number {
    return this.throttle === undefined ? 0 : this.throttle.rejectProbability(this.now());
  }

  /**
   * Runs `fn`, or rejects at once with a `CircuitOpenError` if the breaker is open (or
   * half-open with all its probes running, or shedding this call in adaptive mode).
   *
   * `fn`'s signal: in the closed state (and adaptive mode), the caller's signal when it passed
   * one; otherwise a signal of the breaker's that aborts never, and that no other running call
   * has. Those are pooled: after a call settles, its signal is reused only if nothing is left
   * on it (no `abort` listener, no signal derived by `AbortSignal.any`), because creating an
   * AbortSignal costs several microseconds on Node 20, more than the rest of the call. A probe's
   * signal is always a new one: it aborts at `probeTimeoutMs`, at the caller's deadline and
   * with the caller's signal.
   *
   * `options.deadline`: a call whose deadline has already passed is not started (it rejects
   * with a `TimeoutError` and is not counted). The breaker enforces the deadline while the call
   * runs only for probes; elsewhere a `timeout` policy does.
   *
   * In the closed state (and adaptive mode) the promise returned is `fn`'s own, which the
   * breaker watches rather than wraps (an `await` through the breaker then costs what it costs
   * without it). Since the breaker handles it, a rejection you drop is not reported as an
   * unhandled rejection: always await or catch what `execute` returns.
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T> {
    if (this.current === CLOSED) return this.run(fn as Invoke<T>, options?.signal, options?.deadline, true);
    return this.admit(fn as Invoke<T>, fn, options?.signal, options?.deadline, true);
  }

  /**
   * The composition fast path (see `executeNested` in compose.ts). Outside half-open probes the
   * breaker never aborts a call, so the next policy inward gets the caller's options as they
   * are and derives its own per-attempt signal; a probe hands it the probe's signal instead.
   */
  [executeNested]<T>(next: NestedNext<T>, options: PolicyExecuteOptions | undefined): Promise<T> {
    const direct: Invoke<T> = () => next(options);
    const deadline = options?.deadline;
    const probe = (signal: AbortSignal): Promise<T> => next(deadline === undefined ? { signal } : { signal, deadline });
    if (this.current === CLOSED) return this.run(direct, options?.signal, deadline, false);
    return this.admit(direct, probe, options?.signal, deadline, false);
  }

  /**
   * Holds the breaker open: every call is rejected, no probe is made, until `reset()`. For
   * operators taking a dependency out by hand.
   */
  isolate(): void {
    if (this.current.kind === 'isolated') return;
    this.moveTo(ISOLATED, CircuitState.Open);
  }

  /**
   * Closes the breaker (or stops shedding, in adaptive mode) with a fresh window, whatever its
   * state, and ends `isolate()`. Calls already running are not counted.
   */
  reset(): void {
    const now = this.now();
    this.window.reset(now);
    this.consecutive = 0;
    if (this.throttle === undefined) {
      this.moveTo(CLOSED, CircuitState.Closed);
    } else {
      this.throttle.reset(now);
      this.moveTo(ADAPTIVE, CircuitState.Closed);
      this.shedding = false;
    }
  }

  /** Every state but closed. */
  private admit<T>(
    fn: Invoke<T>,
    probeFn: (signal: AbortSignal) => Promise<T>,
    caller: AbortSignal | undefined,
    deadline: number | undefined,
    ownSignal: boolean,
  ): Promise<T> {
    const state = this.current;
    switch (state.kind) {
      case 'open': {
        const now = this.now();
        if (now < state.until) return this.reject(CircuitState.Open, state.until - now);
        const halfOpen: HalfOpenState = { kind: 'half_open', probesInFlight: 0, successes: 0 };
        this.moveTo(halfOpen, CircuitState.HalfOpen);
        return this.probe(halfOpen, probeFn, caller, deadline, now);
      }
      case 'half_open':
        if (state.probesInFlight >= this.halfOpenProbes) return this.reject(CircuitState.HalfOpen, undefined);
        return this.probe(state, probeFn, caller, deadline, this.now());
      case 'adaptive': {
        const throttle = this.throttle as AdaptiveThrottle;
        const now = this.now();
        if (throttle.shouldReject(now)) {
          this.updateShedding(throttle.rejectProbability(now) > 0);
          return this.reject(CircuitState.Open, undefined);
        }
        return this.run(fn, caller, deadline, ownSignal);
      }
      case 'isolated':
        return this.reject(CircuitState.Open, undefined);
      default:
        return this.run(fn, caller, deadline, ownSignal);
    }
  }

  /**
   * A call in the closed state (or admitted by the adaptive throttle). It returns `fn`'s own
   * promise and watches it with one `then`, instead of chaining a new promise: the caller's
   * `await` costs what it would without the breaker. The breaker's reaction is registered
   * first, so it has counted the call before the caller resumes.
   */
  private run<T>(fn: Invoke<T>, caller: AbortSignal | undefined, deadline: number | undefined, ownSignal: boolean): Promise<T> {
    let start = 0;
    if (this.timed || deadline !== undefined) {
      start = this.now();
      if (deadline !== undefined && deadline <= start) return Promise.reject(deadlinePassed(this.name));
    }
    if (caller !== undefined && caller.aborted) return Promise.reject(caller.reason as Error);
    const generation = this.generation;
    // A call gets a signal of its own when the caller passed none, unless the next policy
    // inward makes one (the composition fast path).
    const pooled = caller === undefined && ownSignal;
    const signal = pooled ? this.signalPool.take() : caller;
    let work: Promise<T>;
    try {
      work = fn(signal);
      if (!(work instanceof Promise)) work = Promise.resolve(work);
    } catch (error) {
      work = Promise.reject(error as Error);
    }
    work.then(
      () => {
        if (pooled) this.signalPool.release(signal as AbortSignal);
        this.record(generation, start, false);
      },
      (error: unknown) => {
        if (pooled) this.signalPool.release(signal as AbortSignal);
        else if (caller !== undefined && caller.aborted) return;
        this.record(generation, start, this.failed(error));
      },
    );
    return work;
  }

  /** `isFailure(error)`; a predicate that throws counts the call as failed. */
  private failed(error: unknown): boolean {
    try {
      return this.isFailure(error);
    } catch {
      return true;
    }
  }

  /** Counts a call that ended (closed state or adaptive mode), unless the breaker moved on since it started. */
  private record(generation: number, start: number, failed: boolean): void {
    if (generation !== this.generation) return;
    // A success only adds to the window's current bucket, so its time need not be exact (see
    // `successTime`); a failure may open the breaker and a timed call measures a duration: exact.
    const successTime = this.successTime;
    const now = failed || successTime === undefined ? this.now() : successTime.now();
    const throttle = this.throttle;
    if (throttle !== undefined) {
      throttle.record(now, !failed);
      this.updateShedding(throttle.rejectProbability(now) > 0);
      return;
    }
    const window = this.window;
    window.record(now, failed, now - start >= this.slowCallDurationMs);
    if (failed) {
      if (++this.consecutive >= this.consecutiveFailures) {
        this.open(now);
        return;
      }
    } else {
      this.consecutive = 0;
    }
    const calls = window.calls;
    if (calls >= this.minimumCalls && (window.failures / calls >= this.failureRateThreshold || window.slowCalls / calls >= this.slowCallRateThreshold)) {
      this.open(now);
    }
  }

  /** Runs one half-open probe; the caller checked that a probe slot is free. */
  private probe<T>(
    state: HalfOpenState,
    fn: (signal: AbortSignal) => Promise<T>,
    caller: AbortSignal | undefined,
    deadline: number | undefined,
    now: number,
  ): Promise<T> {
    if (deadline !== undefined && deadline <= now) return Promise.reject(deadlinePassed(this.name));
    if (caller !== undefined && caller.aborted) return Promise.reject(caller.reason as Error);
    state.probesInFlight++;
    return this.runProbe(fn, caller, deadline, now, this.generation);
  }

  private async runProbe<T>(
    fn: (signal: AbortSignal) => Promise<T>,
    caller: AbortSignal | undefined,
    deadline: number | undefined,
    start: number,
    generation: number,
  ): Promise<T> {
    const byDeadline = deadline !== undefined && deadline - start < this.probeTimeoutMs;
    const attempt = new AttemptSignal(this.clock, caller, this.probeTimeoutMs, deadline, this.probeWhat);
    let value: T;
    try {
      let work: Promise<T>;
      try {
        work = Promise.resolve(fn(attempt.signal));
      } catch (error) {
        work = Promise.reject(error as Error);
      }
      value = await raceAbort(work, attempt.signal);
    } catch (error) {
      attempt.dispose();
      let outcome: ProbeOutcome;
      if (attempt.timedOutAfterMs !== undefined) {
        outcome = byDeadline ? ProbeOutcome.NotCounted : ProbeOutcome.Failure;
        if (!byDeadline) this.report((i) => i.timedOut(this.name, this.probeTimeoutMs));
      } else if (caller !== undefined && caller.aborted) {
        outcome = ProbeOutcome.NotCounted;
      } else {
        outcome = this.failed(error) ? ProbeOutcome.Failure : ProbeOutcome.Success;
      }
      this.settleProbe(generation, outcome);
      throw error;
    }
    attempt.dispose();
    this.settleProbe(generation, ProbeOutcome.Success);
    return value;
  }

  private settleProbe(generation: number, outcome: ProbeOutcome): void {
    const state = this.current;
    if (generation !== this.generation || state.kind !== 'half_open') return;
    state.probesInFlight--;
    if (outcome === ProbeOutcome.Failure) {
      this.open(this.now());
    } else if (outcome === ProbeOutcome.Success && ++state.successes >= this.halfOpenProbes) {
      this.window.reset(this.now());
      this.consecutive = 0;
      this.moveTo(CLOSED, CircuitState.Closed);
    }
  }

  private open(now: number): void {
    this.moveTo({ kind: 'open', until: now + this.openDurationMs }, CircuitState.Open);
  }

  /** Enters `next` in a new generation, reporting the change of the visible state if any. */
  private moveTo(next: BreakerState, to: CircuitState): void {
    const from = this.state;
    this.current = next;
    this.generation++;
    if (from !== to) this.report((i) => i.stateChanged(this.name, from, to));
  }

  private updateShedding(shedding: boolean): void {
    if (shedding === this.shedding) return;
    this.shedding = shedding;
    const from = shedding ? CircuitState.Closed : CircuitState.Open;
    const to = shedding ? CircuitState.Open : CircuitState.Closed;
    this.report((i) => i.stateChanged(this.name, from, to));
  }

  private reject<T>(state: CircuitState, retryAfterMs: number | undefined): Promise<T> {
    const error = withoutStack(() => new CircuitOpenError(this.name, retryAfterMs));
    if (this.instrumentation !== undefined) this.report((i) => i.breakerRejected(this.name, state));
    return Promise.reject(error);
  }

  private report(event: (instrumentation: ResilienceInstrumentation) => void): void {
    const instrumentation = this.instrumentation;
    if (instrumentation === undefined) return;
    try {
      event(instrumentation);
    } catch {
      // A failing instrumentation never changes the outcome of a call or the breaker's state.
    }
  }
}

/**
 * A circuit breaker policy: see {@link CircuitBreakerOptions} for the rules and defaults.
 *
 * ```ts
 * const breaker = circuitBreaker({ name: 'payments' });
 * const receipt = await breaker.execute((signal) => pay(order, { signal }), { signal });
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(options);
}

function deadlinePassed(name: string): TimeoutError {
  return withoutStack(() => new TimeoutError(0, `call through circuit breaker "${name}" (its deadline had already passed)`));
}

// Option validation (each option once, in the constructor).

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

function validateName(name: unknown): string {
  if (name === undefined) return 'breaker';
  if (typeof name !== 'string' || name === '') throw new InvalidOptionError('circuitBreaker.name', `should be a non-empty string, got ${describe(name)}`);
  return name;
}

function validateClock(clock: unknown): Clock {
  if (clock === undefined) return systemClock;
  const c = clock as Partial<Clock> | null;
  if (typeof c !== 'object' || c === null || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function') {
    throw new InvalidOptionError('circuitBreaker.clock', `should be a Clock { now, setTimeout, clearTimeout }, got ${describe(clock)}`);
  }
  return clock as Clock;
}

function validateInstrumentation(instrumentation: unknown): ResilienceInstrumentation | undefined {
  if (instrumentation === undefined) return undefined;
  const i = instrumentation as Partial<ResilienceInstrumentation> | null;
  if (typeof i !== 'object' || i === null || typeof i.stateChanged !== 'function' || typeof i.breakerRejected !== 'function' || typeof i.timedOut !== 'function') {
    throw new InvalidOptionError(
      'circuitBreaker.instrumentation',
      `should be a ResilienceInstrumentation { stateChanged, breakerRejected, timedOut, ... }, got ${describe(instrumentation)}`,
    );
  }
  return instrumentation as ResilienceInstrumentation;
}

function positiveFinite(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidOptionError(`circuitBreaker.${option}`, `should be a positive finite number of milliseconds, got ${describe(value)}`);
  }
  return value;
}

function positiveDuration(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new InvalidOptionError(`circuitBreaker.${option}`, `should be a positive number of milliseconds (Infinity: never), got ${describe(value)}`);
  }
  return value;
}

function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(`circuitBreaker.${option}`, `should be a positive integer, got ${describe(value)}`);
  }
  return value;
}

function fraction(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !(value <= 1)) {
    throw new InvalidOptionError(`circuitBreaker.${option}`, `should be a fraction in (0, 1] (0.5 means 50%), got ${describe(value)}`);
  }
  return value;
}
