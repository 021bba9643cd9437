import type { SpanContext } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../src/clock/clock.js';
import { systemClock } from '../src/clock/clock.js';
import { InvalidOptionError } from '../src/errors/hitch-error.js';
import { TaskQueueFullError, TaskRunnerClosedError, TimeoutError } from '../src/errors/resilience-errors.js';
import type { TaskInstrumentation, TaskOutcome, TaskRunnerOptions } from '../src/tasks/index.js';
import { createTaskRunner } from '../src/tasks/index.js';
import { FakeClock } from './support/fake-clock.js';
import { deferred, flush, never } from './support/async.js';
import { useTestTracer } from './support/test-tracer.js';

const { tracer, exporter } = useTestTracer('tasks-test');

type Call =
  | ['inFlight', number]
  | ['queued', number]
  | ['finished', TaskOutcome, number]
  | ['detachedFailed', string, unknown];

function recorder(): { instrumentation: TaskInstrumentation; calls: Call[] } {
  const calls: Call[] = [];
  const instrumentation: TaskInstrumentation = {
    inFlight: (runner, count) => {
      expect(runner).toBe('jobs');
      calls.push(['inFlight', count]);
    },
    queued: (runner, count) => {
      expect(runner).toBe('jobs');
      calls.push(['queued', count]);
    },
    finished: (runner, outcome, seconds) => {
      expect(runner).toBe('jobs');
      calls.push(['finished', outcome, seconds]);
    },
    detachedFailed: (runner, task, error) => {
      expect(runner).toBe('jobs');
      calls.push(['detachedFailed', task, error]);
    },
  };
  return { instrumentation, calls };
}

function setup(options: Partial<TaskRunnerOptions> = {}) {
  const clock = new FakeClock();
  const { instrumentation, calls } = recorder();
  const runner = createTaskRunner({ name: 'jobs', ...options }, { tracer, clock, instrumentation });
  return { clock, runner, calls };
}

function settledState<T>(promise: Promise<T>): { readonly settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

function spanNamed(name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter((span) => span.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('createTaskRunner options', () => {
  it('pins the validation messages', () => {
    const deps = { tracer };
    const message = (options: unknown, withDeps: unknown = deps): string => {
      try {
        createTaskRunner(options as TaskRunnerOptions, withDeps as typeof deps);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionError);
        return (error as Error).message;
      }
      throw new Error('expected a throw');
    };
    expect(message(undefined)).toBe('taskRunner: expects an options object { name }');
    expect(message({ name: '' })).toBe('taskRunner.name: should be a non-empty string, got ""');
    expect(message({ name: 42 })).toBe('taskRunner.name: should be a non-empty string, got 42');
    expect(message({ name: 'jobs', concurrency: 0 })).toBe('taskRunner.concurrency: should be a positive integer, got 0');
    expect(message({ name: 'jobs', concurrency: 1.5 })).toBe('taskRunner.concurrency: should be a positive integer, got 1.5');
    expect(message({ name: 'jobs', queueLimit: -1 })).toBe('taskRunner.queueLimit: should be an integer >= 0, got -1');
    expect(message({ name: 'jobs', queueLimit: Infinity })).toBe('taskRunner.queueLimit: should be an integer >= 0, got Infinity');
    expect(message({ name: 'jobs', timeoutMs: 0 })).toBe('taskRunner.timeoutMs: should be a positive finite number of milliseconds, got 0');
    expect(message({ name: 'jobs', timeoutMs: '5s' })).toBe(
      'taskRunner.timeoutMs: should be a positive finite number of milliseconds, got "5s"',
    );
    expect(message({ name: 'jobs' }, {})).toBe('taskRunner.tracer: should be an OpenTelemetry Tracer (e.g. hitch.tracer)');
    expect(message({ name: 'jobs' }, null)).toBe('taskRunner.tracer: should be an OpenTelemetry Tracer (e.g. hitch.tracer)');
  });

  it('pins the messages of invalid submit, runDetached and drain arguments', async () => {
    const { runner } = setup();
    await expect(runner.submit('', () => 1)).rejects.toThrow('submit.name: should be a non-empty string naming the task, got ""');
    await expect(runner.submit('x', 'nope' as unknown as () => number)).rejects.toThrow(
      'submit.fn: should be a function (signal) => result, got "nope"',
    );
    await expect(runner.submit('x', () => 1, { signal: {} as AbortSignal })).rejects.toThrow(
      'submit.signal: should be an AbortSignal, got an object',
    );
    expect(() => runner.runDetached('x', null as unknown as () => void)).toThrow('runDetached.fn: should be a function (signal) => result, got null');
    await expect(runner.drain({ timeoutMs: -1 })).rejects.toThrow('drain.timeoutMs: should be a finite number of milliseconds >= 0, got -1');
    // A rejected drain() leaves the runner open.
    await expect(runner.submit('x', () => 1)).resolves.toBe(1);
  });

  it('defaults to concurrency 1 and queueLimit 1000', async () => {
    const { runner, clock } = setup();
    const gate = deferred();
    const accepted = Array.from({ length: 1001 }, (_, i) => runner.submit(`t${i}`, () => gate.promise));
    expect(runner.running).toBe(1);
    expect(runner.queued).toBe(1000);
    await expect(runner.submit('one-too-many', () => undefined)).rejects.toThrow(
      'task runner "jobs" has 1000 tasks queued (its queueLimit): the task was rejected',
    );
    gate.resolve();
    await Promise.all(accepted);
    expect(runner.running).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('submit', () => {
  it('runs fn later inside the submitter context, under a child span task <name>', async () => {
    const { runner, clock } = setup();
    const gate = deferred();
    const blocker = runner.submit('blocker', () => gate.promise);
    let request!: SpanContext;
    const queued = tracer.startActiveSpan('request', (span) => {
      request = span.spanContext();
      const promise = runner.submit('send-email', () => ({ inside: trace.getSpanContext(context.active()) }));
      span.end(); // the request is over long before the task runs
      return promise;
    });
    clock.advance(250);
    gate.resolve();
    await blocker;
    const { inside } = await queued;

    const task = spanNamed('task send-email');
    expect(inside?.traceId).toBe(request.traceId);
    expect(inside?.spanId).toBe(task.spanContext().spanId);
    expect(task.spanContext().traceId).toBe(request.traceId);
    expect(task.parentSpanContext?.spanId).toBe(request.spanId);
    expect(task.kind).toBe(SpanKind.INTERNAL);
    expect(task.attributes).toEqual({
      'hitch.task.runner': 'jobs',
      'hitch.task.name': 'send-email',
      'hitch.task.queue_wait_ms': 250,
      'hitch.task.outcome': 'success',
    });
    expect(task.status.code).toBe(SpanStatusCode.UNSET);
    expect(spanNamed('task blocker').attributes['hitch.task.queue_wait_ms']).toBe(0);
  });

  it('settles with the result of a synchronous or asynchronous fn', async () => {
    const { runner } = setup({ concurrency: 2 });
    await expect(runner.submit('sync', () => 42)).resolves.toBe(42);
    await expect(runner.submit('async', async () => 'done')).resolves.toBe('done');
  });

  it('rejects with the error of a failed fn and records it on an ERROR span', async () => {
    const { runner, calls } = setup();
    const boom = new RangeError('no such invoice');
    await expect(
      runner.submit('charge', () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(runner.submit('refund', () => Promise.reject('gone'))).rejects.toBe('gone');

    const charge = spanNamed('task charge');
    expect(charge.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no such invoice' });
    expect(charge.attributes['error.type']).toBe('RangeError');
    expect(charge.attributes['hitch.task.outcome']).toBe('error');
    expect(charge.events.map((event) => event.name)).toEqual(['exception']);
    expect(charge.events[0]?.attributes?.['exception.message']).toBe('no such invoice');
    const refund = spanNamed('task refund');
    expect(refund.status).toEqual({ code: SpanStatusCode.ERROR, message: 'gone' });
    expect(refund.attributes['error.type']).toBe('_OTHER');
    expect(calls.filter((call) => call[0] === 'finished').map((call) => call[1])).toEqual(['error', 'error']);
  });

  it('never runs more than `concurrency` tasks and starts them in submission order', async () => {
    const { runner } = setup({ concurrency: 3 });
    const started: number[] = [];
    let active = 0;
    let maxActive = 0;
    const gates = Array.from({ length: 10 }, () => deferred());
    const results = gates.map((gate, i) =>
      runner.submit(`t${i}`, async () => {
        started.push(i);
        active++;
        maxActive = Math.max(maxActive, active);
        expect(runner.running).toBeLessThanOrEqual(3);
        await gate.promise;
        active--;
        return i;
      }),
    );
    expect(started).toEqual([0, 1, 2]);
    expect(runner.running).toBe(3);
    expect(runner.queued).toBe(7);
    // Finish them out of order: the queue still starts in FIFO order.
    for (const i of [2, 0, 1, 5, 3, 4, 9, 8, 7, 6]) {
      gates[i]!.resolve();
      await flush();
    }
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(maxActive).toBe(3);
  });

  it('rejects at once with TaskQueueFullError when every slot is busy and the queue is full', async () => {
    const { runner, calls } = setup({ concurrency: 2, queueLimit: 1 });
    const gate = deferred();
    const accepted = [1, 2, 3].map((i) => runner.submit(`t${i}`, () => gate.promise));
    const rejected = runner.submit('t4', () => gate.promise);
    // The gate is still closed: the rejection did not wait for a slot.
    const error = await rejected.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskQueueFullError);
    expect((error as TaskQueueFullError).runner).toBe('jobs');
    expect((error as Error).stack).not.toContain('task-runner');
    expect(runner.queued).toBe(1);
    expect(calls.some((call) => call[0] === 'finished')).toBe(false);
    gate.resolve();
    await Promise.all(accepted);
    await expect(runner.submit('t5', () => 5)).resolves.toBe(5);
  });

  it('queueLimit 0 runs only what fits in the slots', async () => {
    const { runner } = setup({ queueLimit: 0 });
    const gate = deferred();
    const first = runner.submit('first', () => gate.promise);
    await expect(runner.submit('second', () => undefined)).rejects.toBeInstanceOf(TaskQueueFullError);
    gate.resolve();
    await first;
  });

  it('gives each task its own AbortSignal', async () => {
    const { runner } = setup({ concurrency: 2 });
    const signals = await Promise.all([runner.submit('a', (signal) => signal), runner.submit('b', (signal) => signal)]);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]).not.toBe(signals[1]);
    expect(signals.every((signal) => !signal.aborted)).toBe(true);
  });
});

describe('timeoutMs', () => {
  it('aborts the signal with TimeoutError and rejects when the timeout fires, even if fn ignores it', async () => {
    const { runner, clock, calls } = setup({ timeoutMs: 1000 });
    let seen: AbortSignal | undefined;
    const slow = runner.submit('slow', (signal) => {
      seen = signal;
      return never();
    });
    const next = runner.submit('next', () => 'ran');
    const state = settledState(slow);
    clock.advance(999);
    await flush();
    expect(state.settled).toBe(false);
    expect(seen?.aborted).toBe(false);

    clock.advance(1);
    const error = await slow.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe('task "slow" of runner "jobs" timed out after 1000 ms');
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
    // The slot is free again: the queued task ran.
    await expect(next).resolves.toBe('ran');

    const span = spanNamed('task slow');
    expect(span.attributes['hitch.task.outcome']).toBe('timeout');
    expect(span.attributes['error.type']).toBe('TimeoutError');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(calls.filter((call) => call[0] === 'finished')).toEqual([
      ['finished', 'timeout', 1],
      ['finished', 'success', 0],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('clears the timer of a task that finishes in time', async () => {
    const { runner, clock } = setup({ timeoutMs: 60_000 });
    const gate = deferred();
    const task = runner.submit('quick', () => gate.promise);
    expect(clock.pendingTimers).toBe(1);
    gate.resolve();
    await task;
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not count queue wait against the timeout', async () => {
    const { runner, clock } = setup({ timeoutMs: 100 });
    const gate = deferred();
    const first = runner.submit('first', () => gate.promise);
    const second = runner.submit('second', () => 'second');
    clock.advance(99);
    gate.resolve();
    await first;
    clock.advance(99);
    await expect(second).resolves.toBe('second');
  });
});

describe('the submitter signal', () => {
  it('removes an aborted queued task: it rejects with the reason and never runs', async () => {
    const { runner, clock, calls } = setup();
    const gate = deferred();
    const blocker = runner.submit('blocker', () => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const queued = runner.submit(
      'queued',
      () => {
        ran = true;
      },
      { signal: controller.signal },
    );
    expect(runner.queued).toBe(1);
    clock.advance(300);
    const reason = new Error('client went away');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    expect(runner.queued).toBe(0);
    gate.resolve();
    await blocker;
    expect(ran).toBe(false);
    expect(calls).toContainEqual(['finished', 'aborted', 0.3]);
    // A task that never started has no span.
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['task blocker']);
  });

  it('aborts a running task: its signal fires with the reason and the promise rejects', async () => {
    const { runner, calls } = setup();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const running = runner.submit(
      'running',
      (signal) => {
        seen = signal;
        return never();
      },
      { signal: controller.signal },
    );
    expect(seen?.aborted).toBe(false);
    controller.abort('stop');
    await expect(running).rejects.toBe('stop');
    expect(seen?.reason).toBe('stop');
    expect(runner.running).toBe(0);
    expect(spanNamed('task running').attributes['hitch.task.outcome']).toBe('aborted');
    expect(calls.filter((call) => call[0] === 'finished').map((call) => call[1])).toEqual(['aborted']);
  });

  it('rejects a task whose signal is already aborted without queuing it', async () => {
    const { runner, calls } = setup();
    let ran = false;
    await expect(
      runner.submit(
        'late',
        () => {
          ran = true;
        },
        { signal: AbortSignal.abort('too late') },
      ),
    ).rejects.toBe('too late');
    expect(ran).toBe(false);
    expect(calls).toEqual([
      ['inFlight', 0],
      ['queued', 0],
    ]);
  });

  it('stops listening to the signal once the task has ended', async () => {
    const { runner } = setup();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await runner.submit('done', (signal) => (seen = signal), { signal: controller.signal });
    controller.abort('after the fact');
    expect(seen?.aborted).toBe(false);
  });
});

describe('drain', () => {
  it('stops accepting, completes what ends in time and aborts the rest at the deadline', async () => {
    const { runner, clock, calls } = setup();
    const gateA = deferred<string>();
    const a = runner.submit('a', () => gateA.promise);
    let bSignal: AbortSignal | undefined;
    const b = runner.submit('b', (signal) => {
      bSignal = signal;
      return never();
    });
    let cRan = false;
    const c = runner.submit('c', () => {
      cRan = true;
    });

    const drained = runner.drain({ timeoutMs: 1000 });
    expect(runner.drain({ timeoutMs: 1 })).toBe(drained);
    const closedError = await runner.submit('d', () => undefined).catch((e: unknown) => e);
    expect(closedError).toBeInstanceOf(TaskRunnerClosedError);
    expect((closedError as Error).message).toBe('task runner "jobs" is draining or drained: it accepts no new tasks');

    gateA.resolve('a done');
    await expect(a).resolves.toBe('a done');
    expect(bSignal?.aborted).toBe(false); // b runs during the drain
    const state = settledState(drained);
    clock.advance(999);
    await flush();
    expect(state.settled).toBe(false);

    clock.advance(1);
    expect(await drained).toEqual({ completed: 1, aborted: 2 });
    const bError = await b.catch((e: unknown) => e);
    expect(bError).toBeInstanceOf(TimeoutError);
    expect((bError as Error).message).toBe('draining task runner "jobs" timed out after 1000 ms');
    expect(bSignal?.reason).toBe(bError);
    await expect(c).rejects.toBe(bError);
    expect(cRan).toBe(false);
    expect(runner.running).toBe(0);
    expect(runner.queued).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(calls.filter((call) => call[0] === 'finished').map((call) => call[1])).toEqual(['success', 'aborted', 'aborted']);
    await expect(runner.drain()).resolves.toEqual({ completed: 1, aborted: 2 });
  });

  it('waits for every task when no deadline is given, and clears its timer when done early', async () => {
    const { runner, clock } = setup({ concurrency: 2 });
    const gates = [deferred(), deferred(), deferred()];
    const tasks = gates.map((gate, i) => runner.submit(`t${i}`, () => gate.promise));
    const drained = runner.drain();
    for (const gate of gates) gate.resolve();
    await Promise.all(tasks);
    expect(await drained).toEqual({ completed: 3, aborted: 0 });

    const second = setup();
    const gate = deferred();
    const task = second.runner.submit('t', () => gate.promise);
    const early = second.runner.drain({ timeoutMs: 5000 });
    expect(second.clock.pendingTimers).toBe(1);
    gate.resolve();
    await task;
    expect(await early).toEqual({ completed: 1, aborted: 0 });
    expect(second.clock.pendingTimers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts a failed task as completed: it ended before the deadline', async () => {
    const { runner } = setup();
    const failing = runner.submit('fails', () => Promise.reject(new Error('nope')));
    const drained = runner.drain({ timeoutMs: 10 });
    await expect(failing).rejects.toThrow('nope');
    expect(await drained).toEqual({ completed: 1, aborted: 0 });
  });

  it('resolves at once for an idle runner, without a timer', async () => {
    const { runner, clock } = setup();
    const drained = runner.drain({ timeoutMs: 1000 });
    expect(clock.pendingTimers).toBe(0);
    expect(await drained).toEqual({ completed: 0, aborted: 0 });
  });
});

describe('runDetached', () => {
  it('starts a new trace linked to the caller span', async () => {
    const { runner } = setup();
    let request!: SpanContext;
    let inside: SpanContext | undefined;
    tracer.startActiveSpan('request', (span) => {
      request = span.spanContext();
      runner.runDetached('audit', () => {
        inside = trace.getSpanContext(context.active());
      });
      span.end();
    });
    await flush();
    const task = spanNamed('task audit');
    expect(task.spanContext().traceId).not.toBe(request.traceId);
    expect(task.parentSpanContext).toBeUndefined();
    expect(task.links).toHaveLength(1);
    expect(task.links[0]?.context.traceId).toBe(request.traceId);
    expect(task.links[0]?.context.spanId).toBe(request.spanId);
    expect(task.attributes).toMatchObject({ 'hitch.task.runner': 'jobs', 'hitch.task.name': 'audit', 'hitch.task.detached': true });
    expect(inside?.spanId).toBe(task.spanContext().spanId);
  });

  it('has no link when no span is active', async () => {
    const { runner } = setup();
    runner.runDetached('cron', () => undefined);
    await flush();
    expect(spanNamed('task cron').links).toEqual([]);
  });

  it('reports failures to detachedFailed and the span, never as a rejection', async () => {
    const { runner, calls, clock } = setup({ concurrency: 1, queueLimit: 1, timeoutMs: 500 });
    const boom = new Error('export failed');
    runner.runDetached('export', () => Promise.reject(boom));
    runner.runDetached('stuck', () => never());
    runner.runDetached('overflow', () => undefined); // queue: [stuck] is full
    await flush();
    clock.advance(500);
    await flush();

    const failures = calls.filter((call) => call[0] === 'detachedFailed');
    expect(failures.map((call) => call[1])).toEqual(['overflow', 'export', 'stuck']);
    expect(failures[0]?.[2]).toBeInstanceOf(TaskQueueFullError);
    expect(failures[1]?.[2]).toBe(boom);
    expect(failures[2]?.[2]).toBeInstanceOf(TimeoutError);
    const span = spanNamed('task export');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'export failed' });
    expect(span.events.map((event) => event.name)).toEqual(['exception']);

    await runner.drain();
    runner.runDetached('after-drain', () => undefined);
    expect(calls.at(-1)?.[1]).toBe('after-drain');
    expect(calls.at(-1)?.[2]).toBeInstanceOf(TaskRunnerClosedError);
  });

  it('survives an instrumentation that throws', async () => {
    const throwing: TaskInstrumentation = {
      inFlight: () => {
        throw new Error('gauge broken');
      },
      queued: () => {
        throw new Error('gauge broken');
      },
      finished: () => {
        throw new Error('histogram broken');
      },
      detachedFailed: () => {
        throw new Error('logger broken');
      },
    };
    const runner = createTaskRunner({ name: 'jobs' }, { tracer, clock: new FakeClock(), instrumentation: throwing });
    runner.runDetached('fails', () => {
      throw new Error('task broken');
    });
    await expect(runner.submit('works', () => 'ok')).resolves.toBe('ok');
  });
});

describe('no unhandled rejections', () => {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason);
  };
  beforeEach(() => {
    seen.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('from dropped promises of failed, timed-out, aborted, refused and detached tasks', async () => {
    const { runner, clock } = setup({ concurrency: 1, queueLimit: 2, timeoutMs: 100 });
    const controller = new AbortController();
    void runner.submit('throws', () => {
      throw new Error('sync');
    });
    void runner.submit('rejects', () => Promise.reject(new Error('async')));
    void runner.submit('hangs', () => never());
    void runner.submit('aborted-queued', () => undefined, { signal: controller.signal });
    void runner.submit('full', () => undefined);
    void runner.submit('pre-aborted', () => undefined, { signal: AbortSignal.abort() });
    runner.runDetached('detached', () => Promise.reject(new Error('detached')));
    await flush();
    controller.abort(new Error('abort'));
    clock.advance(100);
    await flush();
    // A task that ignored its timeout and fails later: its late rejection is swallowed too.
    const late = deferred();
    void runner.submit('late', () => late.promise);
    clock.advance(100);
    late.reject(new Error('late'));
    void runner.drain({ timeoutMs: 1 });
    void runner.submit('closed', () => undefined);
    clock.advance(1);
    await flush();
    await flush();
    expect(seen).toEqual([]);
  });
});

describe('instrumentation', () => {
  it('reports every change of the in-flight and queued counts and each duration', async () => {
    const { runner, clock, calls } = setup();
    expect(calls).toEqual([
      ['inFlight', 0],
      ['queued', 0],
    ]);
    const gate = deferred();
    const a = runner.submit('a', () => gate.promise);
    const b = runner.submit('b', async () => {
      clock.advance(50);
    });
    clock.advance(100);
    gate.resolve();
    await Promise.all([a, b]);
    expect(calls).toEqual([
      ['inFlight', 0],
      ['queued', 0],
      ['inFlight', 1],
      ['queued', 1],
      ['finished', 'success', 0.1],
      ['queued', 0], // b took a's slot: in-flight stayed at 1
      ['finished', 'success', 0.05],
      ['inFlight', 0],
    ]);
  });
});

describe('timers', () => {
  it('an idle runner holds no timer, and every timer taken from the system clock is cleared', async () => {
    const live = new Set<TimerHandle>();
    const counting: Clock = {
      now: () => systemClock.now(),
      setTimeout(fn, ms) {
        const handle = systemClock.setTimeout(() => {
          live.delete(handle);
          fn();
        }, ms);
        live.add(handle);
        return handle;
      },
      clearTimeout(handle) {
        live.delete(handle);
        systemClock.clearTimeout(handle);
      },
    };
    const runner = createTaskRunner({ name: 'jobs', concurrency: 2, timeoutMs: 60_000 }, { tracer, clock: counting });
    expect(live.size).toBe(0);
    const gate = deferred();
    const tasks = [runner.submit('a', () => gate.promise), runner.submit('b', () => gate.promise), runner.submit('c', () => 'c')];
    expect(live.size).toBe(2);
    const drained = runner.drain({ timeoutMs: 60_000 });
    expect(live.size).toBe(3);
    gate.resolve();
    await Promise.all(tasks);
    await drained;
    expect(live.size).toBe(0);
  });
});
