import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hitch } from '../src/index.js';
import { createHitch } from '../src/index.js';
import { valueOf } from './support/exposition.js';

interface Service {
  hitch: Hitch;
  server: Server;
  url: string;
  seenHeaders: IncomingMessage['headers'][];
}

async function startService(name: string, handler: (hitch: Hitch, req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<Service> {
  const hitch = createHitch({
    service: { name },
    tracing: { exporter: 'memory' },
    metrics: { runtimeMetrics: false },
    logging: { level: 'silent' },
  });
  const seenHeaders: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    seenHeaders.push(req.headers);
    // What @hitch/express will do: continue the caller's trace in a SERVER span.
    const parent = hitch.tracing.extract(req.headers);
    void hitch.withSpan(`GET ${req.url}`, () => handler(hitch, req, res), { kind: SpanKind.SERVER, context: parent });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { hitch, server, url: `http://127.0.0.1:${port}`, seenHeaders };
}

describe('one trace across two services', () => {
  let a: Service;
  let b: Service;

  beforeAll(async () => {
    b = await startService('b', async (_hitch, req, res) => {
      res.writeHead(req.url === '/fail' ? 503 : 200, { 'content-type': 'text/plain' }).end('from b');
    });
    a = await startService('a', async (hitch, req, res) => {
      const response = await hitch.fetch(`${b.url}${req.url === '/fail' ? '/fail' : '/quote'}`, { headers: { 'x-request-id': 'r1' } });
      res.writeHead(200).end(`a got ${response.status}: ${await response.text()}`);
    });
  });

  afterAll(async () => {
    for (const service of [a, b]) {
      await new Promise<void>((resolve) => service.server.close(() => resolve()));
      await service.hitch.shutdown();
    }
  });

  it('links SERVER -> CLIENT -> SERVER spans with correct parents and keeps the random flag', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpanId = '00f067aa0ba902b7';
    const response = await fetch(`${a.url}/ride`, { headers: { traceparent: `00-${traceId}-${callerSpanId}-03`, tracestate: 'vendor=abc' } });
    expect(await response.text()).toBe('a got 200: from b');

    const aSpans = a.hitch.tracing.finishedSpans();
    const bSpans = b.hitch.tracing.finishedSpans();
    const aServer = aSpans.find((s) => s.kind === SpanKind.SERVER)!;
    const aClient = aSpans.find((s) => s.kind === SpanKind.CLIENT)!;
    const bServer = bSpans.find((s) => s.kind === SpanKind.SERVER)!;
    for (const span of [aServer, aClient, bServer]) expect(span.spanContext().traceId).toBe(traceId);
    expect(aServer.parentSpanContext?.spanId).toBe(callerSpanId);
    expect(aClient.parentSpanContext?.spanId).toBe(aServer.spanContext().spanId);
    expect(bServer.parentSpanContext?.spanId).toBe(aClient.spanContext().spanId);

    const forwarded = b.seenHeaders.at(-1)!;
    expect(forwarded.traceparent).toBe(`00-${traceId}-${aClient.spanContext().spanId}-03`);
    expect(forwarded.tracestate).toBe('vendor=abc');
    expect(forwarded['x-request-id']).toBe('r1');

    expect(aClient.name).toBe('GET');
    expect(aClient.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'url.full': `${b.url}/quote`,
      'url.scheme': 'http',
      'http.response.status_code': 200,
    });
    expect(aClient.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('starts a new trace when the caller sends none, and marks it random', async () => {
    await fetch(`${a.url}/fresh`);
    const aServer = a.hitch.tracing.finishedSpans().filter((s) => s.kind === SpanKind.SERVER).at(-1)!;
    expect(aServer.parentSpanContext).toBeUndefined();
    const forwarded = b.seenHeaders.at(-1)!;
    expect(forwarded.traceparent).toMatch(new RegExp(`^00-${aServer.spanContext().traceId}-[0-9a-f]{16}-03$`));
    expect(forwarded.tracestate).toBeUndefined();
  });

  it('marks a 5xx answer as an error on the CLIENT span and measures it', async () => {
    await fetch(`${a.url}/fail`);
    const client = a.hitch.tracing.finishedSpans().filter((s) => s.kind === SpanKind.CLIENT).at(-1)!;
    expect(client.status.code).toBe(SpanStatusCode.ERROR);
    expect(client.attributes['error.type']).toBe('503');
    const { body } = await a.hitch.metrics.render();
    expect(valueOf(body, 'http_client_request_duration_seconds_count', { method: 'GET', server_address: '127.0.0.1', status_code: '503' })).toBe(1);
    expect(valueOf(body, 'http_client_request_duration_seconds_count', { method: 'GET', server_address: '127.0.0.1', status_code: '200' })).toBe(2);
  });
});

describe('hitch.fetch failures', () => {
  it('records a connection failure on the span and in the metric, and rethrows it', async () => {
    const hitch = createHitch({ service: { name: 'c' }, tracing: { exporter: 'memory' }, metrics: { runtimeMetrics: false }, logging: { level: 'silent' } });
    try {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      await expect(hitch.fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow(TypeError);
      const span = hitch.tracing.finishedSpans()[0]!;
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type']).toBe('ECONNREFUSED');
      expect(span.events.some((e) => e.name === 'exception')).toBe(true);
      const { body } = await hitch.metrics.render();
      expect(valueOf(body, 'http_client_request_duration_seconds_count', { status_code: 'error' })).toBe(1);
    } finally {
      await hitch.shutdown();
    }
  });

  it('runs each attempt through the policy with its own CLIENT span; 5xx counts as a failed attempt', async () => {
    const hitch = createHitch({ service: { name: 'c' }, tracing: { exporter: 'memory' }, metrics: { runtimeMetrics: false }, logging: { level: 'silent' } });
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(calls < 3 ? 503 : 200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const retryOn503 = hitch.resilience.retry({ maxAttempts: 3, backoff: { kind: 'constant', delayMs: 0 }, budget: false });
    try {
      const response = await hitch.fetch(`http://127.0.0.1:${port}/`, { policy: retryOn503, spanName: 'quote' });
      expect(response.status).toBe(200);
      const spans = hitch.tracing.finishedSpans();
      expect(spans.map((s) => [s.name, s.attributes['http.request.resend_count'], s.attributes['http.response.status_code']])).toEqual([
        ['quote', undefined, 503],
        ['quote', 1, 503],
        ['quote', 2, 200],
      ]);
      const { body } = await hitch.metrics.render();
      expect(valueOf(body, 'hitch_retry_attempts_total', { outcome: 'retry' })).toBe(2);
      expect(valueOf(body, 'hitch_retry_attempts_total', { outcome: 'success' })).toBe(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await hitch.shutdown();
    }
  });
});
