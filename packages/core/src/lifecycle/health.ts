import type { Clock, TimerHandle } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { TimeoutError } from '../errors/resilience-errors.js';
import { describe, errorMessage, nonEmptyName, optionsObject, positiveMs, roundMs } from './validate.js';

/** `pass`: healthy. `warn`: healthy, but a non-critical check failed. `fail`: not healthy. */
export type HealthStatus = 'pass' | 'warn' | 'fail';

/** What a check may return to be shown in the report, e.g. `{ connections: 4 }`. Should be JSON-serializable. */
export interface HealthDetails {
  readonly [key: string]: unknown;
}

/**
 * A health check: returns (or resolves) when healthy, optionally with details; throws (or rejects)
 * when not. Its `signal` aborts when the check times out, so it can cancel a ping that hangs.
 */
export type HealthCheck = (signal: AbortSignal) => Promise<void | HealthDetails> | void | HealthDetails;

/** Which probe a check belongs to. */
export type HealthCheckKind = 'readiness' | 'liveness' | 'both';

export interface HealthCheckOptions {
  /**
   * Whether a failure makes the probe fail. A failing non-critical check only makes it `warn` (still
   * healthy): use it for dependencies the service can limp along without (a cache). Defaults to `true`.
   */
  readonly critical?: boolean;
  /** A check that has not settled after this long fails with `timed out after N ms`. Defaults to `1000`. */
  readonly timeoutMs?: number;
  /**
   * `'readiness'`: may this instance receive traffic now (dependencies reachable, warmed up)? Failing it
   * takes the instance out of the load balancer. `'liveness'`: is the process stuck beyond repair (a
   * deadlocked event loop)? Failing it gets the process restarted, so never put a dependency here: a
   * database outage would restart every instance. `'both'`: both. Defaults to `'readiness'`.
   */
  readonly kind?: HealthCheckKind;
}

/** The outcome of one check. */
export interface HealthCheckResult {
  /** `pass`; `fail` for a failed critical check; `warn` for a failed non-critical one. */
  readonly status: HealthStatus;
  /** How long the check took (up to its timeout), in milliseconds. */
  readonly durationMs: number;
  /** Why it failed: the error's message, or `... timed out after N ms`. */
  readonly error?: string;
  /** What the check returned, when it returned an object. */
  readonly details?: HealthDetails;
}

/** A probe's answer, ready for `JSON.stringify` (serve it with 200 unless `status` is `'fail'`, then 503). */
export interface HealthReport {
  /** `fail` if a critical check failed (or, for readiness, the instance is not ready); else `warn` if any check failed; else `pass`. */
  readonly status: HealthStatus;
  /**
   * Readiness only: why the instance is not ready regardless of its checks: `'draining'` (shutting
   * down), `'stopped'` (shut down) or `'not ready'` (`setReady(false)`). Checks are not run then.
   */
  readonly reason?: HealthUnreadyReason;
  /** Each check's result, by name, in registration order. */
  readonly checks: Readonly<Record<string, HealthCheckResult>>;
}

export type HealthUnreadyReason = 'draining' | 'stopped' | 'not ready';

/** Health checks of one process, answering the liveness and readiness probes. */
export interface HealthRegistry {
  /**
   * Adds a check under a unique `name`. Returns a function that removes it (idempotent).
   * Checks run on each probe, concurrently, each bounded by its `timeoutMs`; nothing runs between probes.
   */
  register(name: string, check: HealthCheck, options?: HealthCheckOptions): () => void;
  /**
   * Runs the checks registered for liveness (`kind` `'liveness'` or `'both'`). Readiness, draining and
   * `setReady` never affect it: a draining process is alive and must not be restarted mid-drain.
   */
  liveness(): Promise<HealthReport>;
  /**
   * Runs the checks registered for readiness (`kind` `'readiness'` or `'both'`). While the instance
   * is not ready (`setReady(false)`, draining or stopped) it fails at once with a `reason`, without
   * running checks: the answer cannot change, and a shutdown should not be loaded with pings to
   * dependencies its hooks are closing.
   */
  readiness(): Promise<HealthReport>;
  /**
   * The operator's switch: `setReady(false)` fails readiness (reason `'not ready'`) until
   * `setReady(true)`, e.g. during warm-up or to take an instance out of rotation. It cannot end
   * draining. Instances start ready.
   */
  setReady(ready: boolean): void;
}

interface Registration {
  readonly name: string;
  readonly check: HealthCheck;
  readonly critical: boolean;
  readonly timeoutMs: number;
  readonly kind: HealthCheckKind;
}

const KINDS: readonly HealthCheckKind[] = ['readiness', 'liveness', 'both'];

/** Default `timeoutMs` of a health check: probes themselves time out after 1 s by default in Kubernetes. */
export const DEFAULT_CHECK_TIMEOUT_MS = 1000;

/**
 * Creates a health registry. `unreadyReason` says why the lifecycle makes readiness fail (draining,
 * stopped), or `undefined` while it runs.
 */
export function createHealthRegistry(clock: Clock, unreadyReason: () => HealthUnreadyReason | undefined): HealthRegistry {
  const checks = new Map<string, Registration>();
  let ready = true;

  async function run(kind: 'readiness' | 'liveness'): Promise<HealthReport> {
    const selected = [...checks.values()].filter((registration) => registration.kind === kind || registration.kind === 'both');
    const results = await Promise.all(selected.map((registration) => runCheck(clock, registration)));
    const report: Record<string, HealthCheckResult> = {};
    let status: HealthStatus = 'pass';
    results.forEach((result, index) => {
      const registration = selected[index];
      if (registration === undefined) return;
      report[registration.name] = result;
      if (result.status === 'fail') status = 'fail';
      else if (result.status === 'warn' && status === 'pass') status = 'warn';
    });
    return { status, checks: report };
  }

  return {
    register(name, check, options) {
      nonEmptyName('health.register.name', name);
      if (typeof check !== 'function') throw new InvalidOptionError(`health.register("${name}").check`, `should be a function, got ${describe(check)}`);
      const opts = optionsObject(`health.register("${name}").options`, options);
      const critical = opts.critical ?? true;
      if (typeof critical !== 'boolean') throw new InvalidOptionError(`health.register("${name}").critical`, `should be a boolean, got ${describe(critical)}`);
      const timeoutMs = positiveMs(`health.register("${name}").timeoutMs`, opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS);
      const kind = opts.kind ?? 'readiness';
      if (!KINDS.includes(kind)) {
        throw new InvalidOptionError(`health.register("${name}").kind`, `should be 'readiness', 'liveness' or 'both', got ${describe(kind)}`);
      }
      if (checks.has(name)) {
        throw new InvalidOptionError('health.register.name', `a health check named "${name}" is already registered; unregister it first or pick another name`);
      }
      const registration: Registration = { name, check, critical, timeoutMs, kind };
      checks.set(name, registration);
      return () => {
        if (checks.get(name) === registration) checks.delete(name);
      };
    },
    liveness: () => run('liveness'),
    readiness() {
      const reason = unreadyReason() ?? (ready ? undefined : 'not ready');
      if (reason !== undefined) return Promise.resolve({ status: 'fail', reason, checks: {} });
      return run('readiness');
    },
    setReady(value) {
      if (typeof value !== 'boolean') throw new InvalidOptionError('health.setReady', `expects a boolean, got ${describe(value)}`);
      ready = value;
    },
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function asDetails(value: unknown): HealthDetails | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as HealthDetails) : undefined;
}

/** Runs one check, bounded by its timeout. Never rejects. A timer exists only while an asynchronous check is pending. */
function runCheck(clock: Clock, registration: Registration): Promise<HealthCheckResult> {
  const start = clock.now();
  const controller = new AbortController();
  return new Promise<HealthCheckResult>((resolve) => {
    let settled = false;
    let timer: TimerHandle | undefined;
    const finish = (error: string | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      const durationMs = roundMs(Math.max(0, clock.now() - start));
      if (error !== undefined) {
        resolve({ status: registration.critical ? 'fail' : 'warn', durationMs, error });
        return;
      }
      const details = asDetails(value);
      resolve(details === undefined ? { status: 'pass', durationMs } : { status: 'pass', durationMs, details });
    };

    let value: unknown;
    try {
      value = registration.check(controller.signal);
    } catch (error) {
      finish(errorMessage(error));
      return;
    }
    if (!isThenable(value)) {
      finish(undefined, value);
      return;
    }
    timer = clock.setTimeout(() => {
      timer = undefined;
      const error = new TimeoutError(registration.timeoutMs, `health check "${registration.name}"`);
      controller.abort(error);
      finish(error.message);
    }, registration.timeoutMs);
    value.then(
      (result) => finish(undefined, result),
      (error: unknown) => finish(errorMessage(error)),
    );
  });
}
