import type { Attributes, Context, Link, Span, Tracer } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, context as contextApi, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { TaskQueueFullError, TaskRunnerClosedError, TimeoutError, withoutStack } from '../errors/resilience-errors.js';

/** How a task ended: the `outcome` label of `hitch_task_duration_seconds`. */
export type TaskOutcome = 'success' | 'error' | 'timeout' | 'aborted';

/**
 * Where a task runner reports its metrics and failures. `createHitch` wires it to
 * `hitch_tasks_in_flight`, `hitch_tasks_queued`, `hitch_task_duration_seconds` and the logger.
 * A throw from any of these methods is swallowed: instrumentation never breaks a task.
 */
export interface TaskInstrumentation {
  /** The number of running tasks changed (gauge `hitch_tasks_in_flight{runner}`). */
  inFlight(runner: string, count: number): void;
  /** The number of queued tasks changed (gauge `hitch_tasks_queued{runner}`). */
  queued(runner: string, count: number): void;
  /**
   * A task ended (histogram `hitch_task_duration_seconds{runner,outcome}`). `seconds` is its run
   * time; for a task aborted before it started, the time it waited in the queue.
   */
  finished(runner: string, outcome: TaskOutcome, seconds: number): void;
  /** A `runDetached` task failed, timed out, was aborted, or was not accepted (full queue, closed runner). */
  detachedFailed(runner: string, task: string, error: unknown): void;
}

export interface TaskRunnerOptions {
  /** The `runner` label and the `hitch.task.runner` span attribute. Required, non-empty. */
  readonly name: string;
  /**
   * Tasks running at the same time. Defaults to `1`: tasks run one after the other, in order,
   * and a burst cannot overload what they call. Raise it deliberately.
   */
  readonly concurrency?: number;
  /**
   * Tasks waiting for a slot. Beyond it `submit` rejects at once with `TaskQueueFullError`
   * (backpressure: memory stays bounded). `0` means no waiting at all. Defaults to `1000`.
   */
  readonly queueLimit?: number;
  /**
   * Limit on each task's run time (queue wait excluded), in milliseconds: the task's signal
   * aborts with a `TimeoutError` and its promise rejects at once. Defaults to none.
   *
   * A timed-out (or aborted) task gives its slot back at once, even if `fn` ignores its signal
   * and keeps going: one stuck task must not stall the runner forever. Such a task runs on
   * outside the `concurrency` limit until it notices the signal, so honour the signal.
   */
  readonly timeoutMs?: number;
}

export interface TaskRunnerDeps {
  readonly tracer: Tracer;
  /** Source of time and timers. Defaults to `systemClock`. */
  readonly clock?: Clock;
  /** Defaults to none (nothing is reported). */
  readonly instrumentation?: TaskInstrumentation;
}

export interface SubmitOptions {
  /**
   * The submitter's signal: aborting it removes a queued task (its promise rejects with the
   * signal's reason) or aborts a running one (the task's signal fires, its promise rejects).
   */
  readonly signal?: AbortSignal;
}

export interface DrainOptions {
  /**
   * How long to wait for running and queued tasks, in milliseconds. At the deadline what is left
   * is aborted with a `TimeoutError` (`draining task runner "<name>" timed out after <ms> ms`):
   * running tasks' signals fire and their promises reject, queued tasks reject without running;
   * both are counted with outcome `aborted`. Defaults to none: waits until every task has ended
   * (each bounded by the runner's `timeoutMs`, if set).
   */
  readonly timeoutMs?: number;
}

export interface DrainResult {
  /** Tasks running or queued when `drain` was called that ended before the deadline, whatever their outcome. */
  readonly completed: number;
  /** Tasks aborted at the deadline: running ones (their signal fired) and queued ones (never started). */
  readonly aborted: number;
}

/** A bounded queue of background work that keeps each task in its submitter's trace. */
export interface TaskRunner {
  readonly name: string;
  /** Tasks holding a slot now. */
  readonly running: number;
  /** Tasks waiting for a slot now. */
  readonly queued: number;
  /**
   * Runs `fn(signal)` when a slot is free (synchronously, before `submit` returns, if one is free
   * now), inside the context active now, under a child span `task <name>` carrying
   * `hitch.task.runner`, `hitch.task.name`, `hitch.task.queue_wait_ms` and, at the end,
   * `hitch.task.outcome`. Settles with `fn`'s outcome. Rejects at once with `TaskQueueFullError`
   * when every slot is busy and the queue is full, with `TaskRunnerClosedError` after `drain()`,
   * and with the signal's reason when `options.signal` is already aborted (none of these is
   * counted as a task). The returned promise never causes an unhandled rejection, even when
   * dropped: failures are on the span and in metrics. Invalid arguments reject with
   * `InvalidOptionError`.
   */
  submit<T>(name: string, fn: (signal: AbortSignal) => Promise<T> | T, options?: SubmitOptions): Promise<T>;
  /**
   * Fire and forget: runs `fn(signal)` through the same queue (same slots, same `queueLimit`,
   * same `timeoutMs`) in a NEW trace: a root span `task <name>` (`hitch.task.detached: true`)
   * linked to the active span, if any; baggage and other context values are kept. Nothing is
   * thrown or rejected: a failure, a timeout, an abort by `drain`, a full queue
   * (`TaskQueueFullError`) or a closed runner (`TaskRunnerClosedError`) goes to
   * `instrumentation.detachedFailed`, and onto the span when the task ran. Only invalid
   * arguments (a programming error) throw `InvalidOptionError`.
   */
  runDetached(name: string, fn: (signal: AbortSignal) => Promise<unknown> | unknown): void;
  /**
   * Stops accepting tasks, waits for running and queued ones, aborts what is left at the
   * deadline. Idempotent: later calls return the first call's promise (and its deadline).
   */
  drain(options?: DrainOptions): Promise<DrainResult>;
}

const NO_INSTRUMENTATION: TaskInstrumentation = {
  inFlight: () => undefined,
  queued: () => undefined,
  finished: () => undefined,
  detachedFailed: () => undefined,
};

const noop = (): void => undefined;

type TaskState = 'queued' | 'running' | 'done';

interface Task {
  readonly name: string;
  readonly fn: (signal: AbortSignal) => unknown;
  /** The submitter's context: the parent of the task span (or the source of its link when detached). */
  readonly context: Context;
  readonly detached: boolean;
  readonly enqueuedAt: number;
  readonly controller: AbortController;
  /** Receives the outcome: settles the submitter's promise, or reports a detached failure. */
  readonly settle: (outcome: TaskOutcome, value: unknown) => void;
  readonly callerSignal: AbortSignal | undefined;
  onCallerAbort: (() => void) | undefined;
  state: TaskState;
  startedAt: number;
  timer: TimerHandle | undefined;
  span: Span | undefined;
  /** Set when the drain deadline aborted the task. */
  abortedByDrain: boolean;
}

/**
 * Creates a task runner: at most `concurrency` tasks at a time, at most `queueLimit` waiting,
 * FIFO. Timers come only from `deps.clock` and exist only while a task with a timeout runs or a
 * drain waits: an idle runner holds nothing and never keeps the process alive.
 */
export function createTaskRunner(options: TaskRunnerOptions, deps: TaskRunnerDeps): TaskRunner {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('taskRunner', 'expects an options object { name }');
  const runnerName: unknown = options.name;
  if (typeof runnerName !== 'string' || runnerName.trim() === '') {
    throw new InvalidOptionError('taskRunner.name', `should be a non-empty string, got ${describe(runnerName)}`);
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidOptionError('taskRunner.concurrency', `should be a positive integer, got ${describe(concurrency)}`);
  }
  const queueLimit = options.queueLimit ?? 1000;
  if (!Number.isInteger(queueLimit) || queueLimit < 0) {
    throw new InvalidOptionError('taskRunner.queueLimit', `should be an integer >= 0, got ${describe(queueLimit)}`);
  }
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && !isPositiveMs(timeoutMs)) {
    throw new InvalidOptionError('taskRunner.timeoutMs', `should be a positive finite number of milliseconds, got ${describe(timeoutMs)}`);
  }
  if (typeof deps !== 'object' || deps === null || typeof (deps.tracer as Partial<Tracer> | undefined)?.startActiveSpan !== 'function') {
    throw new InvalidOptionError('taskRunner.tracer', 'should be an OpenTelemetry Tracer (e.g. hitch.tracer)');
  }
  const name = runnerName;
  const tracer = deps.tracer;
  const clock = deps.clock ?? systemClock;
  const instrumentation = deps.instrumentation ?? NO_INSTRUMENTATION;

  /** FIFO of waiting tasks: a Set keeps insertion order and removes an aborted task in O(1). */
  const queue = new Set<Task>();
  /** Tasks holding a slot: `running` is its size. */
  const runningTasks = new Set<Task>();
  let closed = false;
  let pumping = false;
  let reportedRunning = -1;
  let reportedQueued = -1;
  let drainState: { promise: Promise<DrainResult>; onTaskDone: (task: Task) => void } | undefined;

  const instrument = (call: (instrumentation: TaskInstrumentation) => void): void => {
    try {
      call(instrumentation);
    } catch {
      // Instrumentation must never break a task.
    }
  };

  /** Reports the gauges that changed since the last report (no blip for a task that starts at once). */
  const report = (): void => {
    if (runningTasks.size !== reportedRunning) {
      reportedRunning = runningTasks.size;
      instrument((i) => i.inFlight(name, runningTasks.size));
    }
    if (queue.size !== reportedQueued) {
      reportedQueued = queue.size;
      instrument((i) => i.queued(name, queue.size));
    }
  };

  /** Starts queued tasks while slots are free. Not re-entrant: a task ending synchronously cannot recurse. */
  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    try {
      while (runningTasks.size < concurrency) {
        const next = queue.values().next();
        if (next.done === true) break;
        start(next.value);
      }
    } finally {
      pumping = false;
    }
  };

  const start = (task: Task): void => {
    queue.delete(task);
    task.state = 'running';
    runningTasks.add(task);
    const now = clock.now();
    task.startedAt = now;
    const attributes: Attributes = {
      'hitch.task.runner': name,
      'hitch.task.name': task.name,
      'hitch.task.queue_wait_ms': Math.max(0, now - task.enqueuedAt),
    };
    let links: Link[] | undefined;
    if (task.detached) {
      attributes['hitch.task.detached'] = true;
      const caller = trace.getSpanContext(task.context);
      if (caller !== undefined && isSpanContextValid(caller)) links = [{ context: caller }];
    }
    if (timeoutMs !== undefined) {
      task.timer = clock.setTimeout(() => {
        task.timer = undefined;
        finish(task, 'timeout', withoutStack(() => new TimeoutError(timeoutMs, `task "${task.name}" of runner "${name}"`)));
      }, timeoutMs);
    }
    tracer.startActiveSpan(`task ${task.name}`, { kind: SpanKind.INTERNAL, attributes, links, root: task.detached }, task.context, (span) => {
      task.span = span;
      let result: unknown;
      try {
        result = task.fn(task.controller.signal);
      } catch (error) {
        finish(task, 'error', error);
        return;
      }
      Promise.resolve(result).then(
        (value) => finish(task, 'success', value),
        (error: unknown) => finish(task, 'error', error),
      );
    });
  };

  /** Ends a task once: the first of its result, its timeout, its caller's abort or the drain deadline wins. */
  const finish = (task: Task, outcome: TaskOutcome, value: unknown): void => {
    if (task.state === 'done') return;
    const wasRunning = task.state === 'running';
    task.state = 'done';
    if (task.timer !== undefined) {
      clock.clearTimeout(task.timer);
      task.timer = undefined;
    }
    if (task.onCallerAbort !== undefined) {
      task.callerSignal?.removeEventListener('abort', task.onCallerAbort);
      task.onCallerAbort = undefined;
    }
    if (wasRunning) runningTasks.delete(task);
    else queue.delete(task);
    // The task's own signal tells fn to stop; listeners run after the bookkeeping above.
    if ((outcome === 'timeout' || outcome === 'aborted') && !task.controller.signal.aborted) task.controller.abort(value);

    const span = task.span;
    if (span !== undefined) {
      span.setAttribute('hitch.task.outcome', outcome);
      if (outcome !== 'success') recordFailure(span, value);
      span.end();
    }
    const seconds = Math.max(0, clock.now() - (wasRunning ? task.startedAt : task.enqueuedAt)) / 1000;
    // In the task's own context, so that an exemplar or a log line points at the task's trace.
    contextApi.with(span !== undefined ? trace.setSpan(task.context, span) : task.context, () => {
      instrument((i) => i.finished(name, outcome, seconds));
      task.settle(outcome, value);
    });
    drainState?.onTaskDone(task);
    pump();
    report();
  };

  /** Accepts a task, or returns why not. */
  const accept = (
    taskName: string,
    fn: (signal: AbortSignal) => unknown,
    detached: boolean,
    callerSignal: AbortSignal | undefined,
    settle: Task['settle'],
  ): { error: unknown } | undefined => {
    if (closed) return { error: withoutStack(() => new TaskRunnerClosedError(name)) };
    if (callerSignal?.aborted === true) return { error: callerSignal.reason };
    // Tasks that start at once count against the slots, the others against queueLimit.
    if (runningTasks.size + queue.size >= concurrency + queueLimit) return { error: withoutStack(() => new TaskQueueFullError(name, queueLimit)) };
    const task: Task = {
      name: taskName,
      fn,
      context: contextApi.active(),
      detached,
      enqueuedAt: clock.now(),
      controller: new AbortController(),
      settle,
      callerSignal,
      onCallerAbort: undefined,
      state: 'queued',
      startedAt: 0,
      timer: undefined,
      span: undefined,
      abortedByDrain: false,
    };
    if (callerSignal !== undefined) {
      task.onCallerAbort = () => finish(task, 'aborted', callerSignal.reason);
      callerSignal.addEventListener('abort', task.onCallerAbort, { once: true });
    }
    queue.add(task);
    pump();
    report();
    return undefined;
  };

  const drain = (drainOptions: DrainOptions = {}): Promise<DrainResult> => {
    if (drainState !== undefined) return drainState.promise;
    const drainTimeoutMs = drainOptions.timeoutMs;
    if (drainTimeoutMs !== undefined && (typeof drainTimeoutMs !== 'number' || !(drainTimeoutMs >= 0) || !Number.isFinite(drainTimeoutMs))) {
      return Promise.reject(
        new InvalidOptionError('drain.timeoutMs', `should be a finite number of milliseconds >= 0, got ${describe(drainTimeoutMs)}`),
      );
    }
    closed = true;
    const pending = new Set<Task>([...runningTasks, ...queue]);
    let completed = 0;
    let aborted = 0;
    let timer: TimerHandle | undefined;
    let resolveDrain: (result: DrainResult) => void = noop;
    const promise = new Promise<DrainResult>((resolve) => {
      resolveDrain = resolve;
    });
    const done = (): void => {
      if (timer !== undefined) {
        clock.clearTimeout(timer);
        timer = undefined;
      }
      resolveDrain({ completed, aborted });
    };
    drainState = {
      promise,
      onTaskDone: (task) => {
        if (!pending.delete(task)) return;
        if (task.abortedByDrain) aborted++;
        else completed++;
        if (pending.size === 0) done();
      },
    };
    if (pending.size === 0) {
      done();
    } else if (drainTimeoutMs !== undefined) {
      timer = clock.setTimeout(() => {
        timer = undefined;
        const reason = withoutStack(() => new TimeoutError(drainTimeoutMs, `draining task runner "${name}"`));
        // Queued tasks first, so that aborting a running one does not start them.
        const left = [...pending].sort((a, b) => (a.state === 'queued' ? 0 : 1) - (b.state === 'queued' ? 0 : 1));
        for (const task of left) {
          task.abortedByDrain = true;
          finish(task, 'aborted', reason);
        }
      }, drainTimeoutMs);
    }
    return promise;
  };

  report();

  return {
    name,
    get running() {
      return runningTasks.size;
    },
    get queued() {
      return queue.size;
    },
    submit<T>(taskName: string, fn: (signal: AbortSignal) => Promise<T> | T, submitOptions: SubmitOptions = {}): Promise<T> {
      let resolveTask: (value: T) => void = noop;
      let rejectTask: (error: unknown) => void = noop;
      const promise = new Promise<T>((resolve, reject) => {
        resolveTask = resolve;
        rejectTask = reject;
      });
      // A caller that drops the promise must not crash the process: the failure is on the span and in metrics.
      promise.catch(noop);
      const invalid = checkTaskArguments('submit', taskName, fn) ?? checkSignal(submitOptions);
      if (invalid !== undefined) {
        rejectTask(invalid);
        return promise;
      }
      const refused = accept(taskName, fn, false, submitOptions.signal, (outcome, value) => {
        if (outcome === 'success') resolveTask(value as T);
        else rejectTask(value);
      });
      if (refused !== undefined) rejectTask(refused.error);
      return promise;
    },
    runDetached(taskName: string, fn: (signal: AbortSignal) => Promise<unknown> | unknown): void {
      const invalid = checkTaskArguments('runDetached', taskName, fn);
      if (invalid !== undefined) throw invalid;
      const reportFailure = (error: unknown): void => instrument((i) => i.detachedFailed(name, taskName, error));
      const refused = accept(taskName, fn, true, undefined, (outcome, value) => {
        if (outcome !== 'success') reportFailure(value);
      });
      if (refused !== undefined) reportFailure(refused.error);
    },
    drain,
  };
}

/** Records `error` on `span` as the semantic conventions ask: exception event, error.type, ERROR status. */
function recordFailure(span: Span, error: unknown): void {
  if (error instanceof Error) {
    span.recordException(error);
    span.setAttribute('error.type', error.name === 'Error' ? error.constructor.name : error.name);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else {
    span.recordException(String(error));
    span.setAttribute('error.type', '_OTHER');
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
  }
}

function checkTaskArguments(method: string, taskName: unknown, fn: unknown): InvalidOptionError | undefined {
  if (typeof taskName !== 'string' || taskName.trim() === '') {
    return new InvalidOptionError(`${method}.name`, `should be a non-empty string naming the task, got ${describe(taskName)}`);
  }
  if (typeof fn !== 'function') return new InvalidOptionError(`${method}.fn`, `should be a function (signal) => result, got ${describe(fn)}`);
  return undefined;
}

function checkSignal(options: unknown): InvalidOptionError | undefined {
  if (typeof options !== 'object' || options === null) return new InvalidOptionError('submit.options', `should be an object, got ${describe(options)}`);
  const signal = (options as { signal?: unknown }).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return new InvalidOptionError('submit.signal', `should be an AbortSignal, got ${describe(signal)}`);
  }
  return undefined;
}

function isPositiveMs(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && Number.isFinite(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
