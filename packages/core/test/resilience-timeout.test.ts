import { describe, expect, it } from 'vitest';
import { isTimeoutError } from '../src/errors/resilience-errors.js';
import { timeout } from '../src/resilience/timeout.js';
import { FakeClock } from './support/fake-clock.js';
import { flush, never, track } from './support/async.js';
import { recorder } from './support/resilience-recorder.js';

describe('timeout: calls that finish in time', () => {
  it('resolves with the work value and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    expect(policy.name).toBe('timeout');
    await expect(policy.execute(async () => 42)).resolves.toBe(42);
    expect(clock.pendingTimers).toBe(0);
  });

  it("passes the work's rejection through and clears its timer", async () => {
    const clock = new FakeClock();
    const { calls, instrumentation } = recorder();
    const policy = timeout({ timeoutMs: 100, clock, instrumentation });
    const boom = new Error('boom');
    await expect(policy.execute(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(clock.pendingTimers).toBe(0);
    expect(calls).toEqual([]);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const policy = timeout({ timeoutMs: 100, clock: new FakeClock() });
    const boom = new Error('sync');
    await expect(
      policy.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
  });
});

describe('timeout: the limit', () => {
  it('rejects with TimeoutError as soon as the limit passes, even if the work ignores its signal', async () => {
    const clock = new FakeClock();
    const { calls, instrumentation } = recorder();
    const policy = timeout({ timeoutMs: 100, clock, instrumentation, name: 'api' });
    let seen: AbortSignal | undefined;
    const call = track(
      policy.execute((signal) => {
        seen = signal;
        return never();
      }),
    );
    clock.advance(99);
    await flush();
    expect(call.settled).toBe(false);
    clock.advance(1);
    await flush();
    expect(call.settled).toBe(true);
    expect(isTimeoutError(call.error)).toBe(true);
    expect((call.error as Error).message).toBe('call through "api" timed out after 100 ms');
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(call.error);
    expect(calls).toEqual([['timedOut', 'api', 100]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ignores the late outcome of work it already timed out', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 10, clock });
    let finish: (value: number) => void = () => undefined;
    const call = track(policy.execute(() => new Promise<number>((resolve) => (finish = resolve))));
    clock.advance(10);
    await flush();
    finish(1);
    await flush();
    expect(isTimeoutError(call.error)).toBe(true);
    expect(call.value).toBeUndefined();
  });

  it("uses the caller's deadline when it comes first", async () => {
    const clock = new FakeClock();
    const { calls, instrumentation } = recorder();
    const policy = timeout({ timeoutMs: 1_000, clock, instrumentation });
    const call = track(policy.execute(never, { deadline: clock.now() + 250 }));
    clock.advance(249);
    await flush();
    expect(call.settled).toBe(false);
    clock.advance(1);
    await flush();
    expect((call.error as Error).message).toBe(`call through "timeout" (at the caller's deadline) timed out after 250 ms`);
    expect(calls).toEqual([['timedOut', 'timeout', 250]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps its own limit when the deadline is later', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const call = track(policy.execute(never, { deadline: clock.now() + 5_000 }));
    clock.advance(100);
    await flush();
    expect((call.error as Error).message).toBe('call through "timeout" timed out after 100 ms');
  });

  it('does not start work whose deadline has already passed', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    let started = false;
    const error: unknown = await policy
      .execute(
        async () => {
          started = true;
          return 1;
        },
        { deadline: clock.now() },
      )
      .catch((e: unknown) => e);
    expect(isTimeoutError(error)).toBe(true);
    expect(started).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("timeout: the caller's abort", () => {
  it("rejects at once with the caller's reason and does not report a timeout", async () => {
    const clock = new FakeClock();
    const { calls, instrumentation } = recorder();
    const policy = timeout({ timeoutMs: 100, clock, instrumentation });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const call = track(
      policy.execute(
        (signal) => {
          seen = signal;
          return never();
        },
        { signal: controller.signal },
      ),
    );
    const reason = new Error('user left');
    controller.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(seen?.reason).toBe(reason);
    expect(calls).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not call the work when the caller has already aborted', async () => {
    const policy = timeout({ timeoutMs: 100, clock: new FakeClock() });
    const reason = new Error('gone');
    let started = false;
    await expect(
      policy.execute(
        async () => {
          started = true;
        },
        { signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(started).toBe(false);
  });
});

describe('timeout: per-call signals', () => {
  it('gives every call its own signal; aborting one call does not touch another', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const signals: AbortSignal[] = [];
    const work = (signal: AbortSignal): Promise<never> => {
      signals.push(signal);
      return never();
    };
    const a = new AbortController();
    const callA = track(policy.execute(work, { signal: a.signal }));
    const callB = track(policy.execute(work));
    const callC = track(policy.execute(work, { signal: new AbortController().signal }));
    expect(new Set(signals).size).toBe(3);
    let heardOnB = false;
    signals[1]?.addEventListener('abort', () => (heardOnB = true));
    a.abort(new Error('a only'));
    await flush();
    expect(callA.settled).toBe(true);
    expect(callB.settled).toBe(false);
    expect(callC.settled).toBe(false);
    expect(signals[1]?.aborted).toBe(false);
    expect(heardOnB).toBe(false);
    clock.advance(100);
    await flush();
    expect(heardOnB).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('timeout: instrumentation', () => {
  it('a throwing instrumentation does not change the outcome', async () => {
    const clock = new FakeClock();
    const { instrumentation } = recorder();
    const policy = timeout({
      timeoutMs: 5,
      clock,
      instrumentation: {
        ...instrumentation,
        timedOut: () => {
          throw new Error('metrics down');
        },
      },
    });
    const call = track(policy.execute(never));
    clock.advance(5);
    await flush();
    expect(isTimeoutError(call.error)).toBe(true);
  });
});

describe('timeout: options', () => {
  it.each([
    [{ timeoutMs: 0 }, 'timeout.timeoutMs: should be a positive finite number of milliseconds, got 0'],
    [{ timeoutMs: -1 }, 'timeout.timeoutMs: should be a positive finite number of milliseconds, got -1'],
    [{ timeoutMs: Number.NaN }, 'timeout.timeoutMs: should be a positive finite number of milliseconds, got NaN'],
    [{ timeoutMs: Infinity }, 'timeout.timeoutMs: should be a positive finite number of milliseconds, got Infinity'],
    [{ timeoutMs: '100' }, 'timeout.timeoutMs: should be a positive finite number of milliseconds, got "100"'],
    [{ timeoutMs: 100, name: '' }, 'timeout.name: should be a non-empty string, got ""'],
    [{ timeoutMs: 100, clock: {} }, 'timeout.clock: should be a Clock { now, setTimeout, clearTimeout }, got an object'],
    [undefined, 'timeout: expects an options object { timeoutMs }'],
  ])('rejects %o', (options, message) => {
    expect(() => timeout(options as never)).toThrow(message);
  });
});
