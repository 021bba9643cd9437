// Deadlines and cancellation: what a handler sees (callDeadline(), callSignal()), when the signal
// aborts, and how a call made while handling another inherits the earlier deadline, down to
// failing without touching the network once the budget is spent.
import { SpanKind } from '@opentelemetry/api';
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { callDeadline, callSignal, incomingCall } from '@hitch/grpc';
import { describe, expect, it } from 'vitest';
import type { EchoClient, EchoHandlers } from './support/grpc-harness.js';
import { STATUS, callCount, deferred, serverOnlyTimeout, settledWithin, startUnary, unary, unaryError, useHarness } from './support/grpc-harness.js';

const h = useHarness();

/** Resolves with the signal's reason once it aborts. */
function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

/** What a handler saw of its call. */
interface Seen {
  deadline: number | undefined;
  signal: AbortSignal | undefined;
  /** Whether the signal had aborted when the handler started. */
  abortedAtStart: boolean | undefined;
  /** `deadline - Date.now()` when the handler started. */
  remainingMs: number;
}

function see(): Seen {
  const deadline = callDeadline();
  const signal = callSignal();
  return { deadline, signal, abortedAtStart: signal?.aborted, remainingMs: (deadline ?? NaN) - Date.now() };
}

describe('callDeadline() and callSignal() in a handler', () => {
  it('a handler sees the deadline the caller set, and a signal not aborted', async () => {
    h.createHitch();
    let seen: Seen | undefined;
    const server = await h.serve({
      echo: (_call, callback) => {
        seen = see();
        callback(null, {});
      },
    });
    const before = Date.now();
    const deadline = before + 5_000;
    await unary(h.client(server.address), 'echo', {}, { deadline });
    const after = Date.now();

    // The deadline travels as a relative grpc-timeout: the server's clock starts when the call arrives.
    expect(seen?.deadline).toBeGreaterThanOrEqual(deadline);
    expect(seen?.deadline).toBeLessThanOrEqual(deadline + (after - before));
    expect(seen?.signal).toBeInstanceOf(AbortSignal);
    expect(seen?.abortedAtStart).toBe(false);
  });

  it('without a deadline, callDeadline() is Infinity', async () => {
    h.createHitch();
    let seen: Seen | undefined;
    const server = await h.serve({
      echo: (_call, callback) => {
        seen = see();
        callback(null, {});
      },
    });
    await unary(h.plainClient(server.address), 'echo', {});

    expect(seen?.deadline).toBe(Infinity);
    expect(seen?.abortedAtStart).toBe(false);
  });

  it('outside a handler there is no incoming call', () => {
    h.createHitch();
    expect(callDeadline()).toBeUndefined();
    expect(callSignal()).toBeUndefined();
    expect(incomingCall()).toBeUndefined();
  });

  it('the signal aborts when the client cancels the call', async () => {
    h.createHitch();
    const entered = deferred();
    const reason = deferred<unknown>();
    const server = await h.serve({
      echo: async (_call, callback) => {
        const signal = callSignal()!;
        entered.resolve();
        reason.resolve(await aborted(signal));
        callback(null, {});
      },
    });
    const { call, outcome } = startUnary(h.client(server.address), 'echo', {}, { deadline: Date.now() + 5_000 });
    await entered.promise;
    call.cancel();

    expect(await reason.promise).toMatchObject({ message: 'cancelled by the client' });
    const result = await outcome;
    expect(result.ok ? undefined : result.error.code).toBe(status.CANCELLED);
    const span = await h.span(SpanKind.SERVER, 'Echo');
    expect(span.attributes['rpc.status_code']).toBe('CANCELLED');
    // The caller gave up: not a fault of the server.
    expect(span.status.code).toBe(STATUS.UNSET);
  });

  it('the signal aborts when the deadline of the call passes', async () => {
    h.createHitch();
    const reason = deferred<unknown>();
    const server = await h.serve({
      echo: async () => {
        // Never answers: waits for the deadline.
        reason.resolve(await aborted(callSignal()!));
      },
    });
    const error = await unaryError(h.client(server.address), 'echo', {}, { deadline: Date.now() + 200 });

    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    // Which comes first, the client's cancellation or the server's own timer, is a race on a real
    // connection: the signal aborts either way.
    expect(await settledWithin(reason.promise, 'the abort of callSignal()')).toBeInstanceOf(Error);
    expect((await h.span(SpanKind.SERVER, 'Echo')).attributes['rpc.status_code']).toMatch(/^(DEADLINE_EXCEEDED|CANCELLED)$/);
  });

  it('when the server\'s own deadline passes: the signal aborts, DEADLINE_EXCEEDED, an ERROR span', async () => {
    h.createHitch();
    const reason = deferred<unknown>();
    const server = await h.serve({
      echo: async () => {
        reason.resolve(await aborted(callSignal()!));
      },
    });
    const error = await unaryError(h.plainClient(server.address), 'echo', {}, { metadata: serverOnlyTimeout(100) });

    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    expect(await settledWithin(reason.promise, 'the abort of callSignal()')).toMatchObject({ message: 'deadline exceeded' });
    const span = await h.span(SpanKind.SERVER, 'Echo');
    expect(span.attributes['rpc.status_code']).toBe('DEADLINE_EXCEEDED');
    expect(span.status.code).toBe(STATUS.ERROR);
    expect(callCount(await h.metrics(), 'server', 'Echo', 'DEADLINE_EXCEEDED')).toBe(1);
  });

  it('the signal aborts once the call is answered, stopping work left behind', async () => {
    h.createHitch();
    let signal: AbortSignal | undefined;
    const server = await h.serve({
      echo: (_call, callback) => {
        signal = callSignal();
        callback(null, { message: 'answered' });
      },
    });
    await unary(h.client(server.address), 'echo', {}, { deadline: Date.now() + 5_000 });

    expect(await aborted(signal!)).toMatchObject({ message: 'call ended with OK' });
  });
});

describe('deadline propagation to calls made in a handler', () => {
  /** B: remembers what it saw, answers. */
  function recordingEcho(seen: Seen[], counter = { calls: 0 }): EchoHandlers {
    return {
      echo: (_call, callback) => {
        counter.calls++;
        seen.push(see());
        callback(null, {});
      },
    };
  }

  /** A: remembers what it saw, then relays to `next` with its own `deadline` (or none). */
  function recordingRelay(seen: Seen[], next: () => EchoClient, method: 'echo' | 'relay', ownDeadline?: () => number): EchoHandlers {
    return {
      relay: (call, callback) => {
        seen.push(see());
        next()[method](call.request, new Metadata(), ownDeadline === undefined ? {} : { deadline: ownDeadline() }, (error, reply) => callback(error, reply));
      },
    };
  }

  it('an outgoing call whose own deadline is later gets the incoming one', async () => {
    h.createHitch();
    const seenA: Seen[] = [];
    const seenB: Seen[] = [];
    const b = await h.serve(recordingEcho(seenB));
    const toB = h.client(b.address);
    const a = await h.serve(recordingRelay(seenA, () => toB, 'echo', () => Date.now() + 60_000));
    await unary(h.client(a.address), 'relay', {}, { deadline: Date.now() + 5_000 });

    expect(seenA[0]!.remainingMs).toBeLessThanOrEqual(5_000);
    expect(seenB[0]!.remainingMs).toBeGreaterThan(0);
    expect(seenB[0]!.remainingMs).toBeLessThanOrEqual(seenA[0]!.remainingMs);
  });

  it('an outgoing call whose own deadline is earlier keeps it', async () => {
    h.createHitch();
    const seenA: Seen[] = [];
    const seenB: Seen[] = [];
    const b = await h.serve(recordingEcho(seenB));
    const toB = h.client(b.address);
    const a = await h.serve(recordingRelay(seenA, () => toB, 'echo', () => Date.now() + 2_000));
    await unary(h.client(a.address), 'relay', {}, { deadline: Date.now() + 30_000 });

    expect(seenA[0]!.remainingMs).toBeGreaterThan(2_000);
    expect(seenB[0]!.remainingMs).toBeGreaterThan(0);
    expect(seenB[0]!.remainingMs).toBeLessThanOrEqual(2_000);
  });

  it('an incoming deadline reaches an outgoing call that sets none', async () => {
    h.createHitch();
    const seenA: Seen[] = [];
    const seenB: Seen[] = [];
    const b = await h.serve(recordingEcho(seenB));
    const toB = h.client(b.address);
    const a = await h.serve(recordingRelay(seenA, () => toB, 'echo'));
    await unary(h.client(a.address), 'relay', {}, { deadline: Date.now() + 5_000 });

    expect(seenB[0]!.deadline).not.toBe(Infinity);
    expect(seenB[0]!.remainingMs).toBeLessThanOrEqual(seenA[0]!.remainingMs);
  });

  it('no deadline anywhere: none downstream', async () => {
    h.createHitch();
    const seenA: Seen[] = [];
    const seenB: Seen[] = [];
    const b = await h.serve(recordingEcho(seenB));
    const toB = h.client(b.address);
    const a = await h.serve(recordingRelay(seenA, () => toB, 'echo'));
    await unary(h.client(a.address), 'relay', {});

    expect(seenA[0]!.deadline).toBe(Infinity);
    expect(seenB[0]!.deadline).toBe(Infinity);
  });

  it('the budget shrinks across hops: client -> A -> B -> C', async () => {
    h.createHitch();
    const seen = { a: [] as Seen[], b: [] as Seen[], c: [] as Seen[] };
    const c = await h.serve(recordingEcho(seen.c));
    const toC = h.client(c.address);
    const b = await h.serve(recordingRelay(seen.b, () => toC, 'echo', () => Date.now() + 60_000));
    const toB = h.client(b.address);
    const a = await h.serve(recordingRelay(seen.a, () => toB, 'relay', () => Date.now() + 60_000));
    await unary(h.client(a.address), 'relay', {}, { deadline: Date.now() + 5_000 });

    const [ra, rb, rc] = [seen.a[0]!.remainingMs, seen.b[0]!.remainingMs, seen.c[0]!.remainingMs];
    expect(ra).toBeLessThanOrEqual(5_000);
    expect(rb).toBeLessThanOrEqual(ra);
    expect(rc).toBeLessThanOrEqual(rb);
    expect(rc).toBeGreaterThan(0);
  });

  it('a call whose deadline has already passed fails with DEADLINE_EXCEEDED without reaching the server', async () => {
    h.createHitch();
    const counter = { calls: 0 };
    const b = await h.serve(recordingEcho([], counter));
    const error = await unaryError(h.client(b.address), 'echo', {}, { deadline: Date.now() - 1 });

    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    expect(counter.calls).toBe(0);
    const span = await h.span(SpanKind.CLIENT, 'Echo');
    expect(span.ended).toBe(true);
    expect(span.attributes['rpc.status_code']).toBe('DEADLINE_EXCEEDED');
    expect(span.status.code).toBe(STATUS.ERROR);
    expect(h.spans({ kind: SpanKind.SERVER })).toEqual([]);
    const body = await h.metrics();
    expect(callCount(body, 'client', 'Echo', 'DEADLINE_EXCEEDED')).toBe(1);
    expect(callCount(body, 'server', 'Echo', 'DEADLINE_EXCEEDED')).toBe(0);
  });

  it('a call made after the incoming deadline passed fails fast, and its span ends', async () => {
    h.createHitch();
    const counter = { calls: 0 };
    const b = await h.serve(recordingEcho([], counter));
    const toB = h.client(b.address);
    const downstream = deferred<ServiceError | null>();
    const a = await h.serve({
      relay: async () => {
        await aborted(callSignal()!);
        // The caller has given up; B is called anyway, with no deadline of its own.
        toB.echo({}, new Metadata(), {}, (error) => downstream.resolve(error));
      },
    });
    const error = await unaryError(h.plainClient(a.address), 'relay', {}, { metadata: serverOnlyTimeout(100) });
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);

    const toBError = await settledWithin(downstream.promise, 'the call to B');
    expect(toBError?.code).toBe(status.DEADLINE_EXCEEDED);
    expect(toBError?.details).toContain('deadline already passed');
    expect(counter.calls).toBe(0);
    const clientSpan = await h.span(SpanKind.CLIENT, 'Echo');
    const serverA = await h.span(SpanKind.SERVER, 'Relay');
    expect(clientSpan.ended).toBe(true);
    expect(clientSpan.parentSpanContext?.spanId).toBe(serverA.spanContext().spanId);
    expect(clientSpan.attributes['rpc.status_code']).toBe('DEADLINE_EXCEEDED');
    expect(h.spans({ kind: SpanKind.SERVER, method: 'Echo' })).toEqual([]);
  });
});
