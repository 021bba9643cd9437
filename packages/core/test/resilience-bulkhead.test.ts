import { describe, expect, it } from 'vitest';
import { BulkheadRejectedError, isBulkheadRejectedError, isTimeoutError } from '../src/errors/resilience-errors.js';
import { bulkhead } from '../src/resilience/bulkhead.js';
import { FakeClock } from './support/fake-clock.js';
import { flush, track } from './support/async.js';
import { recorder } from './support/resilience-recorder.js';

/** Work the test finishes by hand: `started` lists the labels that began, `finish(label)` resolves one. */
function gate(): {
  started: string[];
  signals: Map<string, AbortSignal>;
  work: (label: string) => (signal: AbortSignal) => Promise<string>;
  finish: (label: string, error?: Error) => void;
} {
  const started: string[] = [];
  const signals = new Map<string, AbortSignal>();
  const pending = new Map<string, { resolve: (value: string) => void; reject: (error: Error) => void }>();
  return {
    started,
    signals,
    work: (label) => (signal) => {
      started.push(label);
      signals.set(label, signal);
      return new Promise<string>((resolve, reject) => pending.set(label, { resolve, reject }));
    },
    finish: (label, error) => {
      const entry = pending.get(label);
      if (error === undefined) entry?.resolve(label);
      else entry?.reject(error);
    },
  };
}

describe('bulkhead: concurrency', () => {
  it('runs at most maxConcurrent calls and starts queued ones first in, first out', async () => {
    const policy = bulkhead({ maxConcurrent: 2, queueLimit: 3, clock: new FakeClock() });
    const { started, work, finish } = gate();
    const calls = ['a', 'b', 'c', 'd', 'e'].map((label) => track(policy.execute(work(label))));
    expect(started).toEqual(['a', 'b']);
    expect(policy.running).toBe(2);
    expect(policy.queued).toBe(3);
    finish('b');
    await flush();
    expect(calls[1]?.value).toBe('b');
    expect(started).toEqual(['a', 'b', 'c']);
    finish('a', new Error('a failed'));
    await flush();
    expect((calls[0]?.error as Error).message).toBe('a failed');
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(policy.running).toBe(2);
    expect(policy.queued).toBe(1);
    for (const label of ['c', 'd', 'e']) {
      finish(label);
      await flush();
    }
    expect(calls.slice(2).map((c) => c.value)).toEqual(['c', 'd', 'e']);
    expect(policy.running).toBe(0);
    expect(policy.queued).toBe(0);
  });

  it('frees the slot of work that throws synchronously', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await flush();
    expect(policy.running).toBe(0);
    await expect(policy.execute(async () => 'next')).resolves.toBe('next');
  });

  it('gives every call its own signal', async () => {
    const policy = bulkhead({ maxConcurrent: 1, queueLimit: 2 });
    const { signals, work, finish } = gate();
    const calls = ['a', 'b', 'c'].map((label) => track(policy.execute(work(label), { signal: new AbortController().signal })));
    for (const label of ['a', 'b', 'c']) {
      finish(label);
      await flush();
    }
    expect(calls.every((c) => c.settled)).toBe(true);
    expect(new Set(signals.values()).size).toBe(3);
  });
});

describe('bulkhead: rejection', () => {
  it('rejects at once, with a stackless BulkheadRejectedError, beyond the queue', async () => {
    const { calls, instrumentation } = recorder();
    const policy = bulkhead({ maxConcurrent: 1, queueLimit: 1, name: 'db', instrumentation });
    const { started, work } = gate();
    track(policy.execute(work('a')));
    track(policy.execute(work('b')));
    const error: unknown = await policy.execute(work('c')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(isBulkheadRejectedError(error)).toBe(true);
    expect((error as BulkheadRejectedError).policy).toBe('db');
    expect((error as Error).message).toBe('bulkhead "db" is full (1 running, 1 queued): the call was rejected');
    expect((error as Error).stack).not.toContain('\n    at ');
    expect(calls).toEqual([['bulkheadRejected', 'db']]);
    expect(started).toEqual(['a']);
    expect(policy.queued).toBe(1);
  });

  it('queues nothing by default', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    expect(policy.queueLimit).toBe(0);
    const { work } = gate();
    track(policy.execute(work('a')));
    await expect(policy.execute(work('b'))).rejects.toSatisfy(isBulkheadRejectedError);
  });
});

describe('bulkhead: abort', () => {
  it('a queued call whose caller aborts leaves the queue at once with the abort reason', async () => {
    const clock = new FakeClock();
    const policy = bulkhead({ maxConcurrent: 1, queueLimit: 2, clock });
    const { started, work, finish } = gate();
    const controller = new AbortController();
    track(policy.execute(work('a')));
    const b = track(policy.execute(work('b'), { signal: controller.signal }));
    const c = track(policy.execute(work('c')));
    expect(policy.queued).toBe(2);
    const reason = new Error('not needed');
    controller.abort(reason);
    expect(policy.queued).toBe(1);
    await flush();
    expect(b.error).toBe(reason);
    finish('a');
    await flush();
    expect(started).toEqual(['a', 'c']);
    finish('c');
    await flush();
    expect(c.value).toBe('c');
    expect(clock.pendingTimers).toBe(0);
  });

  it("aborts a running call's signal with the caller's reason and frees its slot", async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    const { signals, work } = gate();
    const controller = new AbortController();
    const a = track(policy.execute(work('a'), { signal: controller.signal }));
    const reason = new Error('stop');
    controller.abort(reason);
    await flush();
    expect(a.error).toBe(reason);
    expect(signals.get('a')?.reason).toBe(reason);
    expect(policy.running).toBe(0);
  });

  it('does not take a slot for a caller that already aborted', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    const reason = new Error('early');
    await expect(policy.execute(async () => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(policy.running).toBe(0);
  });
});

describe('bulkhead: deadline', () => {
  it('a call still queued at its deadline leaves the queue with a TimeoutError', async () => {
    const clock = new FakeClock();
    const policy = bulkhead({ maxConcurrent: 1, queueLimit: 1, clock, name: 'db' });
    const { started, work, finish } = gate();
    track(policy.execute(work('a')));
    const b = track(policy.execute(work('b'), { deadline: clock.now() + 100 }));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(100);
    await flush();
    expect(isTimeoutError(b.error)).toBe(true);
    expect((b.error as Error).message).toBe('call through "db" (its deadline passed while it was queued) timed out after 100 ms');
    expect(policy.queued).toBe(0);
    finish('a');
    await flush();
    expect(started).toEqual(['a']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('clears the queue timer when the call gets its slot in time', async () => {
    const clock = new FakeClock();
    const policy = bulkhead({ maxConcurrent: 1, queueLimit: 1, clock });
    const { work, finish } = gate();
    track(policy.execute(work('a')));
    const b = track(policy.execute(work('b'), { deadline: clock.now() + 100 }));
    finish('a');
    await flush();
    // b runs now; its attempt signal carries the deadline.
    expect(clock.pendingTimers).toBe(1);
    finish('b');
    await flush();
    expect(b.value).toBe('b');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('bulkhead: options', () => {
  it.each([
    [{ maxConcurrent: 0 }, 'bulkhead.maxConcurrent: should be a positive integer, got 0'],
    [{ maxConcurrent: 2.5 }, 'bulkhead.maxConcurrent: should be a positive integer, got 2.5'],
    [{}, 'bulkhead.maxConcurrent: should be a positive integer, got undefined'],
    [{ maxConcurrent: 1, queueLimit: -1 }, 'bulkhead.queueLimit: should be an integer >= 0, got -1'],
    [{ maxConcurrent: 1, queueLimit: Infinity }, 'bulkhead.queueLimit: should be an integer >= 0, got Infinity'],
    [{ maxConcurrent: 1, name: '' }, 'bulkhead.name: should be a non-empty string, got ""'],
    [undefined, 'bulkhead: expects an options object { maxConcurrent }'],
  ])('rejects %o', (options, message) => {
    expect(() => bulkhead(options as never)).toThrow(message);
  });
});
