import { describe, expect, it } from 'vitest';
import { isInvalidOptionError } from '../src/errors/hitch-error.js';
import { isTimeoutError } from '../src/errors/resilience-errors.js';
import { LIFECYCLE_DEFAULTS, ShutdownPriority, createLifecycle } from '../src/lifecycle/index.js';
import type { LifecycleLogger, LifecycleOptions, ProcessLike, ShutdownReport } from '../src/lifecycle/index.js';
import { FakeClock } from './support/fake-clock.js';
import { deferred, settle } from './support/async.js';

class RecordingLogger implements LifecycleLogger {
  readonly entries: { level: 'info' | 'warn' | 'error'; obj: object; msg: string }[] = [];
  info(obj: object, msg: string): void {
    this.entries.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  messages(level?: 'info' | 'warn' | 'error'): string[] {
    return this.entries.filter((entry) => level === undefined || entry.level === level).map((entry) => entry.msg);
  }
}

type Listener = (signal: NodeJS.Signals) => void;

class FakeProcess implements ProcessLike {
  readonly listeners = new Map<NodeJS.Signals, Set<Listener>>();
  readonly exits: number[] = [];
  on(signal: NodeJS.Signals, listener: Listener): void {
    const set = this.listeners.get(signal) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(signal, set);
  }
  off(signal: NodeJS.Signals, listener: Listener): void {
    this.listeners.get(signal)?.delete(listener);
  }
  exit(code: number): void {
    this.exits.push(code);
  }
  count(signal: NodeJS.Signals): number {
    return this.listeners.get(signal)?.size ?? 0;
  }
  emit(signal: NodeJS.Signals): void {
    for (const listener of [...(this.listeners.get(signal) ?? [])]) listener(signal);
  }
}

function setup(options: LifecycleOptions = {}) {
  const clock = new FakeClock();
  const logger = new RecordingLogger();
  const proc = new FakeProcess();
  const lifecycle = createLifecycle({ preStopDelayMs: 100, hookTimeoutMs: 1000, shutdownTimeoutMs: 5000, ...options }, { clock, logger, process: proc });
  return { clock, logger, proc, lifecycle };
}

/** Captures a promise's outcome without awaiting it. */
function track<T>(promise: Promise<T>): { readonly done: boolean; readonly value: T | undefined } {
  const state: { done: boolean; value: T | undefined } = { done: false, value: undefined };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

describe('shutdown sequence', () => {
  it('turns readiness false at once, waits preStopDelayMs on the clock, then runs hooks', async () => {
    const { clock, lifecycle } = setup();
    const calls: string[] = [];
    lifecycle.onShutdown('server', () => void calls.push('server'), { priority: ShutdownPriority.StopAccepting });
    expect(lifecycle.state).toBe('running');
    const report = track(lifecycle.shutdown());
    expect(lifecycle.state).toBe('draining');
    expect((await lifecycle.health.readiness()).status).toBe('fail');
    clock.advance(99);
    await settle();
    expect(calls).toEqual([]);
    clock.advance(1);
    await settle();
    expect(calls).toEqual(['server']);
    expect(report.done).toBe(true);
    expect(lifecycle.state).toBe('stopped');
    expect(report.value).toEqual({
      reason: 'shutdown() called',
      ok: true,
      timedOut: false,
      durationMs: 100,
      hooks: [{ name: 'server', priority: 10, status: 'ok', durationMs: 0 }],
    });
  });

  it('runs hooks by priority, lowest first; equal priorities concurrently; a group after the previous settled', async () => {
    const { clock, lifecycle } = setup();
    const events: string[] = [];
    const gates = { a: deferred(), b: deferred(), drain: deferred(), db: deferred() };
    const hook = (name: keyof typeof gates) => async () => {
      events.push(`start ${name}`);
      await gates[name].promise;
      events.push(`end ${name}`);
    };
    lifecycle.onShutdown('telemetry', () => void events.push('telemetry'), { priority: ShutdownPriority.FlushTelemetry });
    lifecycle.onShutdown('db', hook('db')); // default priority 50
    lifecycle.onShutdown('drain', hook('drain'), { priority: ShutdownPriority.DrainTasks });
    lifecycle.onShutdown('a', hook('a'), { priority: 10 });
    lifecycle.onShutdown('b', hook('b'), { priority: 10 });

    const report = lifecycle.shutdown();
    clock.advance(100);
    await settle();
    expect(events).toEqual(['start a', 'start b']);
    gates.b.resolve();
    await settle();
    expect(events).toEqual(['start a', 'start b', 'end b']);
    gates.a.resolve();
    await settle();
    expect(events.slice(3)).toEqual(['end a', 'start drain']);
    gates.drain.resolve();
    await settle();
    expect(events.slice(5)).toEqual(['end drain', 'start db']);
    gates.db.resolve();
    const result = await report;
    expect(events.slice(7)).toEqual(['end db', 'telemetry']);
    expect(result.hooks.map((h) => [h.name, h.priority, h.status])).toEqual([
      ['a', 10, 'ok'],
      ['b', 10, 'ok'],
      ['drain', 20, 'ok'],
      ['db', 50, 'ok'],
      ['telemetry', 100, 'ok'],
    ]);
    expect(result.ok).toBe(true);
  });

  it('accepts negative and fractional priorities', async () => {
    const { clock, lifecycle } = setup({ preStopDelayMs: 0 });
    const calls: string[] = [];
    lifecycle.onShutdown('z', () => void calls.push('z'), { priority: 0.5 });
    lifecycle.onShutdown('first', () => void calls.push('first'), { priority: -1 });
    clock.advance(0);
    await lifecycle.shutdown();
    expect(calls).toEqual(['first', 'z']);
  });

  it('logs each step', async () => {
    const { clock, logger, lifecycle } = setup();
    lifecycle.onShutdown('server', () => undefined, { priority: 10 });
    lifecycle.onShutdown('telemetry', () => undefined, { priority: 100 });
    const report = lifecycle.shutdown('deploy');
    clock.advance(100);
    await report;
    expect(logger.messages()).toEqual([
      'shutdown started: readiness is now false',
      'waiting 100 ms for load balancers to stop sending traffic',
      'running shutdown hooks of priority 10',
      'shutdown hook "server" done',
      'running shutdown hooks of priority 100',
      'shutdown hook "telemetry" done',
      'shutdown complete',
    ]);
    expect(logger.entries[0]?.obj).toMatchObject({ reason: 'deploy' });
  });

  it('skips the pre-stop timer when preStopDelayMs is 0', async () => {
    const { clock, lifecycle } = setup({ preStopDelayMs: 0 });
    const calls: string[] = [];
    lifecycle.onShutdown('x', () => void calls.push('x'));
    const report = track(lifecycle.shutdown());
    await settle();
    expect(calls).toEqual(['x']);
    expect(report.value?.ok).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs nothing and reports ok with no hooks', async () => {
    const { clock, lifecycle } = setup();
    const report = lifecycle.shutdown();
    clock.advance(100);
    expect(await report).toMatchObject({ ok: true, timedOut: false, hooks: [] });
  });
});

describe('shutdown failures and timeouts', () => {
  it('a hook that throws or rejects counts as failed; later groups still run', async () => {
    const { clock, logger, lifecycle } = setup();
    const calls: string[] = [];
    lifecycle.onShutdown(
      'sync',
      () => {
        throw new Error('sync boom');
      },
      { priority: 10 },
    );
    lifecycle.onShutdown('async', () => Promise.reject(new Error('async boom')), { priority: 10 });
    lifecycle.onShutdown('later', () => void calls.push('later'), { priority: 20 });
    const report = lifecycle.shutdown();
    clock.advance(100);
    const result = await report;
    expect(calls).toEqual(['later']);
    expect(result.ok).toBe(false);
    expect(result.timedOut).toBe(false);
    expect(result.hooks).toEqual([
      { name: 'sync', priority: 10, status: 'failed', durationMs: 0, error: 'sync boom' },
      { name: 'async', priority: 10, status: 'failed', durationMs: 0, error: 'async boom' },
      { name: 'later', priority: 20, status: 'ok', durationMs: 0 },
    ]);
    expect(logger.messages('error')).toEqual([
      'shutdown hook "sync" failed: sync boom',
      'shutdown hook "async" failed: async boom',
      'shutdown finished with failures',
    ]);
  });

  it('aborts a hook that exceeds its timeoutMs, counts it as timed out and moves on', async () => {
    const { clock, logger, lifecycle } = setup();
    let signal: AbortSignal | undefined;
    const calls: string[] = [];
    lifecycle.onShutdown(
      'hung',
      (s) => {
        signal = s;
        return new Promise<void>(() => undefined);
      },
      { priority: 10, timeoutMs: 300 },
    );
    lifecycle.onShutdown('next', () => void calls.push('next'), { priority: 20 });
    const report = track(lifecycle.shutdown());
    clock.advance(100);
    await settle();
    clock.advance(299);
    await settle();
    expect(report.done).toBe(false);
    expect(signal?.aborted).toBe(false);
    clock.advance(1);
    await settle();
    expect(signal?.aborted).toBe(true);
    expect(isTimeoutError(signal?.reason)).toBe(true);
    expect(calls).toEqual(['next']);
    expect(report.value?.hooks[0]).toEqual({
      name: 'hung',
      priority: 10,
      status: 'timed-out',
      durationMs: 300,
      error: 'shutdown hook "hung" timed out after 300 ms',
    });
    expect(report.value?.ok).toBe(false);
    expect(report.value?.timedOut).toBe(false);
    expect(logger.messages('error')).toContain('shutdown hook "hung" timed out after 300 ms');
  });

  it('defaults each hook timeout to hookTimeoutMs', async () => {
    const { clock, lifecycle } = setup({ hookTimeoutMs: 700 });
    lifecycle.onShutdown('hung', () => new Promise<void>(() => undefined));
    const report = track(lifecycle.shutdown());
    clock.advance(100);
    await settle();
    clock.advance(699);
    await settle();
    expect(report.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(report.value?.hooks[0]?.status).toBe('timed-out');
  });

  it('bounds the whole shutdown by shutdownTimeoutMs: running hooks abort, later ones are skipped', async () => {
    const { clock, logger, lifecycle } = setup({ preStopDelayMs: 100, shutdownTimeoutMs: 1000 });
    let signal: AbortSignal | undefined;
    let skippedCalled = false;
    lifecycle.onShutdown('quick', () => undefined, { priority: 10 });
    lifecycle.onShutdown(
      'slow',
      (s) => {
        signal = s;
        return new Promise<void>(() => undefined);
      },
      { priority: 20, timeoutMs: 60_000 },
    );
    lifecycle.onShutdown('never', () => void (skippedCalled = true), { priority: 100 });
    const report = track(lifecycle.shutdown());
    clock.advance(100);
    await settle();
    clock.advance(899);
    await settle();
    expect(report.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(report.value).toEqual<ShutdownReport>({
      reason: 'shutdown() called',
      ok: false,
      timedOut: true,
      durationMs: 1000,
      hooks: [
        { name: 'quick', priority: 10, status: 'ok', durationMs: 0 },
        { name: 'slow', priority: 20, status: 'timed-out', durationMs: 900, error: 'shutdown timed out after 1000 ms' },
        { name: 'never', priority: 100, status: 'skipped', durationMs: 0 },
      ],
    });
    expect(signal?.aborted).toBe(true);
    expect(skippedCalled).toBe(false);
    expect(logger.messages('error')).toEqual([
      'shutdown hook "slow" aborted: shutdown timed out after 1000 ms',
      'shutdown timed out after 1000 ms',
      'shutdown finished with failures',
    ]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('shutdown(): idempotence and registration', () => {
  it('returns the same promise on a second call, and runs hooks once', async () => {
    const { clock, lifecycle } = setup();
    let runs = 0;
    lifecycle.onShutdown('x', () => void runs++);
    const first = lifecycle.shutdown('first');
    const second = lifecycle.shutdown('second');
    expect(second).toBe(first);
    clock.advance(100);
    const report = await first;
    expect(lifecycle.shutdown()).toBe(first);
    expect(report.reason).toBe('first');
    expect(runs).toBe(1);
  });

  it('does not run an unregistered hook; unregister is idempotent and does not remove a newer hook of the same name', async () => {
    const { clock, lifecycle } = setup();
    const calls: string[] = [];
    const unregister = lifecycle.onShutdown('x', () => void calls.push('old'));
    unregister();
    unregister();
    lifecycle.onShutdown('x', () => void calls.push('new'));
    unregister();
    const report = lifecycle.shutdown();
    clock.advance(100);
    await report;
    expect(calls).toEqual(['new']);
  });

  it('runs hooks registered during the pre-stop delay; warns about (and skips) those registered after hooks started', async () => {
    const { clock, logger, lifecycle } = setup();
    const calls: string[] = [];
    const gate = deferred();
    lifecycle.onShutdown('first', () => gate.promise, { priority: 10 });
    const report = lifecycle.shutdown();
    lifecycle.onShutdown('during delay', () => void calls.push('during delay'), { priority: 20 });
    clock.advance(100);
    await settle();
    const unregister = lifecycle.onShutdown('too late', () => void calls.push('too late'), { priority: 30 });
    unregister();
    gate.resolve();
    await report;
    expect(calls).toEqual(['during delay']);
    expect(logger.messages('warn')).toEqual(['shutdown hook "too late" was registered after the shutdown hooks started: it will not run']);
  });

  it('rejects a duplicate hook name', () => {
    const { lifecycle } = setup();
    lifecycle.onShutdown('db', () => undefined);
    expect(() => lifecycle.onShutdown('db', () => undefined)).toThrow(/a shutdown hook named "db" is already registered/);
  });

  it('keeps no timer while idle, and none after the shutdown', async () => {
    const { clock, lifecycle } = setup();
    lifecycle.onShutdown('x', async () => undefined);
    lifecycle.handleSignals();
    expect(clock.pendingTimers).toBe(0);
    const report = lifecycle.shutdown();
    expect(clock.pendingTimers).toBe(2); // the overall timeout and the pre-stop delay
    clock.advance(100);
    await report;
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('signals and exit codes', () => {
  it('installs listeners for SIGTERM and SIGINT by default, and removes them on uninstall', () => {
    const { proc, lifecycle } = setup();
    const uninstall = lifecycle.handleSignals();
    expect(proc.count('SIGTERM')).toBe(1);
    expect(proc.count('SIGINT')).toBe(1);
    uninstall();
    uninstall();
    expect(proc.count('SIGTERM')).toBe(0);
    expect(proc.count('SIGINT')).toBe(0);
    lifecycle.handleSignals({ signals: ['SIGUSR2', 'SIGUSR2'] });
    expect(proc.count('SIGUSR2')).toBe(1);
    expect(proc.count('SIGTERM')).toBe(0);
  });

  it('refuses to install twice', () => {
    const { lifecycle } = setup();
    lifecycle.handleSignals();
    expect(() => lifecycle.handleSignals()).toThrow(/already handled/);
  });

  it('on a signal runs the shutdown, then exits with 0', async () => {
    const { clock, proc, logger, lifecycle } = setup();
    const calls: string[] = [];
    lifecycle.onShutdown('server', () => void calls.push('server'));
    lifecycle.handleSignals();
    proc.emit('SIGTERM');
    expect(lifecycle.state).toBe('draining');
    await settle();
    expect(proc.exits).toEqual([]);
    clock.advance(100);
    await settle();
    expect(calls).toEqual(['server']);
    expect(proc.exits).toEqual([0]);
    expect(logger.messages()[0]).toBe('received SIGTERM: shutting down');
    expect(logger.messages().at(-1)).toBe('exiting with code 0');
    expect((await lifecycle.shutdown()).reason).toBe('SIGTERM');
  });

  it('exits with 1 when a hook fails', async () => {
    const { clock, proc, lifecycle } = setup();
    lifecycle.onShutdown('bad', () => Promise.reject(new Error('nope')));
    lifecycle.handleSignals();
    proc.emit('SIGINT');
    clock.advance(100);
    await settle();
    expect(proc.exits).toEqual([1]);
  });

  it('exits with 1 when a hook times out', async () => {
    const { clock, proc, lifecycle } = setup();
    lifecycle.onShutdown('hung', () => new Promise<void>(() => undefined), { timeoutMs: 50 });
    lifecycle.handleSignals();
    proc.emit('SIGTERM');
    clock.advance(100);
    await settle();
    clock.advance(50);
    await settle();
    expect(proc.exits).toEqual([1]);
  });

  it('a second signal during the shutdown forces exit(1) at once, and logs it', async () => {
    const { clock, proc, logger, lifecycle } = setup();
    const gate = deferred();
    lifecycle.onShutdown('slow', () => gate.promise);
    lifecycle.handleSignals();
    proc.emit('SIGTERM');
    clock.advance(100);
    await settle();
    proc.emit('SIGINT');
    expect(proc.exits).toEqual([1]);
    expect(logger.messages('error')).toEqual(['received SIGINT again during shutdown: exiting now with code 1']);
    // The shutdown itself goes on (in a real process, exit has ended it): it does not exit again.
    gate.resolve();
    await lifecycle.shutdown();
    await settle();
    expect(proc.exits).toEqual([1]);
  });

  it('shutdown() alone never exits; a signal during it joins it and exits when it is done', async () => {
    const { clock, proc, lifecycle } = setup();
    lifecycle.handleSignals();
    const report = lifecycle.shutdown('rollout');
    clock.advance(50);
    proc.emit('SIGTERM');
    await settle();
    expect(proc.exits).toEqual([]);
    clock.advance(50);
    await report;
    await settle();
    expect(proc.exits).toEqual([0]);

    const other = setup();
    const done = other.lifecycle.shutdown();
    other.clock.advance(100);
    await done;
    await settle();
    expect(other.proc.exits).toEqual([]);
  });

  it('after uninstall, signals are ignored by the lifecycle', async () => {
    const { proc, lifecycle } = setup();
    lifecycle.handleSignals()();
    proc.emit('SIGTERM');
    await settle();
    expect(lifecycle.state).toBe('running');
  });
});

describe('options', () => {
  it('has Kubernetes-sized defaults', () => {
    expect(LIFECYCLE_DEFAULTS).toEqual({ preStopDelayMs: 5000, hookTimeoutMs: 10_000, shutdownTimeoutMs: 25_000 });
    expect(ShutdownPriority).toEqual({ StopAccepting: 10, DrainTasks: 20, Default: 50, FlushTelemetry: 100 });
  });

  it('uses the defaults', async () => {
    const clock = new FakeClock();
    const lifecycle = createLifecycle(undefined, { clock, logger: new RecordingLogger(), process: new FakeProcess() });
    const calls: string[] = [];
    lifecycle.onShutdown('x', () => void calls.push('x'));
    const report = lifecycle.shutdown();
    clock.advance(4999);
    await settle();
    expect(calls).toEqual([]);
    clock.advance(1);
    await report;
    expect(calls).toEqual(['x']);
  });

  const invalid: [string, () => unknown, string][] = [
    ['negative preStopDelayMs', () => createLifecycle({ preStopDelayMs: -1 }), 'lifecycle.preStopDelayMs: should be a non-negative number of milliseconds (at most 2147483647), got -1'],
    ['NaN preStopDelayMs', () => createLifecycle({ preStopDelayMs: NaN }), 'lifecycle.preStopDelayMs: should be a non-negative number of milliseconds (at most 2147483647), got NaN'],
    ['string hookTimeoutMs', () => createLifecycle({ hookTimeoutMs: '5' as never }), 'lifecycle.hookTimeoutMs: should be a positive number of milliseconds (at most 2147483647), got "5"'],
    ['zero shutdownTimeoutMs', () => createLifecycle({ shutdownTimeoutMs: 0 }), 'lifecycle.shutdownTimeoutMs: should be a positive number'],
    ['too large shutdownTimeoutMs', () => createLifecycle({ shutdownTimeoutMs: 2 ** 31 }), 'lifecycle.shutdownTimeoutMs: should be a positive number'],
    ['preStopDelayMs not below shutdownTimeoutMs', () => createLifecycle({ preStopDelayMs: 1000, shutdownTimeoutMs: 1000 }), 'lifecycle.preStopDelayMs: should be less than lifecycle.shutdownTimeoutMs (1000), or no hook would run, got 1000'],
    ['options not an object', () => createLifecycle(5 as never), 'lifecycle: should be an options object, got 5'],
    ['empty hook name', () => createLifecycle().onShutdown(' ', () => undefined), 'lifecycle.onShutdown.name: should be a non-empty string'],
    ['hook not a function', () => createLifecycle().onShutdown('x', null as never), 'lifecycle.onShutdown("x").fn: should be a function, got null'],
    ['NaN priority', () => createLifecycle().onShutdown('x', () => undefined, { priority: NaN }), 'lifecycle.onShutdown("x").priority: should be a finite number, got NaN'],
    ['negative hook timeoutMs', () => createLifecycle().onShutdown('x', () => undefined, { timeoutMs: -5 }), 'lifecycle.onShutdown("x").timeoutMs: should be a positive number'],
    ['empty signals', () => createLifecycle().handleSignals({ signals: [] }), "lifecycle.handleSignals.signals: should be a non-empty array of signal names like 'SIGTERM', got an array"],
    ['bad signal name', () => createLifecycle().handleSignals({ signals: ['TERM' as NodeJS.Signals] }), 'lifecycle.handleSignals.signals'],
    ['empty shutdown reason', () => createLifecycle().shutdown(''), 'lifecycle.shutdown.reason: should be a non-empty string'],
  ];
  it.each(invalid)('rejects %s', (_label, call, message) => {
    let thrown: unknown;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionError(thrown)).toBe(true);
    expect((thrown as Error).message).toContain(message);
  });
});
