import type { Clock, TimerHandle } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { TimeoutError } from '../errors/resilience-errors.js';
import type { HealthRegistry } from './health.js';
import { createHealthRegistry } from './health.js';
import { stderrLogger } from './logger.js';
import type { LifecycleLogger } from './logger.js';
import { describe, errorMessage, nonEmptyName, nonNegativeMs, optionsObject, positiveMs, roundMs } from './validate.js';

/**
 * The priority convention of shutdown hooks. Lower runs first; hooks of equal priority run
 * concurrently; a group starts when the previous one has settled.
 *
 * - `StopAccepting` (10): close listening servers and consumers, so no new work arrives (in-flight
 *   requests finish; `server.close()` resolves once they have).
 * - `DrainTasks` (20): wait for in-flight background work (task runners, queues) to finish.
 * - `Default` (50): everything else, e.g. closing database pools, once nothing uses them.
 * - `FlushTelemetry` (100): flush metrics, traces and logs last, so they include the shutdown itself.
 */
export const ShutdownPriority = {
  StopAccepting: 10,
  DrainTasks: 20,
  Default: 50,
  FlushTelemetry: 100,
} as const;

/**
 * Defaults of {@link LifecycleOptions}, sized for Kubernetes: the kubelet sends SIGTERM, then SIGKILL
 * after `terminationGracePeriodSeconds` (30 s by default), counted from the SIGTERM.
 */
export const LIFECYCLE_DEFAULTS = {
  preStopDelayMs: 5000,
  hookTimeoutMs: 10_000,
  shutdownTimeoutMs: 25_000,
} as const;

export interface LifecycleOptions {
  /**
   * How long to keep serving after readiness turns false, before the first hook runs. Kubernetes
   * removes a terminating pod from its Service endpoints at the same time as it sends SIGTERM, but
   * kube-proxy, ingress controllers and cloud load balancers learn of it a few seconds later; until
   * then they keep sending requests, which would be refused if servers closed at once. `0` skips the
   * wait (local development, or when the pod has a `preStop: sleep` hook, which delays SIGTERM
   * itself). Must be less than `shutdownTimeoutMs`. Defaults to `5000`.
   */
  readonly preStopDelayMs?: number;
  /**
   * How long each shutdown hook may run before its `AbortSignal` fires and it counts as failed.
   * A hook can set its own `timeoutMs`. Defaults to `10000`.
   */
  readonly hookTimeoutMs?: number;
  /**
   * Bound on the whole shutdown, from the signal (or `shutdown()`) to the report, pre-stop delay
   * included. When it passes, running hooks are aborted and count as timed out, later ones are
   * skipped, and the process exits with code 1. Keep it below the platform's kill deadline so the
   * process exits by itself and logs why: the default leaves 5 s of Kubernetes' default 30 s grace
   * period. Defaults to `25000`.
   */
  readonly shutdownTimeoutMs?: number;
}

/**
 * What the lifecycle needs of `process`: signal listeners and `exit`. Tests pass a fake; it defaults
 * to the real `process`.
 */
export interface ProcessLike {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export interface LifecycleDeps {
  /** Time and timers. Defaults to `systemClock`. */
  readonly clock?: Clock;
  /** Where each step of the shutdown is logged (pino-compatible). Defaults to JSON lines on stderr. */
  readonly logger?: LifecycleLogger;
  /** Signals and exit. Defaults to the real `process`. */
  readonly process?: ProcessLike;
}

/** `running`: serving. `draining`: shutting down (readiness fails). `stopped`: the shutdown is over. */
export type LifecycleState = 'running' | 'draining' | 'stopped';

/** A shutdown hook. Its `signal` aborts (with a `TimeoutError`) when its time, or the shutdown's, is up. */
export type ShutdownHook = (signal: AbortSignal) => Promise<void> | void;

export interface ShutdownHookOptions {
  /**
   * When the hook runs: lower first, equal priorities concurrently. See {@link ShutdownPriority}:
   * 10 stop accepting, 20 drain tasks, 50 default, 100 flush telemetry. Defaults to `50`.
   */
  readonly priority?: number;
  /** How long the hook may run before it is aborted and counts as failed. Defaults to the lifecycle's `hookTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface HandleSignalsOptions {
  /** The signals that start the shutdown; a second one of any of them forces exit(1). Defaults to `['SIGTERM', 'SIGINT']`. */
  readonly signals?: readonly NodeJS.Signals[];
}

/** How one hook ended. `skipped`: the shutdown timed out before its group started. */
export type ShutdownHookStatus = 'ok' | 'failed' | 'timed-out' | 'skipped';

export interface ShutdownHookResult {
  readonly name: string;
  readonly priority: number;
  readonly status: ShutdownHookStatus;
  /** How long it ran, in milliseconds (`0` when skipped). */
  readonly durationMs: number;
  /** Why it failed or timed out. */
  readonly error?: string;
}

/** The outcome of a shutdown, JSON-ready. */
export interface ShutdownReport {
  /** What started it: the signal's name, or the reason given to `shutdown()`. */
  readonly reason: string;
  /** `true` when every hook succeeded in time: the exit code is 0 if so, else 1. */
  readonly ok: boolean;
  /** `true` when `shutdownTimeoutMs` passed before the hooks were done. */
  readonly timedOut: boolean;
  /** From the start of the shutdown to the report, in milliseconds. */
  readonly durationMs: number;
  /** Every hook, in the order they ran (registration order within a priority). */
  readonly hooks: readonly ShutdownHookResult[];
}

/** Graceful shutdown and health of one process. */
export interface Lifecycle {
  /** Health checks, and the liveness and readiness probes. */
  readonly health: HealthRegistry;
  /**
   * Registers a hook to run on shutdown, under a unique `name` (used in logs and the report).
   * Returns a function that removes it (idempotent). Hooks run once the pre-stop delay is over,
   * by `priority` (see {@link ShutdownPriority}); hooks registered after that are not run (a
   * warning is logged). Typical hooks, added by the wiring:
   *
   * ```ts
   * lifecycle.onShutdown('http server', () => closeServer(server), { priority: ShutdownPriority.StopAccepting });
   * lifecycle.onShutdown('tasks', (signal) => runner.drain(signal), { priority: ShutdownPriority.DrainTasks });
   * lifecycle.onShutdown('telemetry', () => hitch.flush(), { priority: ShutdownPriority.FlushTelemetry });
   * ```
   */
  onShutdown(name: string, fn: ShutdownHook, options?: ShutdownHookOptions): () => void;
  /**
   * Listens for `signals`: the first one runs the shutdown, then exits with code 0 (or 1 if a hook
   * failed or timed out, or the shutdown timed out). Another one during the shutdown exits with
   * code 1 at once: the operator's "stop now" (a second Ctrl-C). Returns a function that removes the
   * listeners. Signal listeners do not keep the process alive. Call it once (until uninstalled).
   */
  handleSignals(options?: HandleSignalsOptions): () => void;
  /**
   * Runs the shutdown a signal triggers, without exiting: readiness fails at once (state
   * `draining`), the pre-stop delay passes, hooks run by priority. Idempotent: later calls return
   * the same promise. Never rejects. While it is in progress the process is kept alive, so the
   * remaining hooks run even after one closes the last server.
   */
  shutdown(reason?: string): Promise<ShutdownReport>;
  readonly state: LifecycleState;
}

interface HookEntry {
  readonly name: string;
  readonly fn: ShutdownHook;
  readonly priority: number;
  readonly timeoutMs: number;
}

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** Creates the lifecycle of a process: health probes and graceful shutdown. Options are validated here; nothing is installed until `handleSignals()`. */
export function createLifecycle(options?: LifecycleOptions, deps?: LifecycleDeps): Lifecycle {
  const opts = optionsObject('lifecycle', options);
  const preStopDelayMs = nonNegativeMs('lifecycle.preStopDelayMs', opts.preStopDelayMs ?? LIFECYCLE_DEFAULTS.preStopDelayMs);
  const hookTimeoutMs = positiveMs('lifecycle.hookTimeoutMs', opts.hookTimeoutMs ?? LIFECYCLE_DEFAULTS.hookTimeoutMs);
  const shutdownTimeoutMs = positiveMs('lifecycle.shutdownTimeoutMs', opts.shutdownTimeoutMs ?? LIFECYCLE_DEFAULTS.shutdownTimeoutMs);
  if (preStopDelayMs >= shutdownTimeoutMs) {
    throw new InvalidOptionError(
      'lifecycle.preStopDelayMs',
      `should be less than lifecycle.shutdownTimeoutMs (${shutdownTimeoutMs}), or no hook would run, got ${preStopDelayMs}`,
    );
  }
  const clock = deps?.clock ?? systemClock;
  const logger = deps?.logger ?? stderrLogger;
  const proc: ProcessLike = deps?.process ?? process;

  let state: LifecycleState = 'running';
  let hooksStarted = false;
  const hooks = new Map<string, HookEntry>();
  let shutdownPromise: Promise<ShutdownReport> | undefined;
  let signalsInstalled = false;
  let signalCount = 0;
  let exited = false;

  const health = createHealthRegistry(clock, () => (state === 'running' ? undefined : state));

  function exit(code: number): void {
    if (exited) return;
    exited = true;
    proc.exit(code);
  }

  async function runShutdown(reason: string): Promise<ShutdownReport> {
    const start = clock.now();
    // The clock's timers do not keep the process alive; this real one does, until the shutdown is over.
    const keepAlive = setTimeout(() => undefined, 2_147_483_647);
    const overall = new AbortController();
    const overallTimer = clock.setTimeout(() => {
      overall.abort(new TimeoutError(shutdownTimeoutMs, 'shutdown'));
    }, shutdownTimeoutMs);
    try {
      logger.info({ reason, preStopDelayMs, shutdownTimeoutMs }, 'shutdown started: readiness is now false');
      if (preStopDelayMs > 0) {
        logger.info({ preStopDelayMs }, `waiting ${preStopDelayMs} ms for load balancers to stop sending traffic`);
        await delay(clock, preStopDelayMs, overall.signal);
      }

      hooksStarted = true;
      const results: ShutdownHookResult[] = [];
      for (const group of groupByPriority([...hooks.values()])) {
        const first = group[0];
        if (first === undefined) continue;
        if (overall.signal.aborted) {
          for (const hook of group) results.push({ name: hook.name, priority: hook.priority, status: 'skipped', durationMs: 0 });
          continue;
        }
        logger.info({ priority: first.priority, hooks: group.map((hook) => hook.name) }, `running shutdown hooks of priority ${first.priority}`);
        results.push(...(await Promise.all(group.map((hook) => runHook(hook, overall.signal)))));
      }

      const timedOut = overall.signal.aborted;
      if (timedOut) {
        const skipped = results.filter((result) => result.status === 'skipped').map((result) => result.name);
        logger.error({ shutdownTimeoutMs, skipped }, `shutdown timed out after ${shutdownTimeoutMs} ms`);
      }
      const ok = !timedOut && results.every((result) => result.status === 'ok');
      const report: ShutdownReport = { reason, ok, timedOut, durationMs: roundMs(Math.max(0, clock.now() - start)), hooks: results };
      if (ok) logger.info({ durationMs: report.durationMs }, 'shutdown complete');
      else logger.error({ durationMs: report.durationMs, failed: results.filter((r) => r.status !== 'ok').map((r) => r.name) }, 'shutdown finished with failures');
      return report;
    } finally {
      state = 'stopped';
      clock.clearTimeout(overallTimer);
      clearTimeout(keepAlive);
    }
  }

  /** Runs one hook, bounded by its timeout and the shutdown's. Never rejects; stops waiting when either fires. */
  function runHook(hook: HookEntry, overall: AbortSignal): Promise<ShutdownHookResult> {
    const start = clock.now();
    const controller = new AbortController();
    return new Promise<ShutdownHookResult>((resolve) => {
      let settled = false;
      let timer: TimerHandle | undefined;
      const finish = (status: ShutdownHookStatus, error?: unknown): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        overall.removeEventListener('abort', onOverallAbort);
        const durationMs = roundMs(Math.max(0, clock.now() - start));
        const base = { name: hook.name, priority: hook.priority, durationMs };
        if (status === 'ok') {
          logger.info({ hook: hook.name, durationMs }, `shutdown hook "${hook.name}" done`);
          resolve({ ...base, status });
          return;
        }
        const message = errorMessage(error);
        if (status === 'timed-out') {
          const what = error === overall.reason ? `shutdown hook "${hook.name}" aborted: ${message}` : message;
          logger.error({ hook: hook.name, durationMs }, what);
        }
        else logger.error({ hook: hook.name, durationMs, err: error }, `shutdown hook "${hook.name}" failed: ${message}`);
        resolve({ ...base, status, error: message });
      };
      const abort = (error: TimeoutError): void => {
        controller.abort(error);
        finish('timed-out', error);
      };
      const onOverallAbort = (): void => abort(overall.reason as TimeoutError);

      overall.addEventListener('abort', onOverallAbort, { once: true });
      timer = clock.setTimeout(() => {
        timer = undefined;
        abort(new TimeoutError(hook.timeoutMs, `shutdown hook "${hook.name}"`));
      }, hook.timeoutMs);
      let result: unknown;
      try {
        result = hook.fn(controller.signal);
      } catch (error) {
        finish('failed', error);
        return;
      }
      Promise.resolve(result).then(
        () => finish('ok'),
        (error: unknown) => finish('failed', error),
      );
    });
  }

  function shutdown(reason?: string): Promise<ShutdownReport> {
    if (shutdownPromise !== undefined) return shutdownPromise;
    const why = reason === undefined ? 'shutdown() called' : nonEmptyName('lifecycle.shutdown.reason', reason);
    state = 'draining';
    shutdownPromise = runShutdown(why);
    return shutdownPromise;
  }

  return {
    health,
    get state() {
      return state;
    },

    onShutdown(name, fn, hookOptions) {
      nonEmptyName('lifecycle.onShutdown.name', name);
      if (typeof fn !== 'function') throw new InvalidOptionError(`lifecycle.onShutdown("${name}").fn`, `should be a function, got ${describe(fn)}`);
      const o = optionsObject(`lifecycle.onShutdown("${name}").options`, hookOptions);
      const priority = o.priority ?? ShutdownPriority.Default;
      if (typeof priority !== 'number' || !Number.isFinite(priority)) {
        throw new InvalidOptionError(`lifecycle.onShutdown("${name}").priority`, `should be a finite number, got ${describe(priority)}`);
      }
      const timeoutMs = positiveMs(`lifecycle.onShutdown("${name}").timeoutMs`, o.timeoutMs ?? hookTimeoutMs);
      if (hooks.has(name)) {
        throw new InvalidOptionError('lifecycle.onShutdown.name', `a shutdown hook named "${name}" is already registered; unregister it first or pick another name`);
      }
      if (hooksStarted) {
        logger.warn({ hook: name }, `shutdown hook "${name}" was registered after the shutdown hooks started: it will not run`);
        return () => undefined;
      }
      const entry: HookEntry = { name, fn, priority, timeoutMs };
      hooks.set(name, entry);
      return () => {
        if (hooks.get(name) === entry) hooks.delete(name);
      };
    },

    handleSignals(signalOptions) {
      const o = optionsObject('lifecycle.handleSignals', signalOptions);
      const requested = o.signals ?? DEFAULT_SIGNALS;
      if (!Array.isArray(requested) || requested.length === 0 || !requested.every((s) => typeof s === 'string' && /^SIG[A-Z0-9]+$/.test(s))) {
        throw new InvalidOptionError('lifecycle.handleSignals.signals', `should be a non-empty array of signal names like 'SIGTERM', got ${describe(requested)}`);
      }
      if (signalsInstalled) {
        throw new InvalidOptionError('lifecycle.handleSignals', 'signals are already handled by this lifecycle; call the uninstaller it returned first');
      }
      const signals = [...new Set(requested)];
      const onSignal = (signal: NodeJS.Signals): void => {
        signalCount++;
        if (signalCount > 1) {
          logger.error({ signal }, `received ${signal} again during shutdown: exiting now with code 1`);
          exit(1);
          return;
        }
        logger.info({ signal }, `received ${signal}: shutting down`);
        void shutdown(signal).then((report) => {
          const code = report.ok ? 0 : 1;
          if (exited) return;
          logger.info({ code }, `exiting with code ${code}`);
          exit(code);
        });
      };
      for (const signal of signals) proc.on(signal, onSignal);
      signalsInstalled = true;
      let installed = true;
      return () => {
        if (!installed) return;
        installed = false;
        signalsInstalled = false;
        for (const signal of signals) proc.off(signal, onSignal);
      };
    },

    shutdown,
  };
}

/** Hooks grouped by priority, lowest first; registration order within a group. */
function groupByPriority(entries: readonly HookEntry[]): HookEntry[][] {
  const groups = new Map<number, HookEntry[]>();
  for (const entry of entries) {
    const group = groups.get(entry.priority);
    if (group === undefined) groups.set(entry.priority, [entry]);
    else group.push(entry);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}

/** Resolves after `ms` on the clock, or as soon as `signal` aborts. */
function delay(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
