// Spans and metrics of @hitch/grpc over real calls: one trace across two hops, the W3C context a
// plain client sends, span status by code, and the rpc_* series with their exemplars.
import { NotFoundError } from '@hitch/core';
import { Metadata, status } from '@grpc/grpc-js';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { EchoClient, EchoHandlers, FinishedSpan } from './support/grpc-harness.js';
import { ECHO_SERVICE, STATUS, callCount, deferred, fullName, samplesOf, unary, unaryError, useHarness, valueOf } from './support/grpc-harness.js';

const h = useHarness();

function activeTraceId(): string {
  return trace.getSpan(context.active())?.spanContext().traceId ?? '';
}

/** B: echoes, with the trace id its handler sees; fails with NOT_FOUND when asked to. */
const echoB: EchoHandlers = {
  echo: (call, callback) => {
    if (call.request.fail === 'not_found') callback(new NotFoundError('ride', call.request.message ?? ''));
    else callback(null, { message: `b:${call.request.message ?? ''}`, traceId: activeTraceId() });
  },
};

/** A: relays to B through a Hitch client and answers with B's reply (or B's error). */
function relayTo(client: () => EchoClient): EchoHandlers {
  return {
    relay: (call, callback) => {
      client().echo(call.request, new Metadata(), {}, (error, reply) => callback(error, reply));
    },
  };
}

/** client -> A (Relay) -> B (Echo), every client a Hitch one. */
async function twoHops(): Promise<{ a: string; b: string; client: EchoClient }> {
  h.createHitch();
  const b = await h.serve(echoB);
  const toB = h.client(b.address);
  const a = await h.serve(relayTo(() => toB));
  return { a: a.address, b: b.address, client: h.client(a.address) };
}

function spanIdOf(span: FinishedSpan): string {
  return span.spanContext().spanId;
}

describe('one trace across two hops', () => {
  it('chains CLIENT -> SERVER -> CLIENT -> SERVER under one trace id', async () => {
    const { client } = await twoHops();
    const reply = await unary(client, 'relay', { message: 'hello' });

    const clientToA = await h.span(SpanKind.CLIENT, 'Relay');
    const serverA = await h.span(SpanKind.SERVER, 'Relay');
    const clientToB = await h.span(SpanKind.CLIENT, 'Echo');
    const serverB = await h.span(SpanKind.SERVER, 'Echo');
    const traceId = clientToA.spanContext().traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    for (const span of [serverA, clientToB, serverB]) expect(span.spanContext().traceId).toBe(traceId);
    expect(clientToA.parentSpanContext).toBeUndefined();
    expect(serverA.parentSpanContext?.spanId).toBe(spanIdOf(clientToA));
    expect(clientToB.parentSpanContext?.spanId).toBe(spanIdOf(serverA));
    expect(serverB.parentSpanContext?.spanId).toBe(spanIdOf(clientToB));
    // B's handler ran inside its SERVER span.
    expect(reply).toMatchObject({ message: 'b:hello', traceId });
  });

  it('names the spans package.Service/Method and sets the rpc attributes', async () => {
    const { a, b, client } = await twoHops();
    await unary(client, 'relay', { message: 'hello' });

    const spans = await h.waitForSpans(4);
    expect(spans.map((s) => s.name).sort()).toEqual([fullName('Echo'), fullName('Echo'), fullName('Relay'), fullName('Relay')]);
    for (const span of spans) {
      expect(span.attributes).toMatchObject({ 'rpc.system.name': 'grpc', 'rpc.method': span.name, 'rpc.status_code': 'OK' });
      expect(span.status.code).toBe(STATUS.UNSET);
    }
    expect((await h.span(SpanKind.CLIENT, 'Relay')).attributes['server.address']).toBe(a);
    expect((await h.span(SpanKind.CLIENT, 'Echo')).attributes['server.address']).toBe(b);
  });

  it('carries a status name as rpc.status_code on every span of the chain', async () => {
    const { client } = await twoHops();
    const error = await unaryError(client, 'relay', { message: 'r-404', fail: 'not_found' });
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toBe('ride r-404 was not found');

    const spans = await h.waitForSpans(4);
    for (const span of spans) expect(span.attributes['rpc.status_code']).toBe('NOT_FOUND');
    // NOT_FOUND is an answer, not a server fault; a client span marks every non-OK status.
    for (const span of spans.filter((s) => s.kind === SpanKind.SERVER)) expect(span.status.code).toBe(STATUS.UNSET);
    for (const span of spans.filter((s) => s.kind === SpanKind.CLIENT)) expect(span.status.code).toBe(STATUS.ERROR);
  });
});

describe('W3C trace context from a client without Hitch', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpanId = '00f067aa0ba902b7';

  it('continues a traceparent sent in metadata, through both hops', async () => {
    const { a } = await twoHops();
    const metadata = new Metadata();
    metadata.set('traceparent', `00-${traceId}-${callerSpanId}-01`);
    metadata.set('tracestate', 'vendor=abc');
    const reply = await unary(h.plainClient(a), 'relay', { message: 'x' }, { metadata });

    expect(reply.traceId).toBe(traceId);
    const serverA = await h.span(SpanKind.SERVER, 'Relay');
    expect(serverA.spanContext().traceId).toBe(traceId);
    expect(serverA.parentSpanContext).toMatchObject({ traceId, spanId: callerSpanId, isRemote: true });
    expect(serverA.spanContext().traceState?.get('vendor')).toBe('abc');
    const serverB = await h.span(SpanKind.SERVER, 'Echo');
    expect(serverB.spanContext().traceId).toBe(traceId);
    expect(serverB.parentSpanContext?.spanId).toBe(spanIdOf(await h.span(SpanKind.CLIENT, 'Echo')));
    // The plain client made no span.
    expect(h.spans({ kind: SpanKind.CLIENT, method: 'Relay' })).toEqual([]);
  });

  it('follows an unsampled caller: the call is served and counted, no span is recorded', async () => {
    h.createHitch();
    const server = await h.serve(echoB);
    const metadata = new Metadata();
    metadata.set('traceparent', `00-${traceId}-${callerSpanId}-00`);
    const reply = await unary(h.plainClient(server.address), 'echo', { message: 'x' }, { metadata });

    // The context is still propagated to the handler, just not recorded.
    expect(reply.traceId).toBe(traceId);
    expect(callCount(await h.metrics(), 'server', 'Echo', 'OK')).toBe(1);
    expect(h.spans()).toEqual([]);
  });

  it.each([
    ['garbage', 'not-a-traceparent'],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${callerSpanId}-01`],
    ['an all-zero span id', `00-${traceId}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${traceId}-${callerSpanId}-01`],
    ['upper-case hex', `00-${traceId.toUpperCase()}-${callerSpanId}-01`],
    ['a short trace id', `00-${traceId.slice(2)}-${callerSpanId}-01`],
  ])('starts a new trace for a malformed traceparent (%s) and serves the call', async (_case, traceparent) => {
    h.createHitch();
    const server = await h.serve(echoB);
    const metadata = new Metadata();
    metadata.set('traceparent', traceparent);
    const reply = await unary(h.plainClient(server.address), 'echo', { message: 'still served' }, { metadata });

    expect(reply.message).toBe('b:still served');
    const span = await h.span(SpanKind.SERVER, 'Echo');
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.spanContext().traceId).not.toBe(traceId);
    expect(span.spanContext().traceId).not.toBe('0'.repeat(32));
    expect(reply.traceId).toBe(span.spanContext().traceId);
  });
});

describe('server span status', () => {
  /** A server whose Echo answers with the status code asked for in `message`. */
  async function failingServer(): Promise<EchoClient> {
    h.createHitch();
    const server = await h.serve({
      echo: (call, callback) => callback({ code: Number(call.request.message), details: 'asked to fail' }),
    });
    return h.client(server.address);
  }

  it.each([
    ['UNKNOWN', status.UNKNOWN],
    ['DEADLINE_EXCEEDED', status.DEADLINE_EXCEEDED],
    ['UNIMPLEMENTED', status.UNIMPLEMENTED],
    ['INTERNAL', status.INTERNAL],
    ['UNAVAILABLE', status.UNAVAILABLE],
    ['DATA_LOSS', status.DATA_LOSS],
  ])('is ERROR for %s, a fault of the server', async (name, code) => {
    const client = await failingServer();
    const error = await unaryError(client, 'echo', { message: String(code) });
    expect(error.code).toBe(code);

    const span = await h.span(SpanKind.SERVER, 'Echo');
    expect(span.status).toEqual({ code: STATUS.ERROR, message: 'asked to fail' });
    expect(span.attributes).toMatchObject({ 'rpc.status_code': name, 'error.type': name });
  });

  it.each([
    ['CANCELLED', status.CANCELLED],
    ['INVALID_ARGUMENT', status.INVALID_ARGUMENT],
    ['NOT_FOUND', status.NOT_FOUND],
    ['ALREADY_EXISTS', status.ALREADY_EXISTS],
    ['PERMISSION_DENIED', status.PERMISSION_DENIED],
    ['RESOURCE_EXHAUSTED', status.RESOURCE_EXHAUSTED],
    ['FAILED_PRECONDITION', status.FAILED_PRECONDITION],
    ['ABORTED', status.ABORTED],
    ['OUT_OF_RANGE', status.OUT_OF_RANGE],
    ['UNAUTHENTICATED', status.UNAUTHENTICATED],
  ])('is not ERROR for %s, an answer about the request', async (name, code) => {
    const client = await failingServer();
    const error = await unaryError(client, 'echo', { message: String(code) });
    expect(error.code).toBe(code);

    const span = await h.span(SpanKind.SERVER, 'Echo');
    expect(span.status.code).toBe(STATUS.UNSET);
    expect(span.attributes['rpc.status_code']).toBe(name);
    expect(span.attributes['error.type']).toBeUndefined();
    // The CLIENT span marks every status but OK.
    expect((await h.span(SpanKind.CLIENT, 'Echo')).status.code).toBe(STATUS.ERROR);
  });

  it('is ERROR for a method the server does not implement', async () => {
    h.createHitch();
    const server = await h.serve({ echo: (_call, callback) => callback(null, {}) });
    const error = await unaryError(h.client(server.address), 'create', {});
    expect(error.code).toBe(status.UNIMPLEMENTED);

    const span = await h.span(SpanKind.SERVER, 'Create');
    expect(span.status.code).toBe(STATUS.ERROR);
    expect(span.attributes['rpc.status_code']).toBe('UNIMPLEMENTED');
  });

  it('records the exception of an unknown error on the SERVER span (INTERNAL), not on the wire', async () => {
    h.createHitch();
    const server = await h.serve({
      echo: () => {
        throw new TypeError('cannot read properties of undefined (reading "driverId")');
      },
    });
    const error = await unaryError(h.client(server.address), 'echo', {});
    expect(error.code).toBe(status.INTERNAL);
    expect(error.details).toBe('Internal error');

    const span = await h.span(SpanKind.SERVER, 'Echo');
    expect(span.status).toEqual({ code: STATUS.ERROR, message: 'Internal error' });
    const exceptions = span.events.filter((e) => e.name === 'exception');
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0]!.attributes).toMatchObject({
      'exception.type': 'TypeError',
      'exception.message': 'cannot read properties of undefined (reading "driverId")',
    });
    expect(String(exceptions[0]!.attributes?.['exception.stacktrace'])).toContain('tracing.test.ts');
  });

  it('records no exception for a typed error that is an answer (NOT_FOUND)', async () => {
    h.createHitch();
    const server = await h.serve(echoB);
    await unaryError(h.client(server.address), 'echo', { message: 'r1', fail: 'not_found' });

    const span = await h.span(SpanKind.SERVER, 'Echo');
    expect(span.events.filter((e) => e.name === 'exception')).toEqual([]);
  });
});

describe('metrics', () => {
  it('counts server calls by rpc_service, rpc_method and rpc_status_code', async () => {
    h.createHitch();
    const server = await h.serve(echoB);
    const client = h.plainClient(server.address);
    await unary(client, 'echo', { message: '1' });
    await unary(client, 'echo', { message: '2' });
    await unaryError(client, 'echo', { message: '3', fail: 'not_found' });
    await unaryError(client, 'create', {});

    const body = await h.metrics();
    expect(callCount(body, 'server', 'Echo', 'OK')).toBe(2);
    expect(callCount(body, 'server', 'Echo', 'NOT_FOUND')).toBe(1);
    expect(callCount(body, 'server', 'Create', 'UNIMPLEMENTED')).toBe(1);
    const sum = valueOf(body, 'rpc_server_call_duration_seconds_sum', { rpc_service: ECHO_SERVICE, rpc_method: 'Echo', rpc_status_code: 'OK' });
    expect(sum).toBeGreaterThanOrEqual(0);
    // Plain clients are not measured.
    expect(samplesOf(body, 'rpc_client_call_duration_seconds_count')).toEqual([]);
  });

  it('counts client calls in rpc_client_call_duration_seconds', async () => {
    h.createHitch();
    const server = await h.serve(echoB);
    const client = h.client(server.address);
    await unary(client, 'echo', { message: '1' });
    await unaryError(client, 'echo', { message: '2', fail: 'not_found' });

    const body = await h.metrics();
    expect(callCount(body, 'client', 'Echo', 'OK')).toBe(1);
    expect(callCount(body, 'client', 'Echo', 'NOT_FOUND')).toBe(1);
  });

  it('shows calls in flight in rpc_server_active_calls, and 0 once they are answered', async () => {
    h.createHitch();
    const entered = [deferred(), deferred()];
    const release = deferred();
    let calls = 0;
    const server = await h.serve({
      echo: async () => {
        entered[calls++]!.resolve();
        await release.promise;
        return { message: 'done' };
      },
    });
    const client = h.client(server.address);
    const active = async (): Promise<number | undefined> => valueOf(await h.metrics(), 'rpc_server_active_calls', { rpc_service: ECHO_SERVICE, rpc_method: 'Echo' });

    const first = unary(client, 'echo', {});
    const second = unary(client, 'echo', {});
    await Promise.all(entered.map((d) => d.promise));
    expect(await active()).toBe(2);
    release.resolve();
    await Promise.all([first, second]);
    expect(await active()).toBe(0);
  });

  it('attaches the call span as an exemplar in OpenMetrics, and none in Prometheus text', async () => {
    h.createHitch();
    const server = await h.serve(echoB);
    await unary(h.client(server.address), 'echo', {});
    const serverSpan = await h.span(SpanKind.SERVER, 'Echo');
    const clientSpan = await h.span(SpanKind.CLIENT, 'Echo');

    const openMetrics = await h.metrics('application/openmetrics-text; version=1.0.0');
    for (const [side, span] of [['server', serverSpan], ['client', clientSpan]] as const) {
      const buckets = samplesOf(openMetrics, `rpc_${side}_call_duration_seconds_bucket`, { rpc_service: ECHO_SERVICE, rpc_method: 'Echo', rpc_status_code: 'OK' });
      const exemplars = buckets.flatMap((b) => (b.exemplar === undefined ? [] : [b.exemplar]));
      expect(exemplars, side).toHaveLength(1);
      expect(exemplars[0]!.labels).toEqual({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    }
    const text = await h.metrics();
    expect(samplesOf(text, 'rpc_server_call_duration_seconds_bucket').filter((s) => s.exemplar !== undefined)).toEqual([]);
  });

  it('labels a status the server set from a handler error (e.g. UNAVAILABLE from a plain ServiceError)', async () => {
    h.createHitch();
    const b = await h.serve({
      echo: (_call, callback) => callback({ code: status.UNAVAILABLE, details: 'draining' }),
    });
    await unaryError(h.client(b.address), 'echo', {});
    const body = await h.metrics();
    expect(callCount(body, 'server', 'Echo', 'UNAVAILABLE')).toBe(1);
    expect(callCount(body, 'client', 'Echo', 'UNAVAILABLE')).toBe(1);
  });
});
