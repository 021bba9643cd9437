import { describe, expect, it } from 'vitest';
import { isInvalidOptionError } from '../src/errors/hitch-error.js';
import { createLifecycle } from '../src/lifecycle/index.js';
import type { HealthReport, LifecycleLogger, ProcessLike } from '../src/lifecycle/index.js';
import { FakeClock } from './support/fake-clock.js';
import { deferred, settle } from './support/async.js';

const silent: LifecycleLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const noProcess: ProcessLike = { on: () => undefined, off: () => undefined, exit: () => undefined };

function setup(options?: { preStopDelayMs?: number }) {
  const clock = new FakeClock();
  const lifecycle = createLifecycle({ preStopDelayMs: options?.preStopDelayMs ?? 0, shutdownTimeoutMs: 1000 }, { clock, logger: silent, process: noProcess });
  return { clock, lifecycle, health: lifecycle.health };
}

/** Captures a promise's outcome without awaiting it, to tell "pending" from "settled". */
function track<T>(promise: Promise<T>): { readonly done: boolean; readonly value: T | undefined } {
  const state: { done: boolean; value: T | undefined } = { done: false, value: undefined };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

describe('health: statuses', () => {
  it('passes with every check passing, in a JSON-ready shape with details', async () => {
    const { health } = setup();
    health.register('db', async () => ({ connections: 3 }));
    health.register('cache', () => undefined);
    const report = await health.readiness();
    expect(report).toEqual({
      status: 'pass',
      checks: {
        db: { status: 'pass', durationMs: 0, details: { connections: 3 } },
        cache: { status: 'pass', durationMs: 0 },
      },
    });
    expect(Object.keys(report.checks)).toEqual(['db', 'cache']);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('passes with no checks', async () => {
    const { health } = setup();
    expect(await health.readiness()).toEqual({ status: 'pass', checks: {} });
    expect(await health.liveness()).toEqual({ status: 'pass', checks: {} });
  });

  it('fails readiness, never liveness, when a critical readiness check fails', async () => {
    const { health } = setup();
    health.register('db', async () => {
      throw new Error('connection refused');
    });
    health.register('loop', () => undefined, { kind: 'liveness' });
    expect(await health.readiness()).toEqual({
      status: 'fail',
      checks: { db: { status: 'fail', durationMs: 0, error: 'connection refused' } },
    });
    expect(await health.liveness()).toEqual({ status: 'pass', checks: { loop: { status: 'pass', durationMs: 0 } } });
  });

  it('warns (still ready) when only a non-critical check fails', async () => {
    const { health } = setup();
    health.register('db', () => undefined);
    health.register('cache', () => Promise.reject(new Error('cache down')), { critical: false });
    const report = await health.readiness();
    expect(report.status).toBe('warn');
    expect(report.checks.cache).toEqual({ status: 'warn', durationMs: 0, error: 'cache down' });
    expect(report.checks.db?.status).toBe('pass');
  });

  it('fails when a critical and a non-critical check both fail', async () => {
    const { health } = setup();
    health.register('cache', () => Promise.reject(new Error('cache down')), { critical: false });
    health.register('db', () => Promise.reject(new Error('db down')));
    const report = await health.readiness();
    expect(report.status).toBe('fail');
    expect(report.checks.cache?.status).toBe('warn');
    expect(report.checks.db?.status).toBe('fail');
  });

  it('fails a check that throws synchronously, or throws a non-Error', async () => {
    const { health } = setup();
    health.register('sync', () => {
      throw new TypeError('boom');
    });
    health.register('string', () => Promise.reject('plain string'));
    health.register('object', () => Promise.reject({ code: 42 }));
    const report = await health.readiness();
    expect(report.checks).toEqual({
      sync: { status: 'fail', durationMs: 0, error: 'boom' },
      string: { status: 'fail', durationMs: 0, error: 'plain string' },
      object: { status: 'fail', durationMs: 0, error: '{"code":42}' },
    });
  });

  it('runs only the checks of the probe asked: readiness, liveness or both', async () => {
    const { health } = setup();
    const calls: string[] = [];
    health.register('ready-only', () => void calls.push('ready-only'));
    health.register('live-only', () => void calls.push('live-only'), { kind: 'liveness' });
    health.register('both', () => void calls.push('both'), { kind: 'both' });
    expect(Object.keys((await health.liveness()).checks)).toEqual(['live-only', 'both']);
    expect(calls).toEqual(['live-only', 'both']);
    calls.length = 0;
    expect(Object.keys((await health.readiness()).checks)).toEqual(['ready-only', 'both']);
    expect(calls).toEqual(['ready-only', 'both']);
  });

  it('a failing critical liveness check fails liveness', async () => {
    const { health } = setup();
    health.register('loop', () => Promise.reject(new Error('stuck')), { kind: 'both' });
    expect((await health.liveness()).status).toBe('fail');
    expect((await health.readiness()).status).toBe('fail');
  });

  it('measures durations on the clock', async () => {
    const { clock, health } = setup();
    health.register('slow', () => new Promise<void>((resolve) => clock.setTimeout(resolve, 250)));
    const report = track(health.readiness());
    await settle();
    clock.advance(250);
    await settle();
    expect(report.value).toEqual({ status: 'pass', checks: { slow: { status: 'pass', durationMs: 250 } } });
  });
});

describe('health: timeouts and concurrency', () => {
  it('fails a check that exceeds its timeoutMs, aborting its signal, and clears the timer', async () => {
    const { clock, health } = setup();
    let signal: AbortSignal | undefined;
    health.register(
      'hung',
      (s) => {
        signal = s;
        return new Promise<void>(() => undefined);
      },
      { timeoutMs: 200 },
    );
    const report = track(health.readiness());
    await settle();
    expect(clock.pendingTimers).toBe(1);
    clock.advance(199);
    await settle();
    expect(report.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(report.value).toEqual({
      status: 'fail',
      checks: { hung: { status: 'fail', durationMs: 200, error: 'health check "hung" timed out after 200 ms' } },
    });
    expect(signal?.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('defaults timeoutMs to 1000 ms', async () => {
    const { clock, health } = setup();
    health.register('hung', () => new Promise<void>(() => undefined), { critical: false });
    const report = track(health.readiness());
    await settle();
    clock.advance(999);
    await settle();
    expect(report.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(report.value?.status).toBe('warn');
    expect(report.value?.checks.hung?.error).toMatch(/timed out after 1000 ms$/);
  });

  it('clears the timer as soon as the check settles; synchronous checks set none', async () => {
    const { clock, health } = setup();
    const pending = deferred();
    health.register('async', () => pending.promise);
    health.register('sync', () => undefined);
    const report = track(health.readiness());
    await settle();
    expect(clock.pendingTimers).toBe(1);
    pending.resolve();
    await settle();
    expect(report.value?.status).toBe('pass');
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs checks concurrently', async () => {
    const { health } = setup();
    const started: string[] = [];
    const a = deferred();
    const b = deferred();
    health.register('a', () => {
      started.push('a');
      return a.promise;
    });
    health.register('b', () => {
      started.push('b');
      return b.promise;
    });
    const report = track(health.readiness());
    await settle();
    expect(started).toEqual(['a', 'b']);
    b.resolve();
    await settle();
    expect(report.done).toBe(false);
    a.resolve();
    await settle();
    expect(report.value?.status).toBe('pass');
  });
});

describe('health: readiness switches', () => {
  it('setReady(false) fails readiness with a reason, without running checks; setReady(true) restores it', async () => {
    const { health } = setup();
    let calls = 0;
    health.register('db', () => void calls++, { kind: 'both' });
    health.setReady(false);
    expect(await health.readiness()).toEqual({ status: 'fail', reason: 'not ready', checks: {} });
    expect(calls).toBe(0);
    expect((await health.liveness()).status).toBe('pass');
    health.setReady(true);
    expect(await health.readiness()).toEqual({ status: 'pass', checks: { db: { status: 'pass', durationMs: 0 } } });
  });

  it('fails readiness with reason "draining" at once during a shutdown, then "stopped"; liveness still runs', async () => {
    const { clock, lifecycle, health } = setup({ preStopDelayMs: 500 });
    let readinessCalls = 0;
    health.register('db', () => void readinessCalls++);
    health.register('loop', () => undefined, { kind: 'liveness' });
    const done = lifecycle.shutdown();
    expect(lifecycle.state).toBe('draining');
    expect(await health.readiness()).toEqual({ status: 'fail', reason: 'draining', checks: {} });
    expect(readinessCalls).toBe(0);
    expect(await health.liveness()).toEqual({ status: 'pass', checks: { loop: { status: 'pass', durationMs: 0 } } });
    health.setReady(true);
    expect((await health.readiness()).reason).toBe('draining');
    clock.advance(500);
    await done;
    expect(await health.readiness()).toEqual({ status: 'fail', reason: 'stopped', checks: {} });
    expect(readinessCalls).toBe(0);
  });
});

describe('health: registration', () => {
  it('unregisters a check (idempotently); a later check of the same name is not removed by a stale unregister', async () => {
    const { health } = setup();
    const unregister = health.register('db', () => undefined);
    unregister();
    unregister();
    expect(await health.readiness()).toEqual({ status: 'pass', checks: {} });
    health.register('db', () => Promise.reject(new Error('new check')));
    unregister();
    expect((await health.readiness()).checks.db?.error).toBe('new check');
  });

  it('rejects a duplicate name', () => {
    const { health } = setup();
    health.register('db', () => undefined);
    expect(() => health.register('db', () => undefined, { kind: 'liveness' })).toThrow(/a health check named "db" is already registered/);
  });

  it.each<[string, () => void, string]>([
    ['empty name', () => setup().health.register('', () => undefined), 'health.register.name: should be a non-empty string, got ""'],
    ['check not a function', () => setup().health.register('x', 'nope' as never), 'health.register("x").check: should be a function, got "nope"'],
    ['timeoutMs 0', () => setup().health.register('x', () => undefined, { timeoutMs: 0 }), 'health.register("x").timeoutMs: should be a positive number of milliseconds (at most 2147483647), got 0'],
    ['timeoutMs Infinity', () => setup().health.register('x', () => undefined, { timeoutMs: Infinity }), 'got Infinity'],
    ['critical not boolean', () => setup().health.register('x', () => undefined, { critical: 'yes' as never }), 'health.register("x").critical: should be a boolean, got "yes"'],
    ['unknown kind', () => setup().health.register('x', () => undefined, { kind: 'startup' as never }), `health.register("x").kind: should be 'readiness', 'liveness' or 'both', got "startup"`],
    ['setReady not boolean', () => setup().health.setReady(1 as never), 'health.setReady: expects a boolean, got 1'],
  ])('validates: %s', (_label, call, message) => {
    let thrown: unknown;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionError(thrown)).toBe(true);
    expect((thrown as Error).message).toContain(message);
  });

  it('keeps no timer while idle', async () => {
    const { clock, health } = setup();
    health.register('db', async () => undefined);
    const report: HealthReport = await health.readiness();
    expect(report.status).toBe('pass');
    expect(clock.pendingTimers).toBe(0);
  });
});
