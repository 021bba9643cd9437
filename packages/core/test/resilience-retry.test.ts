import { describe, expect, it } from 'vitest';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  RetryBudgetExceededError,
  TimeoutError,
  isRetryBudgetExceededError,
  isTimeoutError,
} from '../src/errors/resilience-errors.js';
import { Backoff } from '../src/resilience/backoff.js';
import { compose } from '../src/resilience/compose.js';
import type { RetryOptions } from '../src/resilience/retry.js';
import { defaultRetryOn, retry } from '../src/resilience/retry.js';
import { RetryBudget, retryBudget } from '../src/resilience/retry-budget.js';
import { timeout } from '../src/resilience/timeout.js';
import { recorder as recordCalls } from './support/resilience-recorder.js';
import { FakeClock } from './support/fake-clock.js';
import { flush, never, track } from './support/async.js';

function recorder(): ReturnType<typeof recordCalls> & { attempts: () => unknown[][] } {
  const recorded = recordCalls();
  /** retryAttempt calls as [attempt, outcome, delayMs]. */
  const attempts = (): unknown[][] => recorded.calls.filter((c) => c[0] === 'retryAttempt').map((c) => [c[2], c[3], c[4]]);
  return { ...recorded, attempts };
}

/** Work that fails `failures` times, then resolves with the attempt number. */
function flaky(failures: number): { calls: () => number; fn: (signal: AbortSignal) => Promise<number> } {
  let count = 0;
  return {
    calls: () => count,
    fn: async () => {
      count++;
      if (count <= failures) throw new Error(`failure ${count}`);
      return count;
    },
  };
}

/** A retry on a fake clock, retrying at once and without a budget unless told otherwise. */
function setup(options: RetryOptions = {}): { clock: FakeClock; calls: unknown[][]; attempts: () => unknown[][]; policy: ReturnType<typeof retry> } {
  const clock = new FakeClock();
  const { calls, attempts, instrumentation } = recorder();
  const policy = retry({ clock, instrumentation, backoff: { kind: 'constant', delayMs: 0 }, budget: false, ...options });
  return { clock, calls, attempts, policy };
}

describe('retry: attempts', () => {
  it('resolves with the first success and reports every attempt', async () => {
    const { policy, attempts, clock, calls } = setup();
    const work = flaky(2);
    await expect(policy.execute(work.fn)).resolves.toBe(3);
    expect(work.calls()).toBe(3);
    expect(attempts()).toEqual([
      [1, 'retry', 0],
      [2, 'retry', 0],
      [3, 'success', undefined],
    ]);
    expect(calls[0]?.[1]).toBe('retry');
    expect((calls[0]?.[5] as Error).message).toBe('failure 1');
    expect(clock.pendingTimers).toBe(0);
  });

  it("rejects with the last attempt's error once maxAttempts is reached", async () => {
    const { policy, attempts } = setup({ maxAttempts: 4 });
    const work = flaky(10);
    await expect(policy.execute(work.fn)).rejects.toThrow('failure 4');
    expect(work.calls()).toBe(4);
    expect(attempts().map((a) => a[1])).toEqual(['retry', 'retry', 'retry', 'exhausted']);
  });

  it('makes one attempt with maxAttempts 1', async () => {
    const { policy, attempts } = setup({ maxAttempts: 1 });
    const work = flaky(1);
    await expect(policy.execute(work.fn)).rejects.toThrow('failure 1');
    expect(attempts()).toEqual([[1, 'exhausted', undefined]]);
  });

  it('defaults to 3 attempts', async () => {
    const { policy } = setup({ maxAttempts: undefined });
    expect(policy.maxAttempts).toBe(3);
    expect(policy.name).toBe('retry');
    const work = flaky(5);
    await expect(policy.execute(work.fn)).rejects.toThrow('failure 3');
  });

  it('waits the backoff delay between attempts, on the clock', async () => {
    const { policy, clock } = setup({ backoff: { kind: 'constant', delayMs: 200 } });
    const work = flaky(1);
    const call = track(policy.execute(work.fn));
    await flush();
    expect(work.calls()).toBe(1);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(199);
    await flush();
    expect(work.calls()).toBe(1);
    clock.advance(1);
    await flush();
    expect(work.calls()).toBe(2);
    expect(call.value).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: retryOn', () => {
  it.each([
    ['CircuitOpenError', new CircuitOpenError('b', 1_000)],
    ['BulkheadRejectedError', new BulkheadRejectedError('bh', 1, 0)],
    ['RetryBudgetExceededError', new RetryBudgetExceededError('inner', new Error('x'))],
  ])('does not retry a %s by default', async (_, error) => {
    const { policy, attempts } = setup();
    let count = 0;
    await expect(
      policy.execute(async () => {
        count++;
        throw error;
      }),
    ).rejects.toBe(error);
    expect(count).toBe(1);
    expect(attempts()).toEqual([[1, 'not_retryable', undefined]]);
  });

  it('retries other errors by default, TimeoutError included', () => {
    expect(defaultRetryOn(new Error('x'))).toBe(true);
    expect(defaultRetryOn(new TimeoutError(10))).toBe(true);
    expect(defaultRetryOn('a string')).toBe(true);
  });

  it("retries an inner timeout's TimeoutError: it is the attempt's limit, not the caller's", async () => {
    const clock = new FakeClock();
    const { attempts, instrumentation } = recorder();
    const policy = compose(
      retry({ clock, instrumentation, backoff: { kind: 'constant', delayMs: 0 }, budget: false }),
      timeout({ timeoutMs: 50, clock, instrumentation }),
    );
    let count = 0;
    const call = track(
      policy.execute(async () => {
        count++;
        if (count < 3) return never();
        return 'ok';
      }),
    );
    clock.advance(50);
    await flush();
    clock.advance(50);
    await flush();
    expect(call.value).toBe('ok');
    expect(attempts()).toEqual([
      [1, 'retry', 0],
      [2, 'retry', 0],
      [3, 'success', undefined],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('asks a custom retryOn with the error and the failed attempt number', async () => {
    const seen: unknown[][] = [];
    const { policy, attempts } = setup({
      maxAttempts: 5,
      retryOn: (error, attempt) => {
        seen.push([(error as Error).message, attempt]);
        return attempt < 2;
      },
    });
    await expect(policy.execute(flaky(10).fn)).rejects.toThrow('failure 2');
    expect(seen).toEqual([
      ['failure 1', 1],
      ['failure 2', 2],
    ]);
    expect(attempts().map((a) => a[1])).toEqual(['retry', 'not_retryable']);
  });

  it("never retries after the caller's abort, whatever retryOn says", async () => {
    const { policy, attempts, clock } = setup({ retryOn: () => true });
    const controller = new AbortController();
    let count = 0;
    const call = track(
      policy.execute(
        () => {
          count++;
          return never();
        },
        { signal: controller.signal },
      ),
    );
    await flush();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(count).toBe(1);
    expect(attempts()).toEqual([[1, 'aborted', undefined]]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: backoff', () => {
  it('full jitter: random * min(max, initial * factor^(n-1))', () => {
    const backoff = new Backoff({ kind: 'full', initialDelayMs: 100, maxDelayMs: 300, factor: 2 }, () => 0.5);
    expect([1, 2, 3, 4, 10].map((n) => backoff.delay(n, 0))).toEqual([50, 100, 150, 150, 150]);
    const defaults = new Backoff(undefined, () => 0.999);
    expect(defaults.delay(1, 0)).toBeCloseTo(99.9);
    expect(defaults.delay(2, 0)).toBeCloseTo(199.8);
    expect(defaults.delay(100, 0)).toBeCloseTo(9_990);
  });

  it('decorrelated jitter: min(max, random between initial and 3 * previous)', () => {
    const randoms = [0.5, 0.5, 0.5, 0.5, 0.5, 0];
    const backoff = new Backoff({ kind: 'decorrelated', initialDelayMs: 100, maxDelayMs: 1_000 }, () => randoms.shift() ?? 0);
    const delays: number[] = [];
    let previous = 0;
    for (let n = 1; n <= 6; n++) delays.push((previous = backoff.delay(n, previous)));
    // 100 + 0.5 * (300 - 100), 100 + 0.5 * (600 - 100), 100 + 0.5 * (1050 - 100), ...
    expect(delays).toEqual([200, 350, 575, 912.5, 1_000, 100]);
  });

  it('constant', () => {
    expect(new Backoff({ kind: 'constant', delayMs: 7 }).delay(5, 7)).toBe(7);
  });

  it('uses the injected random, and reports each delay', async () => {
    const { policy, attempts, clock } = setup({ backoff: { kind: 'full', initialDelayMs: 100 }, random: () => 0.25, maxAttempts: 4 });
    const call = track(policy.execute(flaky(3).fn));
    for (const step of [25, 50, 100]) {
      await flush();
      clock.advance(step);
    }
    await flush();
    expect(call.value).toBe(4);
    expect(attempts()).toEqual([
      [1, 'retry', 25],
      [2, 'retry', 50],
      [3, 'retry', 100],
      [4, 'success', undefined],
    ]);
  });

  it('passes the previous delay to decorrelated jitter within a call', async () => {
    const { policy, attempts, clock } = setup({
      backoff: { kind: 'decorrelated', initialDelayMs: 100, maxDelayMs: 1_000 },
      random: () => 0.5,
      maxAttempts: 3,
    });
    for (let call = 0; call < 2; call++) {
      const result = track(policy.execute(flaky(5).fn));
      await flush();
      clock.advance(200);
      await flush();
      clock.advance(350);
      await flush();
      expect(result.error).toBeInstanceOf(Error);
    }
    // Each call starts again from the initial delay.
    expect(attempts()).toEqual([
      [1, 'retry', 200],
      [2, 'retry', 350],
      [3, 'exhausted', undefined],
      [1, 'retry', 200],
      [2, 'retry', 350],
      [3, 'exhausted', undefined],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: abort during backoff', () => {
  it("clears the timer, rejects at once with the caller's reason and starts no further attempt", async () => {
    const { policy, clock, attempts } = setup({ backoff: { kind: 'constant', delayMs: 1_000 } });
    const controller = new AbortController();
    const work = flaky(10);
    const call = track(policy.execute(work.fn, { signal: controller.signal }));
    await flush();
    expect(work.calls()).toBe(1);
    expect(clock.pendingTimers).toBe(1);
    const reason = new Error('navigated away');
    controller.abort(reason);
    await flush();
    expect(call.settled).toBe(true);
    expect(call.error).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    await flush();
    expect(work.calls()).toBe(1);
    expect(attempts()).toEqual([[1, 'retry', 1_000]]);
  });

  it('does not start when the caller has already aborted', async () => {
    const { policy } = setup();
    const work = flaky(0);
    const reason = new Error('early');
    await expect(policy.execute(work.fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(work.calls()).toBe(0);
  });
});

describe('retry: per-attempt signals', () => {
  it('gives every attempt of every call its own signal', async () => {
    const { policy, clock } = setup({ maxAttempts: 3 });
    const signals: AbortSignal[] = [];
    const fail = async (signal: AbortSignal): Promise<never> => {
      signals.push(signal);
      throw new Error('no');
    };
    await Promise.allSettled([policy.execute(fail), policy.execute(fail, { signal: new AbortController().signal }), policy.execute(fail, { deadline: clock.now() + 60_000 })]);
    expect(signals).toHaveLength(9);
    expect(new Set(signals).size).toBe(9);
  });

  it("aborts the current attempt's signal with the caller's reason, and only that call's", async () => {
    const { policy, clock } = setup();
    const a = new AbortController();
    const signals: AbortSignal[] = [];
    const hang = (signal: AbortSignal): Promise<never> => {
      signals.push(signal);
      return never();
    };
    const callA = track(policy.execute(hang, { signal: a.signal }));
    const callB = track(policy.execute(hang, { signal: new AbortController().signal }));
    const reason = new Error('a');
    a.abort(reason);
    await flush();
    expect(callA.error).toBe(reason);
    expect(signals[0]?.reason).toBe(reason);
    expect(signals[1]?.aborted).toBe(false);
    expect(callB.settled).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a listener added to one attempt signal does not hear another call', async () => {
    const { policy } = setup({ maxAttempts: 1 });
    const heard: string[] = [];
    const controllers = [new AbortController(), new AbortController()];
    const calls = controllers.map((controller, i) =>
      track(
        policy.execute(
          (signal) => {
            signal.addEventListener('abort', () => heard.push(`call ${i}`));
            return never();
          },
          { signal: controller.signal },
        ),
      ),
    );
    controllers[1]?.abort();
    await flush();
    expect(heard).toEqual(['call 1']);
    expect(calls[0]?.settled).toBe(false);
    controllers[0]?.abort();
    await flush();
    expect(heard).toEqual(['call 1', 'call 0']);
  });
});

describe('retry: deadline', () => {
  it('does not sleep into the deadline: now + delay >= deadline stops with the last error', async () => {
    const { policy, clock, attempts } = setup({ backoff: { kind: 'constant', delayMs: 100 } });
    const work = flaky(10);
    await expect(policy.execute(work.fn, { deadline: clock.now() + 100 })).rejects.toThrow('failure 1');
    expect(work.calls()).toBe(1);
    expect(attempts()).toEqual([[1, 'deadline', undefined]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts the shortest attempt seen so far: no attempt starts that could not finish', async () => {
    const { policy, clock, attempts } = setup({ backoff: { kind: 'constant', delayMs: 10 }, maxAttempts: 5 });
    // Each attempt fails after 40 ms. Deadline 100 ms away: attempt 1 ends at 40; 40 + 10 + 40 = 90 < 100, so
    // attempt 2 runs (50..90); then 90 + 10 + 40 >= 100: no third attempt.
    let count = 0;
    const slow = (): Promise<never> =>
      new Promise<never>((_, reject) => {
        count++;
        clock.setTimeout(() => reject(new Error(`slow ${count}`)), 40);
      });
    const call = track(policy.execute(slow, { deadline: clock.now() + 100 }));
    for (const step of [40, 10, 40]) {
      await flush();
      clock.advance(step);
    }
    await flush();
    expect(count).toBe(2);
    expect((call.error as Error).message).toBe('slow 2');
    expect(attempts()).toEqual([
      [1, 'retry', 10],
      [2, 'deadline', undefined],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does retry when the estimate fits before the deadline', async () => {
    const { policy, clock, attempts } = setup({ backoff: { kind: 'constant', delayMs: 10 } });
    const work = flaky(1);
    const call = track(policy.execute(work.fn, { deadline: clock.now() + 11 }));
    await flush();
    clock.advance(10);
    await flush();
    expect(call.value).toBe(2);
    expect(attempts()).toEqual([
      [1, 'retry', 10],
      [2, 'success', undefined],
    ]);
  });

  it("aborts an attempt still running at the deadline with a TimeoutError and does not retry", async () => {
    const { policy, clock, attempts } = setup();
    let seen: AbortSignal | undefined;
    const call = track(
      policy.execute(
        (signal) => {
          seen = signal;
          return never();
        },
        { deadline: clock.now() + 30 },
      ),
    );
    clock.advance(30);
    await flush();
    expect(isTimeoutError(call.error)).toBe(true);
    expect(seen?.reason).toBe(call.error);
    expect(attempts()).toEqual([[1, 'deadline', undefined]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not call the work when the deadline has already passed', async () => {
    const { policy, clock } = setup();
    const work = flaky(0);
    const error: unknown = await policy.execute(work.fn, { deadline: clock.now() - 1 }).catch((e: unknown) => e);
    expect(isTimeoutError(error)).toBe(true);
    expect(work.calls()).toBe(0);
  });
});

describe('retry: budget', () => {
  it('defaults to ratio 0.1, 1 retry per second over 10 s', () => {
    const policy = retry({ clock: new FakeClock() });
    expect(policy.budget).toBeInstanceOf(RetryBudget);
    expect(policy.budget?.ratio).toBe(0.1);
    expect(policy.budget?.minRetriesPerSecond).toBe(1);
    expect(policy.budget?.windowMs).toBe(10_000);
    expect(policy.budget?.available).toBe(10);
    expect(retry({ budget: false }).budget).toBeUndefined();
  });

  it('caps retries in a burst of failures at minRetriesPerSecond * windowSeconds + ratio * calls', async () => {
    // Floor 0.1 * 10 = 1 retry, plus 0.2 * 20 calls = 4: 5 retries in all.
    const { policy, attempts } = setup({ budget: { ratio: 0.2, minRetriesPerSecond: 0.1, windowMs: 10_000 }, maxAttempts: 3 });
    let count = 0;
    const failure = new Error('down');
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        policy.execute(async () => {
          count++;
          throw failure;
        }),
      ),
    );
    expect(count).toBe(25);
    expect(attempts().filter((a) => a[1] === 'retry')).toHaveLength(5);
    expect(attempts().filter((a) => a[1] === 'budget_exceeded')).toHaveLength(20);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason as RetryBudgetExceededError;
      expect(isRetryBudgetExceededError(reason)).toBe(true);
      expect(reason.cause).toBe(failure);
      expect(reason.policy).toBe('retry');
    }
    expect(policy.budget?.counts).toEqual({ calls: 20, retries: 5 });
    expect(policy.budget?.available).toBe(0);
  });

  it('recovers as the window slides, and an idle window holds nothing old', async () => {
    const { policy, clock } = setup({ budget: { ratio: 0.5, minRetriesPerSecond: 0, windowMs: 10_000 }, maxAttempts: 2 });
    const budget = policy.budget as RetryBudget;
    await Promise.allSettled(Array.from({ length: 4 }, () => policy.execute(flaky(10).fn)));
    expect(budget.counts).toEqual({ calls: 4, retries: 2 });
    expect(budget.available).toBe(0);
    clock.advance(5_000);
    await Promise.allSettled(Array.from({ length: 2 }, () => policy.execute(flaky(10).fn)));
    // 6 calls allow 3 retries; 2 were taken by the first burst.
    expect(budget.counts).toEqual({ calls: 6, retries: 3 });
    clock.advance(4_999);
    expect(budget.counts).toEqual({ calls: 6, retries: 3 });
    clock.advance(1);
    // The first burst's bucket fell out of the window.
    expect(budget.counts).toEqual({ calls: 2, retries: 1 });
    clock.advance(10_000);
    expect(budget.counts).toEqual({ calls: 0, retries: 0 });
    clock.advance(1_000_000);
    expect(budget.counts).toEqual({ calls: 0, retries: 0 });
    const work = flaky(1);
    // Idle: 1 call allows 0.5 retry, not a whole one.
    await expect(policy.execute(work.fn)).rejects.toSatisfy(isRetryBudgetExceededError);
    expect(work.calls()).toBe(1);
  });

  it('grants whole retries despite binary rounding (0.29 * 100 = 28.999...)', () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 0.29, minRetriesPerSecond: 0, clock });
    for (let i = 0; i < 100; i++) budget.recordCall();
    let granted = 0;
    while (budget.tryRetry()) granted++;
    expect(granted).toBe(29);
  });

  it('is shared by every call through the policy and may be shared between policies', async () => {
    const clock = new FakeClock();
    const shared = retryBudget({ ratio: 0, minRetriesPerSecond: 0.2, windowMs: 10_000, clock });
    const a = retry({ clock, budget: shared, backoff: { kind: 'constant', delayMs: 0 } });
    const b = retry({ clock, budget: shared, backoff: { kind: 'constant', delayMs: 0 } });
    await expect(a.execute(flaky(1).fn)).resolves.toBe(2);
    await expect(b.execute(flaky(1).fn)).resolves.toBe(2);
    await expect(a.execute(flaky(1).fn)).rejects.toSatisfy(isRetryBudgetExceededError);
    expect(shared.counts).toEqual({ calls: 3, retries: 2 });
  });

  it('budget: false retries without limit', async () => {
    const { policy } = setup({ budget: false, maxAttempts: 2 });
    let count = 0;
    await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        policy.execute(async () => {
          count++;
          throw new Error('x');
        }),
      ),
    );
    expect(count).toBe(100);
  });
});

describe('retry: instrumentation', () => {
  it('a throwing instrumentation does not change the outcome', async () => {
    const policy = retry({
      clock: new FakeClock(),
      backoff: { kind: 'constant', delayMs: 0 },
      instrumentation: {
        stateChanged: () => undefined,
        timedOut: () => undefined,
        bulkheadRejected: () => undefined,
        breakerRejected: () => undefined,
        retryAttempt: () => {
          throw new Error('metrics down');
        },
      },
    });
    await expect(policy.execute(flaky(1).fn)).resolves.toBe(2);
  });
});

describe('retry: options', () => {
  it.each([
    [{ maxAttempts: 0 }, 'retry.maxAttempts: should be a positive integer, got 0'],
    [{ maxAttempts: 1.5 }, 'retry.maxAttempts: should be a positive integer, got 1.5'],
    [{ maxAttempts: '3' }, 'retry.maxAttempts: should be a positive integer, got "3"'],
    [{ retryOn: true }, 'retry.retryOn: should be a function (error, attempt) => boolean, got true'],
    [{ name: 42 }, 'retry.name: should be a non-empty string, got 42'],
    [{ backoff: { kind: 'linear' } }, "retry.backoff.kind: should be 'full', 'decorrelated' or 'constant', got \"linear\""],
    [{ backoff: { kind: 'full', initialDelayMs: -1 } }, 'retry.backoff.initialDelayMs: should be a finite number of milliseconds >= 0, got -1'],
    [{ backoff: { kind: 'full', initialDelayMs: 500, maxDelayMs: 100 } }, 'retry.backoff.maxDelayMs: should be >= initialDelayMs (500), got 100'],
    [{ backoff: { kind: 'full', factor: 0.5 } }, 'retry.backoff.factor: should be a finite number >= 1, got 0.5'],
    [{ backoff: { kind: 'constant' } }, 'retry.backoff.delayMs: should be a finite number of milliseconds >= 0, got undefined'],
    [{ backoff: { kind: 'decorrelated', maxDelayMs: Infinity } }, 'retry.backoff.maxDelayMs: should be a finite number of milliseconds >= 0, got Infinity'],
    [{ random: 0.5 }, 'retry.backoff.random: should be a function returning a number in [0, 1), got 0.5'],
    [{ budget: true }, 'retry.budget: should be budget options, a RetryBudget or false, got true'],
    [{ budget: { ratio: -0.1 } }, 'retry.budget.ratio: should be a finite number >= 0, got -0.1'],
    [{ budget: { minRetriesPerSecond: Number.NaN } }, 'retry.budget.minRetriesPerSecond: should be a finite number >= 0, got NaN'],
    [{ budget: { windowMs: 0 } }, 'retry.budget.windowMs: should be a positive finite number of milliseconds, got 0'],
    [null, 'retry: expects an options object, got null'],
  ])('rejects %o', (options, message) => {
    expect(() => retry(options as never)).toThrow(message);
  });

  it('validates a standalone budget', () => {
    expect(() => retryBudget({ ratio: Infinity })).toThrow('retryBudget.ratio: should be a finite number >= 0, got Infinity');
  });
});
