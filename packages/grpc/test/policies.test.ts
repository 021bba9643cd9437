import { idempotentMethodsOf } from '@hitch/grpc';
import type { ClientPolicyOptions } from '@hitch/grpc';
import { status as Status } from '@grpc/grpc-js';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ECHO_SERVICE,
  EchoClient,
  GrpcHarness,
  clientObservations,
  connected,
  create,
  echo,
  fail,
  hold,
  ok,
  serverStream,
  startEcho,
} from './support/policy-harness.js';
import type { EchoBackend, Served } from './support/policy-harness.js';

// The client policies of createClient (retries of idempotent methods on retryable codes, a
// breaker per target and method, per-attempt timeouts, cancellation) over real gRPC on loopback,
// against a plain grpc-js server that fails on command and counts the calls it sees.

const harness = new GrpcHarness();
afterEach(() => harness.dispose());

/** Retries with 1 ms between attempts and no retry budget: quick, and every retry allowed. */
const quickRetry = { backoff: { kind: 'constant', delayMs: 1 }, budget: false } as const;

/** A breaker that opens after 2 failures in a row and stays open for the whole test. */
const quickBreaker = { consecutiveFailures: 2, openDurationMs: 600_000 } as const;

interface Setup {
  readonly backend: EchoBackend;
  readonly served: Served;
  readonly client: EchoClient;
}

async function setup(policy: ClientPolicyOptions | undefined): Promise<Setup> {
  harness.createHitch();
  const backend = harness.backend();
  const served = await harness.servePlain(backend);
  const client = harness.client(served.address, policy);
  await connected(client);
  return { backend, served, client };
}

/** `rpc.status_code` of the CLIENT spans of `method`, in the order they ended. */
const spanCodes = (method: string): unknown[] => harness.clientSpans(method).map((span) => span.attributes['rpc.status_code']);

describe('idempotentMethodsOf', () => {
  it("lists the methods the proto marks idempotency_level = IDEMPOTENT, by full name", () => {
    expect(idempotentMethodsOf(EchoClient.service)).toEqual([`${ECHO_SERVICE}/Echo`]);
  });
});

describe('retries', () => {
  it('retries an idempotent method on UNAVAILABLE with the default policy ({}), and succeeds', async () => {
    const { backend, client } = await setup({});
    backend.script('Echo', fail(Status.UNAVAILABLE), fail(Status.UNAVAILABLE));
    const result = await echo(client, { message: 'again' });
    expect(result).toMatchObject({ code: Status.OK, reply: { message: 'again' } });
    expect(backend.calls('Echo')).toBe(3);
    // Each attempt is a CLIENT span and an observation of its own.
    expect(spanCodes('Echo')).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'OK']);
    expect(await clientObservations(harness.hitch, { rpc_method: 'Echo', rpc_status_code: 'UNAVAILABLE' })).toBe(2);
    expect(await clientObservations(harness.hitch, { rpc_method: 'Echo', rpc_status_code: 'OK' })).toBe(1);
  });

  it('makes the attempts siblings under the caller\'s span, each failed one an error span', async () => {
    const { backend, client } = await setup({ retry: quickRetry });
    backend.script('Echo', fail(Status.UNAVAILABLE));
    let caller: { traceId: string; spanId: string } | undefined;
    const result = await harness.hitch.withSpan('caller', (span) => {
      caller = span.spanContext();
      return echo(client);
    });
    expect(result.code).toBe(Status.OK);
    const attempts = harness.clientSpans('Echo');
    expect(attempts).toHaveLength(2);
    for (const attempt of attempts) {
      expect(attempt.spanContext().traceId).toBe(caller!.traceId);
      expect(attempt.parentSpanContext?.spanId).toBe(caller!.spanId);
    }
    expect(attempts[0]!.spanContext().spanId).not.toBe(attempts[1]!.spanContext().spanId);
    expect(attempts.map((span) => span.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
  });

  it('does not retry a method the proto does not mark idempotent (Create)', async () => {
    const { backend, client } = await setup({ retry: quickRetry });
    backend.script('Create', fail(Status.UNAVAILABLE, 'try later'));
    expect(await create(client)).toEqual({ code: Status.UNAVAILABLE, details: 'try later' });
    expect(backend.calls('Create')).toBe(1);
    expect(spanCodes('Create')).toEqual(['UNAVAILABLE']);
  });

  it.each([
    { key: 'Create', name: 'by method name' },
    { key: `${ECHO_SERVICE}/Create`, name: 'by full name' },
  ])('retries Create once policy.methods marks it idempotent ($name)', async ({ key }) => {
    const { backend, client } = await setup({ retry: quickRetry, methods: { [key]: { idempotent: true } } });
    backend.script('Create', fail(Status.UNAVAILABLE));
    expect(await create(client)).toMatchObject({ code: Status.OK });
    expect(backend.calls('Create')).toBe(2);
  });

  it('lets policy.methods take idempotency away from a method the proto marks', async () => {
    const { backend, client } = await setup({ retry: quickRetry, methods: { Echo: { idempotent: false } } });
    backend.script('Echo', fail(Status.UNAVAILABLE));
    expect((await echo(client)).code).toBe(Status.UNAVAILABLE);
    expect(backend.calls('Echo')).toBe(1);
  });

  it.each([Status.INTERNAL, Status.NOT_FOUND, Status.UNKNOWN, Status.RESOURCE_EXHAUSTED, Status.DEADLINE_EXCEEDED, Status.ABORTED])(
    'does not retry status %s by default, even for an idempotent method',
    async (code) => {
      const { backend, client } = await setup({ retry: quickRetry });
      backend.script('Echo', fail(code, 'no'));
      expect(await echo(client)).toEqual({ code, details: 'no' });
      expect(backend.calls('Echo')).toBe(1);
    },
  );

  it('retries the codes a method opts into (retryableCodes), which replace the default list', async () => {
    const { backend, client } = await setup({ retry: quickRetry, methods: { Echo: { retryableCodes: [Status.INTERNAL, Status.NOT_FOUND] } } });
    backend.script('Echo', fail(Status.INTERNAL), fail(Status.NOT_FOUND));
    expect((await echo(client)).code).toBe(Status.OK);
    expect(backend.calls('Echo')).toBe(3);

    // UNAVAILABLE is no longer in this method's list.
    backend.script('Echo', fail(Status.UNAVAILABLE));
    expect((await echo(client)).code).toBe(Status.UNAVAILABLE);
    expect(backend.calls('Echo')).toBe(4);
  });

  it("retries the policy's retryableCodes for every idempotent method", async () => {
    const { backend, client } = await setup({ retry: quickRetry, retryableCodes: [Status.RESOURCE_EXHAUSTED] });
    backend.script('Echo', fail(Status.RESOURCE_EXHAUSTED));
    expect((await echo(client)).code).toBe(Status.OK);
    expect(backend.calls('Echo')).toBe(2);
  });

  it.each([1, 2, 4])('makes at most retry.maxAttempts = %i attempts, then answers the last status', async (maxAttempts) => {
    const { backend, client } = await setup({ retry: { ...quickRetry, maxAttempts } });
    backend.always('Echo', fail(Status.UNAVAILABLE, 'down'));
    expect(await echo(client)).toEqual({ code: Status.UNAVAILABLE, details: 'down' });
    expect(backend.calls('Echo')).toBe(maxAttempts);
    expect(spanCodes('Echo')).toEqual(Array.from({ length: maxAttempts }, () => 'UNAVAILABLE'));
    expect(await clientObservations(harness.hitch, { rpc_method: 'Echo', rpc_status_code: 'UNAVAILABLE' })).toBe(maxAttempts);
  });

  it('does not retry with retry: false', async () => {
    const { backend, client } = await setup({ retry: false });
    backend.script('Echo', fail(Status.UNAVAILABLE));
    expect((await echo(client)).code).toBe(Status.UNAVAILABLE);
    expect(backend.calls('Echo')).toBe(1);
  });

  it('does not retry without a policy (spans and metrics only)', async () => {
    const { backend, client } = await setup(undefined);
    backend.script('Echo', fail(Status.UNAVAILABLE));
    expect((await echo(client)).code).toBe(Status.UNAVAILABLE);
    expect(backend.calls('Echo')).toBe(1);
    expect(spanCodes('Echo')).toEqual(['UNAVAILABLE']);
  });

  it("answers the server's own status when the retry budget is spent", async () => {
    const { backend, client } = await setup({ retry: { ...quickRetry, budget: { ratio: 0, minRetriesPerSecond: 0 } } });
    backend.script('Echo', fail(Status.UNAVAILABLE, 'overloaded'));
    expect(await echo(client)).toEqual({ code: Status.UNAVAILABLE, details: 'overloaded' });
    expect(backend.calls('Echo')).toBe(1);
  });

  it('does not retry server-streaming calls', async () => {
    const { backend, client } = await setup({ retry: quickRetry, methods: { ServerStream: { idempotent: true } } });
    backend.script('ServerStream', fail(Status.UNAVAILABLE, 'down'));
    expect(await serverStream(client)).toMatchObject({ code: Status.UNAVAILABLE, details: 'down', reply: [] });
    expect(backend.calls('ServerStream')).toBe(1);
    expect(await serverStream(client, { message: 'm', count: 2 })).toMatchObject({ code: Status.OK, reply: [{ message: 'm 0' }, { message: 'm 1' }] });
  });
});

describe('the breaker, per target and method', () => {
  it('opens after enough failures: the next call is answered UNAVAILABLE locally', async () => {
    const { backend, served, client } = await setup({ retry: false, breaker: quickBreaker });
    backend.always('Create', fail(Status.UNAVAILABLE, 'down'));
    expect(await create(client)).toEqual({ code: Status.UNAVAILABLE, details: 'down' });
    expect(await create(client)).toEqual({ code: Status.UNAVAILABLE, details: 'down' });
    expect(backend.calls('Create')).toBe(2);

    const rejected = await create(client);
    expect(rejected.code).toBe(Status.UNAVAILABLE);
    expect(rejected.details).toContain('circuit breaker');
    expect(rejected.details).toContain(`${served.address} ${ECHO_SERVICE}/Create`);
    expect(backend.calls('Create')).toBe(2);
  });

  it('keeps the other methods of the same target going', async () => {
    const { backend, client } = await setup({ retry: false, breaker: quickBreaker });
    backend.script('Create', fail(Status.INTERNAL), fail(Status.INTERNAL));
    await create(client);
    await create(client);
    expect((await create(client)).details).toContain('circuit breaker');

    expect(await echo(client, { message: 'still here' })).toMatchObject({ code: Status.OK, reply: { message: 'still here' } });
    expect(backend.calls('Echo')).toBe(1);
    expect(backend.calls('Create')).toBe(2);
  });

  it('keeps a client of another target going', async () => {
    harness.createHitch();
    const down = harness.backend().always('Create', fail(Status.UNAVAILABLE));
    const up = harness.backend();
    const a = harness.client((await harness.servePlain(down)).address, { retry: false, breaker: quickBreaker });
    const b = harness.client((await harness.servePlain(up)).address, { retry: false, breaker: quickBreaker });
    await create(a);
    await create(a);
    expect((await create(a)).details).toContain('circuit breaker');
    expect((await create(b)).code).toBe(Status.OK);
    expect(up.calls('Create')).toBe(1);
  });

  it('counts only codes that say the server is in trouble: NOT_FOUND and friends keep it closed', async () => {
    const { backend, client } = await setup({ retry: false, breaker: quickBreaker });
    const answers = [Status.NOT_FOUND, Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION, Status.PERMISSION_DENIED, Status.ALREADY_EXISTS];
    backend.script('Create', ...answers.map((code) => fail(code)));
    for (const code of answers) expect((await create(client)).code).toBe(code);
    expect((await create(client)).code).toBe(Status.OK);
    expect(backend.calls('Create')).toBe(answers.length + 1);
  });

  it('is off with breaker: false: every call reaches the server', async () => {
    const { backend, client } = await setup({ retry: false, breaker: false });
    backend.always('Create', fail(Status.UNAVAILABLE, 'down'));
    for (let i = 0; i < 6; i++) expect(await create(client)).toEqual({ code: Status.UNAVAILABLE, details: 'down' });
    expect(backend.calls('Create')).toBe(6);
  });

  it('sees every attempt of a retried call', async () => {
    const { backend, client } = await setup({ retry: { ...quickRetry, maxAttempts: 3 }, breaker: { consecutiveFailures: 3, openDurationMs: 600_000 } });
    backend.always('Echo', fail(Status.UNAVAILABLE, 'down'));
    expect(await echo(client)).toEqual({ code: Status.UNAVAILABLE, details: 'down' });
    expect(backend.calls('Echo')).toBe(3);
    expect((await echo(client)).details).toContain('circuit breaker');
    expect(backend.calls('Echo')).toBe(3);
  });

  it('rejects server-streaming calls locally while open', async () => {
    const { backend, client } = await setup({ retry: false, breaker: quickBreaker });
    backend.always('ServerStream', fail(Status.UNAVAILABLE, 'down'));
    expect(await serverStream(client)).toMatchObject({ code: Status.UNAVAILABLE, details: 'down' });
    expect(await serverStream(client)).toMatchObject({ code: Status.UNAVAILABLE, details: 'down' });
    expect(backend.calls('ServerStream')).toBe(2);

    const rejected = await serverStream(client);
    expect(rejected.code).toBe(Status.UNAVAILABLE);
    expect(rejected.details).toContain('circuit breaker');
    expect(rejected.reply).toEqual([]);
    expect(backend.calls('ServerStream')).toBe(2);
    // Unary methods of the target are not affected.
    expect((await echo(client)).code).toBe(Status.OK);
  });

  it('lets server-streaming calls through while closed, and counts their successes', async () => {
    const { backend, client } = await setup({ retry: false, breaker: quickBreaker });
    backend.script('ServerStream', fail(Status.UNAVAILABLE), ok, fail(Status.UNAVAILABLE), ok);
    for (let i = 0; i < 4; i++) await serverStream(client);
    // Never two failures in a row: still closed.
    expect(await serverStream(client, { message: 'm', count: 1 })).toMatchObject({ code: Status.OK, reply: [{ message: 'm 0' }] });
    expect(backend.calls('ServerStream')).toBe(5);
  });
});

describe('per-attempt timeouts', () => {
  it('answers DEADLINE_EXCEEDED when the server is slower than policy.timeoutMs', async () => {
    const { backend, client } = await setup({ retry: false, timeoutMs: 100 });
    backend.script('Echo', hold);
    const result = await echo(client);
    expect(result.code).toBe(Status.DEADLINE_EXCEEDED);
    await backend.whenCancelled(1);
    expect(backend.calls('Echo')).toBe(1);
    expect(spanCodes('Echo')).toEqual(['DEADLINE_EXCEEDED']);
  });

  it('applies a per-method timeoutMs, for that method only', async () => {
    const { backend, client } = await setup({ retry: false, methods: { Create: { timeoutMs: 100 } } });
    backend.script('Create', hold);
    backend.script('Echo', hold);
    expect((await create(client)).code).toBe(Status.DEADLINE_EXCEEDED);
    // Echo has no timeout: it waits for its gate.
    const pending = startEcho(client);
    await backend.whenHeld(2);
    backend.held[1]!.open();
    expect((await pending.outcome).code).toBe(Status.OK);
  });

  it('applies a per-method timeoutMs with no breaker and no retry (nothing but the timeout)', async () => {
    const { backend, client } = await setup({ retry: false, breaker: false, methods: { Create: { timeoutMs: 100 } } });
    backend.script('Create', hold);
    expect((await create(client)).code).toBe(Status.DEADLINE_EXCEEDED);
    expect(backend.calls('Create')).toBe(1);
  });

  it('limits each attempt, not the whole call: a timed-out attempt is retried when DEADLINE_EXCEEDED is opted in', async () => {
    const { backend, client } = await setup({
      retry: { ...quickRetry, maxAttempts: 3 },
      timeoutMs: 100,
      methods: { Echo: { retryableCodes: [Status.DEADLINE_EXCEEDED] } },
    });
    backend.script('Echo', hold, hold);
    expect(await echo(client, { message: 'third time' })).toMatchObject({ code: Status.OK, reply: { message: 'third time' } });
    expect(backend.calls('Echo')).toBe(3);
    expect(spanCodes('Echo')).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED', 'OK']);
  });

  it("keeps the call's own deadline when it is earlier than timeoutMs", async () => {
    const { backend, client } = await setup({ retry: false, timeoutMs: 600_000 });
    backend.script('Echo', hold);
    expect((await echo(client, { message: 'x' }, { deadline: Date.now() + 100 })).code).toBe(Status.DEADLINE_EXCEEDED);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses policy.timeoutMs %s when the client is created', (timeoutMs) => {
    harness.createHitch();
    expect(() => harness.client('127.0.0.1:1', { timeoutMs })).toThrow(/clientInterceptor\.policy\.timeoutMs: should be a positive number of milliseconds/);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a per-method timeoutMs %s when the client is created', (timeoutMs) => {
    harness.createHitch();
    expect(() => harness.client('127.0.0.1:1', { methods: { Echo: { timeoutMs } } })).toThrow(
      /clientInterceptor\.policy\.methods\.Echo\.timeoutMs: should be a positive number of milliseconds/,
    );
  });
});

describe('cancellation by the caller', () => {
  it('cancels the attempt in flight and starts no other', async () => {
    const { backend, client } = await setup({ retry: quickRetry });
    backend.script('Echo', hold);
    const { call, outcome } = startEcho(client);
    await backend.whenHeld(1);
    call.cancel();
    expect((await outcome).code).toBe(Status.CANCELLED);
    await backend.whenCancelled(1);
    const spans = await harness.waitForClientSpans('Echo', 1);
    expect(spans.map((span) => span.attributes['rpc.status_code'])).toEqual(['CANCELLED']);
    expect(backend.calls('Echo')).toBe(1);
  });

  it('starts no other attempt even when CANCELLED is a retryable code', async () => {
    const { backend, client } = await setup({ retry: quickRetry, retryableCodes: [Status.UNAVAILABLE, Status.CANCELLED] });
    backend.script('Echo', hold);
    const { call, outcome } = startEcho(client);
    await backend.whenHeld(1);
    call.cancel();
    expect((await outcome).code).toBe(Status.CANCELLED);
    await backend.whenCancelled(1);
    expect(backend.calls('Echo')).toBe(1);
    expect(harness.clientSpans('Echo')).toHaveLength(1);
  });

  it('ends at once when cancelled between attempts (during the backoff)', async () => {
    // A backoff far longer than the test may run: the call has to end without waiting it out.
    const { backend, client } = await setup({ retry: { backoff: { kind: 'constant', delayMs: 600_000 }, budget: false } });
    backend.script('Echo', fail(Status.UNAVAILABLE));
    const { call, outcome } = startEcho(client);
    await harness.waitForClientSpans('Echo', 1);
    call.cancel();
    expect((await outcome).code).toBe(Status.CANCELLED);
    expect(backend.calls('Echo')).toBe(1);
    expect(harness.clientSpans('Echo')).toHaveLength(1);
  });

  it('cancels a timed attempt with no retry (timeout only)', async () => {
    const { backend, client } = await setup({ retry: false, breaker: false, timeoutMs: 600_000 });
    backend.script('Echo', hold);
    const { call, outcome } = startEcho(client);
    await backend.whenHeld(1);
    call.cancel();
    expect((await outcome).code).toBe(Status.CANCELLED);
    await backend.whenCancelled(1);
    expect(backend.calls('Echo')).toBe(1);
  });
});
