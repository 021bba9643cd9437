import { describe, expect, it } from 'vitest';
import { isInvalidOptionError } from '../src/errors/hitch-error.js';
import { CircuitOpenError, TimeoutError, isCircuitOpenError, isTimeoutError } from '../src/errors/resilience-errors.js';
import { AdaptiveThrottle } from '../src/resilience/adaptive-throttle.js';
import type { CircuitBreaker, CircuitBreakerOptions } from '../src/resilience/circuit-breaker.js';
import { circuitBreaker, circuitBreakerDefaults } from '../src/resilience/circuit-breaker.js';
import { SlidingWindow } from '../src/resilience/sliding-window.js';
import type { ResilienceInstrumentation } from '../src/resilience/types.js';
import { FakeClock } from './support/fake-clock.js';
import { deferred, flush, never, track } from './support/async.js';

function recorder(): { events: string[]; instrumentation: ResilienceInstrumentation } {
  const events: string[] = [];
  return {
    events,
    instrumentation: {
      stateChanged: (name, from, to) => events.push(`${name}: ${from} -> ${to}`),
      breakerRejected: (name, state) => events.push(`${name}: rejected while ${state}`),
      timedOut: (name, ms) => events.push(`${name}: probe timed out after ${ms} ms`),
      retryAttempt: () => undefined,
      bulkheadRejected: () => undefined,
    },
  };
}

const ok = (): Promise<string> => Promise.resolve('ok');
const boom = (): Promise<never> => Promise.reject(new Error('boom'));
/** Runs `fn` through the breaker and returns what it resolved with, or the error. */
async function outcome(breaker: CircuitBreaker, fn: (signal: AbortSignal) => Promise<unknown>, options?: { signal?: AbortSignal; deadline?: number }): Promise<unknown> {
  try {
    return await breaker.execute(fn, options);
  } catch (error) {
    return error;
  }
}

/** A breaker that trips on the rate alone: minimumCalls 10 at 50%, open 10 s. */
function make(clock: FakeClock, options: CircuitBreakerOptions = {}): CircuitBreaker {
  return circuitBreaker({ name: 'b', clock, windowMs: 10_000, bucketCount: 10, minimumCalls: 10, openDurationMs: 10_000, ...options });
}

/** Opens the breaker with consecutive failures. */
async function trip(breaker: CircuitBreaker, failures: number): Promise<void> {
  for (let i = 0; i < failures; i++) await outcome(breaker, boom);
  expect(breaker.state).toBe('open');
}

describe('SlidingWindow', () => {
  it('counts calls, failures and slow calls, in buckets that rotate with time', () => {
    const w = new SlidingWindow(1_000, 10, 0);
    w.record(0, false, false);
    w.record(50, true, false);
    w.record(150, true, true);
    expect([w.calls, w.failures, w.slowCalls]).toEqual([3, 2, 1]);
    // The bucket [0, 100) leaves the window when time reaches 1000; [100, 200) at 1100.
    w.advance(999);
    expect(w.calls).toBe(3);
    w.advance(1_000);
    expect([w.calls, w.failures, w.slowCalls]).toEqual([1, 1, 1]);
    w.advance(1_100);
    expect([w.calls, w.failures, w.slowCalls]).toEqual([0, 0, 0]);
  });

  it('rotates by time, never by call count', () => {
    const w = new SlidingWindow(1_000, 10, 0);
    for (let i = 0; i < 10_000; i++) w.record(5, i % 2 === 0, false);
    expect([w.calls, w.failures]).toEqual([10_000, 5_000]);
    w.record(950, false, false);
    expect(w.calls).toBe(10_001);
  });

  it('forgets everything after an idle gap, however long', () => {
    const w = new SlidingWindow(10_000, 10, 1_700_000_000_000);
    for (let i = 0; i < 50; i++) w.record(1_700_000_000_000 + i * 100, true, true);
    w.advance(1_700_000_000_000 + 600_000);
    expect([w.calls, w.failures, w.slowCalls]).toEqual([0, 0, 0]);
    w.record(1_700_000_000_000 + 600_001, true, false);
    expect([w.calls, w.failures]).toEqual([1, 1]);
    w.advance(Number.MAX_SAFE_INTEGER);
    expect(w.calls).toBe(0);
  });

  it('keeps buckets that are still inside the window after a partial gap', () => {
    const w = new SlidingWindow(1_000, 4, 0);
    w.record(0, true, false); // bucket [0, 250)
    w.record(300, false, false); // bucket [250, 500)
    w.record(600, true, false); // bucket [500, 750)
    w.advance(1_100); // now in [1000, 1250): [0, 250) is gone
    expect([w.calls, w.failures]).toEqual([2, 1]);
    w.advance(1_300); // [250, 500) is gone
    expect([w.calls, w.failures]).toEqual([1, 1]);
  });

  it('records time that goes backwards in the current bucket', () => {
    const w = new SlidingWindow(1_000, 10, 5_000);
    w.record(5_000, true, false);
    w.record(4_000, true, false);
    expect(w.calls).toBe(2);
    w.reset(5_000);
    expect(w.calls).toBe(0);
  });
});

describe('circuitBreaker: tripping', () => {
  it('uses the documented defaults', () => {
    const breaker = circuitBreaker({ clock: new FakeClock() });
    expect(breaker.name).toBe('breaker');
    expect(breaker.state).toBe('closed');
    expect(circuitBreakerDefaults).toMatchObject({
      windowMs: 5_000,
      bucketCount: 10,
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      openDurationMs: 5_000,
      halfOpenProbes: 1,
      probeTimeoutMs: 10_000,
      slowCallDurationMs: Infinity,
      slowCallRateThreshold: 1,
    });
  });

  it('opens at exactly the threshold: 6 failures in 10 calls trip 0.6 (>=)', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { failureRateThreshold: 0.6 });
    for (let i = 0; i < 4; i++) await breaker.execute(ok);
    for (let i = 0; i < 5; i++) await outcome(breaker, boom);
    expect(breaker.state).toBe('closed'); // 9 calls: below minimumCalls
    await outcome(breaker, boom);
    expect(breaker.state).toBe('open'); // 6 / 10 = 0.6 >= 0.6
  });

  it('stays closed just below the threshold: 5 failures in 10 calls with 0.6', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { failureRateThreshold: 0.6 });
    for (let i = 0; i < 5; i++) await breaker.execute(ok);
    for (let i = 0; i < 5; i++) await outcome(breaker, boom);
    expect(breaker.state).toBe('closed');
    await outcome(breaker, boom); // 6 / 11 = 0.545
    expect(breaker.state).toBe('closed');
    await outcome(breaker, boom); // 7 / 12 = 0.583
    expect(breaker.state).toBe('closed');
    await outcome(breaker, boom); // 8 / 13 = 0.615
    expect(breaker.state).toBe('open');
  });

  it('evaluates the rates on every call, a success included', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { failureRateThreshold: 0.6 });
    for (let i = 0; i < 6; i++) await outcome(breaker, boom);
    for (let i = 0; i < 3; i++) await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    await breaker.execute(ok); // the 10th call: 6 / 10
    expect(breaker.state).toBe('open');
  });

  it('needs minimumCalls in the window before the rate applies', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { minimumCalls: 5 });
    for (let i = 0; i < 4; i++) await outcome(breaker, boom);
    expect(breaker.state).toBe('closed');
    await outcome(breaker, boom);
    expect(breaker.state).toBe('open');
  });

  it('forgets counts older than the window: 10 idle minutes, then 2 failures do not trip', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { minimumCalls: 4 });
    await breaker.execute(ok);
    await outcome(breaker, boom);
    clock.advance(600_000);
    await outcome(breaker, boom);
    await outcome(breaker, boom);
    expect(breaker.state).toBe('closed'); // 2 calls in the window, below minimumCalls

    // The same calls without the gap trip: 3 failures out of 4.
    const control = make(new FakeClock(), { minimumCalls: 4 });
    await control.execute(ok);
    for (let i = 0; i < 3; i++) await outcome(control, boom);
    expect(control.state).toBe('open');
  });

  it('slides: counts leave the window bucket by bucket', async () => {
    const clock = new FakeClock(0);
    const breaker = make(clock, { minimumCalls: 4, windowMs: 1_000, bucketCount: 10, failureRateThreshold: 0.6 });
    await outcome(breaker, boom);
    await outcome(breaker, boom);
    clock.advance(500);
    await breaker.execute(ok);
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed'); // 2 / 4
    clock.advance(500); // t = 1000: the first two failures are out
    await outcome(breaker, boom);
    await outcome(breaker, boom);
    expect(breaker.state).toBe('closed'); // 2 / 4 (counted, the old ones would make 4 / 6)
    clock.advance(500); // t = 1500: the successes are out
    await outcome(breaker, boom);
    expect(breaker.state).toBe('closed'); // 3 / 3, below minimumCalls
    await outcome(breaker, boom);
    expect(breaker.state).toBe('open'); // 4 / 4
  });

  it('opens on the slow-call rate', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { minimumCalls: 4, slowCallDurationMs: 1_000, slowCallRateThreshold: 0.5 });
    const fast = [deferred<string>(), deferred<string>()];
    const slow = [deferred<string>(), deferred<string>()];
    const calls = [...fast, ...slow].map((d) => breaker.execute(() => d.promise));
    clock.advance(999);
    for (const d of fast) d.resolve('fast');
    await flush();
    expect(breaker.state).toBe('closed'); // 999 ms is not slow
    clock.advance(1);
    slow[0]!.resolve('slow');
    await flush();
    expect(breaker.state).toBe('closed'); // 3 calls: below minimumCalls
    slow[1]!.resolve('slow');
    await flush();
    expect(breaker.state).toBe('open'); // 2 slow of 4 >= 0.5, though every call succeeded
    await expect(Promise.all(calls)).resolves.toEqual(['fast', 'fast', 'slow', 'slow']);
  });

  it('opens after consecutiveFailures, independently of the window', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { minimumCalls: 1_000, consecutiveFailures: 3 });
    await outcome(breaker, boom);
    await outcome(breaker, boom);
    await breaker.execute(ok); // resets the run
    await outcome(breaker, boom);
    await outcome(breaker, boom);
    expect(breaker.state).toBe('closed');
    await outcome(breaker, boom);
    expect(breaker.state).toBe('open');
  });

  it('counts a synchronous throw as a failure and rejects with it', async () => {
    const breaker = make(new FakeClock(), { consecutiveFailures: 1 });
    const error = new Error('sync');
    await expect(
      breaker.execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(breaker.state).toBe('open');
  });

  it('counts only what isFailure accepts; other errors count as successes', async () => {
    class NotFound extends Error {}
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 2, isFailure: (error) => !(error instanceof NotFound) });
    await outcome(breaker, boom);
    const notFound = new NotFound('404');
    await expect(breaker.execute(() => Promise.reject(notFound))).rejects.toBe(notFound);
    await outcome(breaker, boom);
    expect(breaker.state).toBe('closed'); // the 404 broke the run of failures
    await outcome(breaker, boom);
    expect(breaker.state).toBe('open');
  });

  it('does not count a call whose caller aborted, whatever isFailure says', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1, isFailure: () => true });
    const controller = new AbortController();
    const call = breaker.execute((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))), {
      signal: controller.signal,
    });
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(breaker.state).toBe('closed');

    // Already aborted: not started, not counted.
    let started = false;
    const result = await outcome(breaker, () => ((started = true), ok()), { signal: controller.signal });
    expect(result).toBe(reason);
    expect(started).toBe(false);
    expect(breaker.state).toBe('closed');
  });

  it('does not start (nor count) a call whose deadline has passed', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1 });
    let started = false;
    const result = await outcome(breaker, () => ((started = true), ok()), { deadline: clock.now() });
    expect(isTimeoutError(result)).toBe(true);
    expect(started).toBe(false);
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(ok, { deadline: clock.now() + 1 })).resolves.toBe('ok');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('circuitBreaker: open', () => {
  it('rejects at once with a stackless CircuitOpenError, without calling fn or holding a timer', async () => {
    const clock = new FakeClock();
    const { events, instrumentation } = recorder();
    const breaker = make(clock, { consecutiveFailures: 1, instrumentation });
    await outcome(breaker, boom);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(2_500);
    let calls = 0;
    const error = await outcome(breaker, () => (calls++, ok()));
    expect(calls).toBe(0);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isCircuitOpenError(error)).toBe(true);
    const open = error as CircuitOpenError;
    expect(open.breaker).toBe('b');
    expect(open.retryAfterMs).toBe(7_500);
    expect(open.message).toBe('circuit breaker "b" is open: the call was not made; probing again in 7500 ms');
    expect(open.stack ?? '').not.toContain('\n    at ');
    expect(events).toEqual(['b: closed -> open', 'b: rejected while open']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('moves to half-open lazily, on the first call after openDurationMs', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1 });
    await outcome(breaker, boom);
    clock.advance(9_999);
    expect(isCircuitOpenError(await outcome(breaker, ok))).toBe(true);
    clock.advance(1);
    expect(breaker.state).toBe('open'); // no timer moved it
    const probe = deferred<string>();
    const call = breaker.execute(() => probe.promise);
    expect(breaker.state).toBe('half_open');
    probe.resolve('probe ok');
    await expect(call).resolves.toBe('probe ok');
    expect(breaker.state).toBe('closed');
  });
});

describe('circuitBreaker: half-open', () => {
  it('lets halfOpenProbes = 1 probe through out of 10 simultaneous callers and rejects 9 at once', async () => {
    const clock = new FakeClock();
    const { events, instrumentation } = recorder();
    const breaker = make(clock, { consecutiveFailures: 1, instrumentation });
    await outcome(breaker, boom);
    clock.advance(10_000);
    events.length = 0;
    const probe = deferred<string>();
    let started = 0;
    const calls = Array.from({ length: 10 }, () =>
      track(
        breaker.execute(() => {
          started++;
          return probe.promise;
        }),
      ),
    );
    await flush();
    expect(started).toBe(1);
    expect(calls.filter((c) => c.settled)).toHaveLength(9);
    for (const c of calls.slice(1)) {
      expect(c.error).toBeInstanceOf(CircuitOpenError);
      expect((c.error as CircuitOpenError).retryAfterMs).toBeUndefined();
    }
    expect(calls[0]!.settled).toBe(false);
    expect(clock.pendingTimers).toBe(1); // the probe's timeout
    probe.resolve('ok');
    await flush();
    expect(calls[0]!.value).toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
    expect(events).toEqual(['b: open -> half_open', ...Array<string>(9).fill('b: rejected while half_open'), 'b: half_open -> closed']);
  });

  it('closes after halfOpenProbes successes, and reopens at the first probe failure', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1, halfOpenProbes: 3 });
    await outcome(breaker, boom);
    clock.advance(10_000);
    await breaker.execute(ok);
    await breaker.execute(ok);
    expect(breaker.state).toBe('half_open');
    await outcome(breaker, boom);
    expect(breaker.state).toBe('open');

    clock.advance(10_000);
    const probes = [deferred<string>(), deferred<string>(), deferred<string>(), deferred<string>()];
    const calls = probes.map((d) => track(breaker.execute(() => d.promise)));
    await flush();
    expect(isCircuitOpenError(calls[3]!.error)).toBe(true); // 3 running, the 4th is rejected
    probes[0]!.resolve('1');
    probes[1]!.resolve('2');
    await flush();
    expect(breaker.state).toBe('half_open');
    probes[2]!.resolve('3');
    await flush();
    expect(breaker.state).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
  });

  it('times out a hung probe: its signal aborts, the caller gets a TimeoutError, the breaker reopens, no timer is left', async () => {
    const clock = new FakeClock();
    const { events, instrumentation } = recorder();
    const breaker = make(clock, { consecutiveFailures: 1, probeTimeoutMs: 1_000, instrumentation });
    await outcome(breaker, boom);
    clock.advance(10_000);
    let probeSignal: AbortSignal | undefined;
    const call = track(
      breaker.execute((signal) => {
        probeSignal = signal;
        return never();
      }),
    );
    expect(clock.pendingTimers).toBe(1);
    clock.advance(999);
    await flush();
    expect(call.settled).toBe(false);
    clock.advance(1);
    await flush();
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect((call.error as TimeoutError).timeoutMs).toBe(1_000);
    expect(probeSignal?.aborted).toBe(true);
    expect(probeSignal?.reason).toBe(call.error);
    expect(breaker.state).toBe('open');
    expect(clock.pendingTimers).toBe(0);
    expect(events).toEqual(['b: closed -> open', 'b: open -> half_open', 'b: probe timed out after 1000 ms', 'b: half_open -> open']);
    // Open again for the full duration.
    expect((await outcome(breaker, ok)) as CircuitOpenError).toMatchObject({ retryAfterMs: 10_000 });
  });

  it("ends a probe at the caller's earlier deadline without counting it", async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1, probeTimeoutMs: 1_000 });
    await outcome(breaker, boom);
    clock.advance(10_000);
    const call = track(breaker.execute(never, { deadline: clock.now() + 100 }));
    clock.advance(100);
    await flush();
    expect(isTimeoutError(call.error)).toBe(true);
    expect(breaker.state).toBe('half_open'); // not a failure: the caller ran out of time
    expect(clock.pendingTimers).toBe(0);
    await expect(breaker.execute(ok)).resolves.toBe('ok'); // the slot is free again
    expect(breaker.state).toBe('closed');
  });

  it('does not count a probe whose caller aborted, and frees its slot', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1 });
    await outcome(breaker, boom);
    clock.advance(10_000);
    const controller = new AbortController();
    let probeSignal: AbortSignal | undefined;
    const call = track(
      breaker.execute(
        (signal) => {
          probeSignal = signal;
          return never();
        },
        { signal: controller.signal },
      ),
    );
    expect(probeSignal).not.toBe(controller.signal); // the probe has its own signal
    controller.abort(new Error('bye'));
    await flush();
    expect((call.error as Error).message).toBe('bye');
    expect(probeSignal?.aborted).toBe(true);
    expect(breaker.state).toBe('half_open');
    expect(clock.pendingTimers).toBe(0);
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
  });
});

describe('circuitBreaker: calls that overhang a state change', () => {
  it('a call started before the breaker opened cannot close it by succeeding', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 2, halfOpenProbes: 1 });
    const a = deferred<string>();
    const b = deferred<string>();
    const callA = breaker.execute(() => a.promise);
    const callB = track(breaker.execute(() => b.promise));
    await trip(breaker, 2);
    a.resolve('late');
    await expect(callA).resolves.toBe('late');
    expect(breaker.state).toBe('open');

    clock.advance(10_000);
    const probe = deferred<string>();
    const probeCall = track(breaker.execute(() => probe.promise));
    expect(breaker.state).toBe('half_open');
    b.resolve('late too'); // a success, but not the probe's: it must not close the breaker
    await flush();
    expect(callB.value).toBe('late too');
    expect(breaker.state).toBe('half_open');
    probe.resolve('probe');
    await flush();
    expect(probeCall.value).toBe('probe');
    expect(breaker.state).toBe('closed');
  });

  it('a slow old call that fails during half-open does not reopen the breaker', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 2 });
    const old = deferred<string>();
    const oldCall = track(breaker.execute(() => old.promise));
    await trip(breaker, 2);
    clock.advance(10_000);
    const probe = deferred<string>();
    const probeCall = track(breaker.execute(() => probe.promise));
    expect(breaker.state).toBe('half_open');
    old.reject(new Error('old failure'));
    await flush();
    expect((oldCall.error as Error).message).toBe('old failure');
    expect(breaker.state).toBe('half_open');
    probe.resolve('ok');
    await flush();
    expect(probeCall.value).toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('a call from before the breaker closed does not count in the fresh window', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 2, minimumCalls: 1 });
    const old = deferred<string>();
    const oldCall = track(breaker.execute(() => old.promise));
    await trip(breaker, 2);
    clock.advance(10_000);
    await breaker.execute(ok); // probe: closed
    expect(breaker.state).toBe('closed');
    old.reject(new Error('old'));
    await flush();
    expect(oldCall.settled).toBe(true);
    // Counted, it would make 1 failure out of 1 call (minimumCalls 1, 100% >= 50%).
    expect(breaker.state).toBe('closed');
  });

  it('a probe of an earlier half-open period does not decide the current one', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1, halfOpenProbes: 2, probeTimeoutMs: 60_000 });
    await outcome(breaker, boom);
    clock.advance(10_000);
    const first = deferred<string>();
    const firstCall = track(breaker.execute(() => first.promise)); // probe 1 of period A
    await outcome(breaker, boom); // probe 2 fails: open again
    expect(breaker.state).toBe('open');
    clock.advance(10_000);
    await breaker.execute(ok); // period B: 1 success of 2
    expect(breaker.state).toBe('half_open');
    first.resolve('late'); // from period A: ignored
    await flush();
    expect(firstCall.value).toBe('late');
    expect(breaker.state).toBe('half_open');
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    expect(clock.pendingTimers).toBe(0); // the late probe's timer went with it
  });
});

describe("circuitBreaker: fn's signal", () => {
  it("passes the caller's signal through in the closed state", async () => {
    const breaker = make(new FakeClock());
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await breaker.execute(async (signal) => void (seen = signal), { signal: controller.signal });
    expect(seen).toBe(controller.signal);
  });

  it('gives each running call its own signal, never a shared one', async () => {
    const breaker = make(new FakeClock());
    const signals = new Set<AbortSignal>();
    const gates = Array.from({ length: 100 }, () => deferred<string>());
    const calls = gates.map((gate) =>
      breaker.execute((signal) => {
        signals.add(signal);
        return gate.promise;
      }),
    );
    expect(signals.size).toBe(100);
    for (const gate of gates) gate.resolve('ok');
    await Promise.all(calls);
    for (const signal of signals) expect(signal.aborted).toBe(false);
  });

  it('never hands a signal that still carries a listener (or an AbortSignal.any) to another call', async () => {
    const breaker = make(new FakeClock());
    let leaky: AbortSignal | undefined;
    await breaker.execute(async (signal) => {
      leaky = signal;
      signal.addEventListener('abort', () => undefined);
    });
    let derivedFrom: AbortSignal | undefined;
    await breaker.execute(async (signal) => {
      derivedFrom = signal;
      AbortSignal.any([signal]);
    });
    const later = new Set<AbortSignal>();
    for (let i = 0; i < 200; i++) await breaker.execute(async (signal) => void later.add(signal));
    expect(later.has(leaky!)).toBe(false);
    expect(later.has(derivedFrom!)).toBe(false);
    // A signal left clean is reused (that is what keeps the closed state cheap).
    expect(later.size).toBeLessThan(200);
  });
});

describe('circuitBreaker: timers and instrumentation', () => {
  it('holds a timer only while a probe is in flight', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { consecutiveFailures: 1 });
    await breaker.execute(ok);
    expect(clock.pendingTimers).toBe(0);
    const slow = deferred<string>();
    const slowCall = breaker.execute(() => slow.promise);
    expect(clock.pendingTimers).toBe(0); // closed: no timer per call
    await outcome(breaker, boom);
    expect(clock.pendingTimers).toBe(0); // open
    clock.advance(60_000);
    expect(clock.pendingTimers).toBe(0); // open past its duration, idle
    const probe = deferred<string>();
    const probeCall = breaker.execute(() => probe.promise);
    expect(clock.pendingTimers).toBe(1); // the probe
    probe.reject(new Error('still down'));
    await expect(probeCall).rejects.toThrow('still down');
    expect(clock.pendingTimers).toBe(0);
    slow.resolve('done');
    await slowCall;
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports every transition and rejection, in order', async () => {
    const clock = new FakeClock();
    const { events, instrumentation } = recorder();
    const breaker = make(clock, { consecutiveFailures: 2, instrumentation });
    await trip(breaker, 2);
    await outcome(breaker, ok);
    clock.advance(10_000);
    await outcome(breaker, boom); // probe fails
    await outcome(breaker, ok);
    clock.advance(10_000);
    await breaker.execute(ok); // probe succeeds
    breaker.isolate();
    await outcome(breaker, ok);
    breaker.reset();
    expect(events).toEqual([
      'b: closed -> open',
      'b: rejected while open',
      'b: open -> half_open',
      'b: half_open -> open',
      'b: rejected while open',
      'b: open -> half_open',
      'b: half_open -> closed',
      'b: closed -> open',
      'b: rejected while open',
      'b: open -> closed',
    ]);
  });

  it('survives an instrumentation that throws', async () => {
    const clock = new FakeClock();
    const throwing: ResilienceInstrumentation = {
      stateChanged: () => {
        throw new Error('metrics down');
      },
      breakerRejected: () => {
        throw new Error('metrics down');
      },
      timedOut: () => undefined,
      retryAttempt: () => undefined,
      bulkheadRejected: () => undefined,
    };
    const breaker = make(clock, { consecutiveFailures: 1, instrumentation: throwing });
    await expect(breaker.execute(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
    expect(isCircuitOpenError(await outcome(breaker, ok))).toBe(true);
  });
});

describe('circuitBreaker: isolate and reset', () => {
  it('isolate() holds it open (no probe after openDurationMs) until reset()', async () => {
    const clock = new FakeClock();
    const breaker = make(clock);
    breaker.isolate();
    expect(breaker.state).toBe('open');
    clock.advance(3_600_000);
    let calls = 0;
    expect(isCircuitOpenError(await outcome(breaker, () => (calls++, ok())))).toBe(true);
    expect(calls).toBe(0);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it('reset() starts a fresh window and ignores calls already running', async () => {
    const clock = new FakeClock();
    const breaker = make(clock, { minimumCalls: 2 });
    const running = deferred<string>();
    const call = track(breaker.execute(() => running.promise));
    await outcome(breaker, ok);
    breaker.reset();
    await outcome(breaker, boom);
    running.reject(new Error('old'));
    await flush();
    expect(call.settled).toBe(true);
    // Counted, the old failure would make 2 failures / 2 calls in the fresh window, and trip.
    expect(breaker.state).toBe('closed');
  });
});

describe('circuitBreaker: adaptive mode (SRE client-side throttling)', () => {
  function adaptive(clock: FakeClock, randoms: number[], instrumentation?: ResilienceInstrumentation): { breaker: CircuitBreaker; draws: () => number } {
    let draws = 0;
    const breaker = circuitBreaker({
      name: 'a',
      clock,
      instrumentation,
      mode: {
        kind: 'adaptive',
        random: () => {
          draws++;
          const r = randoms.shift();
          if (r === undefined) throw new Error('no random number left');
          return r;
        },
      },
    });
    return { breaker, draws: () => draws };
  }

  it('rejects nothing (and draws no random number) while everything is accepted', async () => {
    const clock = new FakeClock();
    const { breaker, draws } = adaptive(clock, []);
    for (let i = 0; i < 100; i++) await breaker.execute(ok);
    expect(breaker.rejectProbability).toBe(0);
    expect(breaker.state).toBe('closed');
    expect(draws()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects with probability max(0, (requests - k * accepts) / (requests + 1))', async () => {
    const clock = new FakeClock();
    const { events, instrumentation } = recorder();
    const { breaker } = adaptive(clock, [], instrumentation);
    await breaker.execute(ok);
    await breaker.execute(ok);
    // requests 2, accepts 2: (2 - 4) / 3 < 0.
    expect(breaker.rejectProbability).toBe(0);
    await outcome(breaker, boom);
    await outcome(breaker, boom);
    expect(breaker.rejectProbability).toBe(0); // 4 - 4 = 0
    expect(breaker.state).toBe('closed');
    await outcome(breaker, boom); // (5 - 4) / 6 > 0: from here on a random number is drawn per request
    expect(breaker.rejectProbability).toBeCloseTo(1 / 6, 12);
    expect(breaker.state).toBe('open');
    expect(events).toEqual(['a: closed -> open']);
  });

  it('draws against the probability, counting local rejections as requests', async () => {
    const clock = new FakeClock();
    const { events, instrumentation } = recorder();
    const randoms = [0.99, 0.99, 0.99, 0.99, 0.99, 0.5, 0.6];
    const { breaker } = adaptive(clock, randoms, instrumentation);
    await breaker.execute(ok);
    await breaker.execute(ok);
    // From the 4th failure on, (requests - 2 * accepts) > 0: each request draws (0.99: admitted).
    for (let i = 0; i < 8; i++) await outcome(breaker, boom);
    // requests 10, accepts 2: (10 - 4) / 11.
    expect(breaker.rejectProbability).toBeCloseTo(6 / 11, 12);
    let calls = 0;
    const rejected = await outcome(breaker, () => (calls++, ok())); // 0.5 < 6/11: rejected
    expect(rejected).toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(0);
    // The rejection counts as a request: (11 - 4) / 12.
    expect(breaker.rejectProbability).toBeCloseTo(7 / 12, 12);
    await expect(breaker.execute(ok)).resolves.toBe('ok'); // 0.6 >= 7/12: admitted
    // requests 12, accepts 3: (12 - 6) / 13.
    expect(breaker.rejectProbability).toBeCloseTo(6 / 13, 12);
    expect(randoms).toEqual([]);
    expect(events).toEqual(['a: closed -> open', 'a: rejected while open']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('forgets the window after windowMs and reports closed again', async () => {
    const clock = new FakeClock();
    const { events, instrumentation } = recorder();
    const { breaker } = adaptive(clock, [0.99], instrumentation);
    for (let i = 0; i < 2; i++) await outcome(breaker, boom); // the 2nd draws
    expect(breaker.state).toBe('open');
    clock.advance(120_000);
    expect(breaker.rejectProbability).toBe(0);
    await breaker.execute(ok); // no draw
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['a: closed -> open', 'a: open -> closed']);
  });

  it('does not count a call whose caller aborted', async () => {
    const clock = new FakeClock();
    const { breaker } = adaptive(clock, []);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await outcome(breaker, ok, { signal: controller.signal });
    const inFlight = new AbortController();
    const call = breaker.execute(() => Promise.reject(new Error('aborted')), { signal: inFlight.signal });
    inFlight.abort();
    await expect(call).rejects.toThrow('aborted');
    expect(breaker.rejectProbability).toBe(0);
  });

  it('AdaptiveThrottle alone: the formula with k = 1.5', () => {
    let draws = 0;
    const throttle = new AdaptiveThrottle(1.5, 60_000, 6, () => (draws++, 0), 0);
    for (let i = 0; i < 4; i++) throttle.record(0, true);
    for (let i = 0; i < 6; i++) throttle.record(0, false);
    // (10 - 1.5 * 4) / 11
    expect(throttle.rejectProbability(0)).toBeCloseTo(4 / 11, 12);
    expect(throttle.shouldReject(0)).toBe(true); // 0 < 4/11
    expect([throttle.requests, throttle.accepts]).toEqual([11, 4]);
    expect(draws).toBe(1);
    expect(throttle.rejectProbability(60_000)).toBe(0);
  });
});

describe('circuitBreaker: option validation', () => {
  const cases: [CircuitBreakerOptions, string][] = [
    [{ name: '' }, 'circuitBreaker.name: should be a non-empty string, got ""'],
    [{ clock: {} as never }, 'circuitBreaker.clock: should be a Clock { now, setTimeout, clearTimeout }, got an object'],
    [{ instrumentation: {} as never }, 'circuitBreaker.instrumentation: should be a ResilienceInstrumentation { stateChanged, breakerRejected, timedOut, ... }, got an object'],
    [{ windowMs: 0 }, 'circuitBreaker.windowMs: should be a positive finite number of milliseconds, got 0'],
    [{ windowMs: Infinity }, 'circuitBreaker.windowMs: should be a positive finite number of milliseconds, got Infinity'],
    [{ bucketCount: 2.5 }, 'circuitBreaker.bucketCount: should be a positive integer, got 2.5'],
    [{ windowMs: 5, bucketCount: 10 }, 'circuitBreaker.bucketCount: should be at most windowMs (5): buckets of at least 1 ms, got 10'],
    [{ failureRateThreshold: 50 }, 'circuitBreaker.failureRateThreshold: should be a fraction in (0, 1] (0.5 means 50%), got 50'],
    [{ failureRateThreshold: 0 }, 'circuitBreaker.failureRateThreshold: should be a fraction in (0, 1] (0.5 means 50%), got 0'],
    [{ slowCallDurationMs: 0 }, 'circuitBreaker.slowCallDurationMs: should be a positive number of milliseconds (Infinity: never), got 0'],
    [{ slowCallRateThreshold: NaN }, 'circuitBreaker.slowCallRateThreshold: should be a fraction in (0, 1] (0.5 means 50%), got NaN'],
    [{ minimumCalls: 0 }, 'circuitBreaker.minimumCalls: should be a positive integer, got 0'],
    [{ consecutiveFailures: 0 }, 'circuitBreaker.consecutiveFailures: should be a positive integer, got 0'],
    [{ openDurationMs: -1 }, 'circuitBreaker.openDurationMs: should be a positive finite number of milliseconds, got -1'],
    [{ halfOpenProbes: 0 }, 'circuitBreaker.halfOpenProbes: should be a positive integer, got 0'],
    [{ halfOpenProbes: '2' as never }, 'circuitBreaker.halfOpenProbes: should be a positive integer, got "2"'],
    [{ probeTimeoutMs: Infinity }, 'circuitBreaker.probeTimeoutMs: should be a positive finite number of milliseconds, got Infinity'],
    [{ isFailure: true as never }, 'circuitBreaker.isFailure: should be a function (error) => boolean, got true'],
    [{ mode: 'fast' as never }, `circuitBreaker.mode: should be 'standard' or { kind: 'adaptive' }, got "fast"`],
    [{ mode: { kind: 'adaptive', k: 0.5 } }, 'circuitBreaker.mode.k: should be a finite number >= 1, got 0.5'],
    [{ mode: { kind: 'adaptive', windowMs: 0 } }, 'circuitBreaker.mode.windowMs: should be a positive finite number of milliseconds, got 0'],
    [{ mode: { kind: 'adaptive', windowMs: 5 } }, 'circuitBreaker.bucketCount: should be at most mode.windowMs (5): buckets of at least 1 ms, got 10'],
    [{ mode: { kind: 'adaptive', random: 0.5 as never } }, 'circuitBreaker.mode.random: should be a function returning a number in [0, 1), got 0.5'],
  ];

  it.each(cases)('rejects %o', (options, message) => {
    let thrown: unknown;
    try {
      circuitBreaker({ clock: new FakeClock(), ...options });
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionError(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(message);
  });

  it('rejects a non-object', () => {
    expect(() => circuitBreaker(42 as never)).toThrow('circuitBreaker: expects an options object or nothing, got 42');
  });
});

describe('circuitBreaker defaults: an outage is detected in seconds', () => {
  /** Calls every 250 ms (4 calls/s) until the breaker opens or `limitMs` passes; returns the time it took to open. */
  async function timeToOpen(clock: FakeClock, breaker: CircuitBreaker, limitMs: number): Promise<number> {
    const start = clock.now();
    while (clock.now() - start <= limitMs) {
      await outcome(breaker, boom);
      if (breaker.state === 'open') return clock.now() - start;
      clock.advance(250);
    }
    return Infinity;
  }

  async function healthy(clock: FakeClock, breaker: CircuitBreaker, ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 250) {
      await breaker.execute(ok);
      clock.advance(250);
    }
  }

  // Several phases: the outage starts at any point of a bucket.
  it.each([0, 1, 125, 249, 377, 499])('opens within 5 s after 10 healthy minutes at 4 calls/s (phase %i ms)', async (phase) => {
    const clock = new FakeClock(1_700_000_000_000 + phase);
    const breaker = circuitBreaker({ clock });
    await healthy(clock, breaker, 600_000);
    expect(breaker.state).toBe('closed');
    const ms = await timeToOpen(clock, breaker, 10_000);
    expect(ms).toBeLessThanOrEqual(5_000);
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([0, 125, 377])('opens within 5 s again when a second outage starts 30 s after recovery (phase %i ms)', async (phase) => {
    const clock = new FakeClock(1_700_000_000_000 + phase);
    const { events, instrumentation } = recorder();
    const breaker = circuitBreaker({ clock, instrumentation });
    await healthy(clock, breaker, 600_000);
    expect(await timeToOpen(clock, breaker, 10_000)).toBeLessThanOrEqual(5_000);
    // The dependency recovers; callers keep calling at 4/s and are rejected until the probe.
    let closedAt: number | undefined;
    for (let i = 0; i < 100 && closedAt === undefined; i++) {
      clock.advance(250);
      await outcome(breaker, ok);
      if (breaker.state === 'closed') closedAt = clock.now();
    }
    expect(closedAt).toBeDefined();
    await healthy(clock, breaker, 30_000);
    expect(breaker.state).toBe('closed');
    expect(await timeToOpen(clock, breaker, 10_000)).toBeLessThanOrEqual(5_000);
    expect(events.filter((e) => !e.includes('rejected'))).toEqual([
      'breaker: closed -> open',
      'breaker: open -> half_open',
      'breaker: half_open -> closed',
      'breaker: closed -> open',
    ]);
  });
});
