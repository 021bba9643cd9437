import { describe, expect, expectTypeOf, it } from 'vitest';
import { TimeoutError, isTimeoutError } from '../src/errors/resilience-errors.js';
import { fallback } from '../src/resilience/fallback.js';
import { FakeClock } from './support/fake-clock.js';
import { flush, never } from './support/async.js';

describe('fallback: values', () => {
  it("passes a success through without calling the fallback", async () => {
    let called = false;
    const policy = fallback({ fallback: () => ((called = true), 'cached') });
    expect(policy.name).toBe('fallback');
    await expect(policy.execute(async () => 'fresh')).resolves.toBe('fresh');
    expect(called).toBe(false);
  });

  it("replaces a failure with the fallback's value, given the error", async () => {
    const seen: unknown[] = [];
    const policy = fallback({
      fallback: (error) => {
        seen.push(error);
        return 'cached';
      },
    });
    const boom = new Error('boom');
    await expect(policy.execute(() => Promise.reject(boom))).resolves.toBe('cached');
    expect(seen).toEqual([boom]);
  });

  it('awaits an async fallback', async () => {
    const policy = fallback({ fallback: async () => 7 });
    await expect(policy.execute(() => Promise.reject(new Error('x')))).resolves.toBe(7);
  });

  it("rejects with the fallback's own error when it fails", async () => {
    const second = new Error('fallback failed too');
    const policy = fallback({
      fallback: () => {
        throw second;
      },
    });
    await expect(policy.execute(() => Promise.reject(new Error('first')))).rejects.toBe(second);
  });

  it('types the result as the work value or the fallback value', () => {
    const policy = fallback({ fallback: () => 'default' as const });
    expectTypeOf(policy.execute(async () => 1)).toEqualTypeOf<Promise<number | 'default'>>();
  });
});

describe('fallback: handles', () => {
  it('lets errors it does not handle through', async () => {
    const policy = fallback({ fallback: () => 'cached', handles: isTimeoutError });
    const other = new Error('not a timeout');
    await expect(policy.execute(() => Promise.reject(other))).rejects.toBe(other);
    await expect(policy.execute(() => Promise.reject(new TimeoutError(5)))).resolves.toBe('cached');
  });
});

describe("fallback: the caller's abort", () => {
  it("rejects with the caller's reason and does not call the fallback by default", async () => {
    let called = false;
    const policy = fallback({ fallback: () => ((called = true), 'cached') });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const call = policy.execute(
      (signal) => {
        seen = signal;
        return never();
      },
      { signal: controller.signal },
    );
    const reason = new Error('gone');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(seen?.reason).toBe(reason);
    expect(called).toBe(false);
  });

  it('falls back on an abort when handles says so', async () => {
    const policy = fallback({ fallback: () => 'cached', handles: () => true });
    const controller = new AbortController();
    const call = policy.execute(never, { signal: controller.signal });
    controller.abort();
    await expect(call).resolves.toBe('cached');
  });

  it("gives the work its own signal carrying the caller's deadline", async () => {
    const clock = new FakeClock();
    const policy = fallback({ fallback: (error) => (isTimeoutError(error) ? 'late' : 'other'), clock });
    const signals: AbortSignal[] = [];
    const call = policy.execute(
      (signal) => {
        signals.push(signal);
        return never();
      },
      { deadline: clock.now() + 10 },
    );
    clock.advance(10);
    await flush();
    await expect(call).resolves.toBe('late');
    await policy.execute(async (signal) => signals.push(signal));
    expect(signals[0]).not.toBe(signals[1]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('fallback: options', () => {
  it.each([
    [{}, 'fallback.fallback: should be a function (error) => value, got undefined'],
    [{ fallback: 'cached' }, 'fallback.fallback: should be a function (error) => value, got "cached"'],
    [{ fallback: (): number => 1, handles: true }, 'fallback.handles: should be a function (error) => boolean, got true'],
    [{ fallback: (): number => 1, name: '' }, 'fallback.name: should be a non-empty string, got ""'],
    [undefined, 'fallback: expects an options object { fallback }'],
  ])('rejects %o', (options, message) => {
    expect(() => fallback(options as never)).toThrow(message);
  });
});
