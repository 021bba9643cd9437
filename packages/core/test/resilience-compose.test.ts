import { describe, expect, expectTypeOf, it } from 'vitest';
import { isTimeoutError } from '../src/errors/resilience-errors.js';
import type { Policy, PolicyExecuteOptions } from '../src/policy/policy.js';
import { bulkhead } from '../src/resilience/bulkhead.js';
import { circuitBreaker } from '../src/resilience/circuit-breaker.js';
import type { NestedNext } from '../src/resilience/compose.js';
import { ComposedPolicy, compose, executeNested } from '../src/resilience/compose.js';
import { fallback } from '../src/resilience/fallback.js';
import { retry } from '../src/resilience/retry.js';
import { timeout } from '../src/resilience/timeout.js';
import type { ResilienceInstrumentation } from '../src/resilience/types.js';
import { FakeClock } from './support/fake-clock.js';
import { flush, never, track } from './support/async.js';

function recorder(log: string[]): ResilienceInstrumentation {
  return {
    stateChanged: (breaker, from, to) => log.push(`stateChanged ${breaker} ${from}->${to}`),
    retryAttempt: (policy, attempt, outcome, delayMs) => log.push(`retryAttempt ${policy} #${attempt} ${outcome} ${String(delayMs)}`),
    timedOut: (policy, ms) => log.push(`timedOut ${policy} ${ms}`),
    bulkheadRejected: (policy) => log.push(`bulkheadRejected ${policy}`),
    breakerRejected: (breaker, state) => log.push(`breakerRejected ${breaker} ${state}`),
  };
}

/**
 * A policy written against the bare `Policy` interface (like a breaker from elsewhere): logs
 * entering and leaving, gives `fn` a signal of its own that follows the caller's.
 */
function foreign(name: string, log: string[], received: Array<PolicyExecuteOptions | undefined> = []): Policy & { name: string } {
  return {
    name,
    async execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T> {
      received.push(options);
      log.push(`${name}:enter`);
      const controller = new AbortController();
      const caller = options?.signal;
      const onAbort = (): void => controller.abort(caller?.reason);
      caller?.addEventListener('abort', onAbort, { once: true });
      try {
        const value = await fn(controller.signal);
        log.push(`${name}:exit`);
        return value;
      } catch (error) {
        log.push(`${name}:throw`);
        throw error;
      } finally {
        caller?.removeEventListener('abort', onAbort);
      }
    },
  };
}

/** The same, implementing the composition fast path as well. */
function foreignNested(name: string, log: string[]): Policy & { name: string; [executeNested]: <T>(next: NestedNext<T>, options: PolicyExecuteOptions | undefined) => Promise<T> } {
  const base = foreign(name, log);
  return {
    name,
    execute: base.execute.bind(base),
    async [executeNested]<T>(next: NestedNext<T>, options: PolicyExecuteOptions | undefined): Promise<T> {
      log.push(`${name}:enter nested`);
      const value = await next(options);
      log.push(`${name}:exit`);
      return value;
    },
  };
}

describe('compose: order', () => {
  it('runs the first policy outermost', async () => {
    const log: string[] = [];
    const policy = compose(foreign('a', log), foreign('b', log), foreign('c', log));
    await expect(
      policy.execute(async () => {
        log.push('work');
        return 1;
      }),
    ).resolves.toBe(1);
    expect(log).toEqual(['a:enter', 'b:enter', 'c:enter', 'work', 'c:exit', 'b:exit', 'a:exit']);
  });

  it("hands each policy the next outer one's signal and the caller's deadline", async () => {
    const log: string[] = [];
    const received: Array<PolicyExecuteOptions | undefined> = [];
    const a = foreign('a', log, received);
    const b = foreign('b', log, received);
    const signals: AbortSignal[] = [];
    const caller = new AbortController();
    await compose(a, b).execute(async (signal) => signals.push(signal), { signal: caller.signal, deadline: 123 });
    expect(received[0]).toEqual({ signal: caller.signal, deadline: 123 });
    expect(received[1]?.deadline).toBe(123);
    expect(received[1]?.signal).toBeInstanceOf(AbortSignal);
    expect(received[1]?.signal).not.toBe(caller.signal);
    expect(signals[0]).not.toBe(received[1]?.signal);
  });

  it('retry(breaker(timeout(fn))): each retry goes through the breaker, each attempt has the timeout', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const instrumentation = recorder(log);
    const policy = compose(
      retry({ clock, instrumentation, backoff: { kind: 'constant', delayMs: 20 }, budget: false }),
      foreign('breaker', log),
      timeout({ timeoutMs: 50, clock, instrumentation }),
    );
    let attempt = 0;
    const call = track(
      policy.execute(async () => {
        attempt++;
        log.push(`work ${attempt}`);
        if (attempt === 1) return never();
        return 'ok';
      }),
    );
    clock.advance(50);
    await flush();
    clock.advance(20);
    await flush();
    expect(call.value).toBe('ok');
    expect(log).toEqual([
      'breaker:enter',
      'work 1',
      'timedOut timeout 50',
      'breaker:throw',
      'retryAttempt retry #1 retry 20',
      'breaker:enter',
      'work 2',
      'breaker:exit',
      'retryAttempt retry #2 success undefined',
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('flattens composed policies and names the result after its parts', async () => {
    const log: string[] = [];
    const inner = compose(foreign('a', log), foreign('b', log));
    const outer = compose(inner, foreign('c', log));
    expect(outer).toBeInstanceOf(ComposedPolicy);
    expect(outer.policies).toHaveLength(3);
    expect(outer.name).toBe('compose(a, b, c)');
    await outer.execute(async () => log.push('work'));
    expect(log).toEqual(['a:enter', 'b:enter', 'c:enter', 'work', 'c:exit', 'b:exit', 'a:exit']);
  });
});

describe('compose: signals', () => {
  it('gives user work its own signal on every attempt of every call, through the fast path too', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const policy = compose(retry({ clock, backoff: { kind: 'constant', delayMs: 0 }, budget: false }), foreignNested('breaker', log), bulkhead({ maxConcurrent: 10 }));
    const signals: AbortSignal[] = [];
    const fail = async (signal: AbortSignal): Promise<never> => {
      signals.push(signal);
      throw new Error('no');
    };
    await Promise.allSettled([policy.execute(fail), policy.execute(fail)]);
    expect(signals).toHaveLength(6);
    expect(new Set(signals).size).toBe(6);
    expect(log.filter((l) => l === 'breaker:enter nested')).toHaveLength(6);
  });

  it("aborts through every layer with the caller's reason, and only that call", async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const policy = compose(retry({ clock, budget: false }), foreign('breaker', log), timeout({ timeoutMs: 1_000, clock }));
    const signals: AbortSignal[] = [];
    const hang = (signal: AbortSignal): Promise<never> => {
      signals.push(signal);
      return never();
    };
    const a = new AbortController();
    const callA = track(policy.execute(hang, { signal: a.signal }));
    const callB = track(policy.execute(hang, { signal: new AbortController().signal }));
    await flush();
    const reason = new Error('user cancelled');
    a.abort(reason);
    await flush();
    expect(callA.error).toBe(reason);
    expect(signals[0]?.reason).toBe(reason);
    expect(signals[1]?.aborted).toBe(false);
    expect(callB.settled).toBe(false);
    clock.advance(999);
    await flush();
    expect(callB.settled).toBe(false);
    expect(clock.pendingTimers).toBe(1);
  });

  it('an abort during the backoff of a composed retry rejects at once and leaves no timer', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const policy = compose(retry({ clock, backoff: { kind: 'constant', delayMs: 5_000 }, budget: false }), foreignNested('breaker', log), timeout({ timeoutMs: 100, clock }));
    const controller = new AbortController();
    let attempts = 0;
    const call = track(
      policy.execute(
        async () => {
          attempts++;
          throw new Error('fail');
        },
        { signal: controller.signal },
      ),
    );
    await flush();
    expect(clock.pendingTimers).toBe(1);
    controller.abort(new Error('bye'));
    await flush();
    expect((call.error as Error).message).toBe('bye');
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    await flush();
    expect(attempts).toBe(1);
  });
});

describe('compose: deadline', () => {
  it("reaches the innermost timeout, which cuts the attempt at the caller's deadline", async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const policy = compose(retry({ clock, budget: false, instrumentation: recorder(log) }), foreignNested('breaker', log), timeout({ timeoutMs: 1_000, clock }));
    const call = track(policy.execute(never, { deadline: clock.now() + 30 }));
    clock.advance(30);
    await flush();
    expect(isTimeoutError(call.error)).toBe(true);
    expect((call.error as Error).message).toContain("caller's deadline");
    expect(log).toContain('retryAttempt retry #1 deadline undefined');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('compose: fallback', () => {
  it('an outermost fallback replaces the error once the retries are spent', async () => {
    const clock = new FakeClock();
    const policy = compose(fallback({ fallback: () => 'stale' as const }), retry({ clock, backoff: { kind: 'constant', delayMs: 0 }, budget: false }), timeout({ timeoutMs: 10, clock }));
    expectTypeOf(policy.execute(async () => 1)).toEqualTypeOf<Promise<number | 'stale'>>();
    let attempts = 0;
    await expect(
      policy.execute(async () => {
        attempts++;
        throw new Error('down');
      }),
    ).resolves.toBe('stale');
    expect(attempts).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('without a fallback the composed type is the work type', () => {
    const policy = compose(retry(), timeout({ timeoutMs: 10 }));
    expectTypeOf(policy.execute(async () => 1)).toEqualTypeOf<Promise<number>>();
    const asPolicy: Policy = policy;
    expect(asPolicy).toBe(policy);
  });
});

describe('compose: options', () => {
  it('needs at least one policy', () => {
    expect(() => compose()).toThrow('compose: should be given at least one policy, got none');
  });

  it('needs objects with execute', () => {
    expect(() => compose(retry(), {} as never)).toThrow('compose[1]: should be a policy with an execute(fn, options) method, got an object');
    expect(() => compose(null as never)).toThrow('compose[0]: should be a policy with an execute(fn, options) method, got null');
  });
});

describe('compose with a circuit breaker (its composition fast path)', () => {
  it('closed: each attempt still gets a signal of its own, from the inner timeout', async () => {
    const clock = new FakeClock();
    const policy = compose(retry({ clock, maxAttempts: 2, backoff: { kind: 'constant', delayMs: 0 }, budget: false }), circuitBreaker({ clock }), timeout({ clock, timeoutMs: 100 }));
    const signals: AbortSignal[] = [];
    let calls = 0;
    const pending = policy.execute(async (signal) => {
      signals.push(signal);
      if (++calls === 1) throw new Error('first fails');
      return 'ok';
    });
    await Promise.resolve();
    clock.advance(0);
    expect(await pending).toBe('ok');
    await policy.execute(async (signal) => {
      signals.push(signal);
      return 'again';
    });
    expect(new Set(signals).size).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('half-open: the probe timeout aborts the signal the inner policies see', async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ clock, minimumCalls: 1, openDurationMs: 1000, probeTimeoutMs: 50 });
    const policy = compose(breaker, timeout({ clock, timeoutMs: 10_000 }));
    await policy.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    expect(breaker.state).toBe('open');
    clock.advance(1000);
    let seen: AbortSignal | undefined;
    const probe = policy.execute((signal) => {
      seen = signal;
      return new Promise<never>(() => undefined);
    });
    clock.advance(50);
    await expect(probe).rejects.toSatisfy(isTimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(breaker.state).toBe('open');
    expect(clock.pendingTimers).toBe(0);
  });
});
