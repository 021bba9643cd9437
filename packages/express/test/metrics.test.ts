// The RED metrics as Prometheus scrapes them: read from the app's own /metrics over HTTP and
// parsed, in the Prometheus text format and in OpenMetrics (exemplars).
import { buckets } from '@hitch/core';
import type { HitchExpressOptions } from '@hitch/express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import type { TestApp } from './support/app-harness.js';
import { activeRequests, deferred, instrument, parseSamples, requestCount, samplesOf, useHarness, valueOf } from './support/app-harness.js';

const h = useHarness();

/** An app with a few routes; `gate` holds `/slow/:id` until the test opens it. */
async function serve(options: Omit<HitchExpressOptions, 'hitch'> = {}): Promise<{ app: TestApp; entered: Promise<void>; open: () => void }> {
  const hitch = h.createHitch();
  const app = express();
  instrument(app, { hitch, ...options });
  const entered = deferred();
  const gate = deferred();
  app.get('/rides/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.post('/rides', express.text({ type: () => true }), (req, res) => {
    res.status(201).json({ received: (req.body as string).length });
  });
  app.get('/stream/:n', (req, res) => {
    // No Content-Length: the body goes out chunked.
    for (let i = 0; i < Number(req.params.n); i++) res.write('0123456789');
    res.end();
  });
  app.get('/boom/:id', () => {
    throw new Error('boom');
  });
  app.get('/slow/:id', async (_req, res) => {
    entered.resolve();
    await gate.promise;
    res.json({ slow: true });
  });
  app.get('/lb-check', (_req, res) => {
    res.end('ok');
  });
  app.get('/r/:a', (_req, res) => res.end());
  app.get('/s/:a', (_req, res) => res.end());
  app.get('/t/:a', (_req, res) => res.end());
  return { app: await h.listen(app), entered: entered.promise, open: () => gate.resolve() };
}

describe('http_server_request_duration_seconds', () => {
  it('counts requests by method, route template and status code', async () => {
    const { app } = await serve();
    for (let i = 0; i < 3; i++) await app.request(`/rides/${i}`);
    await app.request('/rides', { method: 'POST', body: 'hello' });
    await app.request('/boom/1');
    await app.request('/nowhere/1');
    await h.waitForServerSpans(6);

    const body = await app.metrics();
    expect(requestCount(body, { method: 'GET', route: '/rides/:id', status_code: '200' })).toBe(3);
    expect(requestCount(body, { method: 'POST', route: '/rides', status_code: '201' })).toBe(1);
    expect(requestCount(body, { method: 'GET', route: '/boom/:id', status_code: '500' })).toBe(1);
    expect(requestCount(body, { method: 'GET', route: '__unmatched__', status_code: '404' })).toBe(1);
    expect(samplesOf(body, 'http_server_request_duration_seconds_count')).toHaveLength(4);
    const sum = valueOf(body, 'http_server_request_duration_seconds_sum', { method: 'GET', route: '/rides/:id', status_code: '200' })!;
    expect(sum).toBeGreaterThanOrEqual(0);
    expect(sum).toBeLessThan(60);
  });

  it("has OpenTelemetry's recommended buckets for http.server.request.duration", async () => {
    const { app } = await serve();
    await app.request('/rides/1');
    const body = await app.metrics();
    const bounds = samplesOf(body, 'http_server_request_duration_seconds_bucket', { route: '/rides/:id' }).map((s) => Number(s.labels.le === '+Inf' ? Infinity : s.labels.le));
    // https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpserverrequestduration
    expect(bounds).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, Infinity]);
    expect(bounds.slice(0, -1)).toEqual(buckets.httpLatencySeconds);
    expect(body).toContain('# TYPE http_server_request_duration_seconds histogram');
  });

  it('carries the trace id of the request as an exemplar, in OpenMetrics', async () => {
    const { app } = await serve();
    await app.request('/rides/1');
    const [span] = await h.waitForServerSpans(1);

    const openMetrics = await app.metrics({ openMetrics: true });
    expect(openMetrics.trimEnd().endsWith('# EOF')).toBe(true);
    const withExemplar = samplesOf(openMetrics, 'http_server_request_duration_seconds_bucket', { route: '/rides/:id' }).filter((s) => s.exemplar !== undefined);
    expect(withExemplar).toHaveLength(1);
    expect(withExemplar[0]!.exemplar!.labels).toEqual({ trace_id: span!.spanContext().traceId, span_id: span!.spanContext().spanId });
    expect(withExemplar[0]!.exemplar!.value).toBeLessThanOrEqual(Number(withExemplar[0]!.labels.le));

    // The Prometheus text format has no exemplars.
    const text = await app.metrics();
    expect(parseSamples(text).filter((s) => s.exemplar !== undefined)).toEqual([]);
  });

  it('no exemplar for a request whose trace is not sampled', async () => {
    const { app } = await serve();
    await app.request('/rides/1', { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' } });
    const openMetrics = await app.metricsWhen((body) => requestCount(body, { route: '/rides/:id' }) === 1, { openMetrics: true });
    expect(samplesOf(openMetrics, 'http_server_request_duration_seconds_bucket').filter((s) => s.exemplar !== undefined)).toEqual([]);
  });

  it(`bounds the route label with maxRoutes; later templates are counted as "__overflow__"`, async () => {
    const { app } = await serve({ maxRoutes: 2 });
    await app.request('/r/1');
    await app.request('/s/1');
    await app.request('/t/1');
    await app.request('/t/2');
    await app.request('/r/2');

    const body = await app.metrics();
    expect(requestCount(body, { route: '/r/:a' })).toBe(2);
    expect(requestCount(body, { route: '/s/:a' })).toBe(1);
    expect(requestCount(body, { route: '__overflow__' })).toBe(2);
    expect(requestCount(body, { route: '/t/:a' })).toBe(0);
    // Spans are not bounded by maxRoutes: their name is the template.
    const spans = await h.waitForServerSpans(5);
    expect(spans.map((s) => s.name)).toContain('GET /t/:a');
  });
});

describe('http_server_active_requests', () => {
  it('goes up while a request is in flight and back to 0 after', async () => {
    const { app, entered, open } = await serve();
    expect(activeRequests(await app.metrics())).toBe(0);

    const slow = app.request('/slow/1');
    await entered;
    const during = await app.metrics();
    expect(valueOf(during, 'http_server_active_requests', { method: 'GET' })).toBe(1);
    // Scrapes are left out of the telemetry: the scrape above did not count itself.
    expect(activeRequests(during)).toBe(1);

    open();
    expect((await slow).status).toBe(200);
    await h.waitForServerSpans(1);
    const after = await app.metrics();
    expect(valueOf(after, 'http_server_active_requests', { method: 'GET' })).toBe(0);
    expect(requestCount(after, { route: '/slow/:id', status_code: '200' })).toBe(1);
  });

  it('lists only the methods this server has seen', async () => {
    const { app } = await serve();
    await app.request('/rides', { method: 'POST', body: 'x' });
    await h.waitForServerSpans(1);
    const body = await app.metrics();
    expect(samplesOf(body, 'http_server_active_requests').map((s) => [s.labels.method, s.value])).toEqual([['POST', 0]]);
  });
});

describe('sizeHistograms', () => {
  it('is off by default', async () => {
    const { app } = await serve();
    await app.request('/rides', { method: 'POST', body: 'hello' });
    const body = await app.metrics();
    expect(body).not.toContain('http_server_request_body_size_bytes');
    expect(body).not.toContain('http_server_response_body_size_bytes');
  });

  it('records request and response body sizes from Content-Length', async () => {
    const { app } = await serve({ sizeHistograms: true });
    const payload = 'x'.repeat(300);
    const response = await app.request('/rides', { method: 'POST', body: payload, headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(201);
    await h.waitForServerSpans(1);

    const body = await app.metrics();
    expect(valueOf(body, 'http_server_request_body_size_bytes_count', { method: 'POST', route: '/rides' })).toBe(1);
    expect(valueOf(body, 'http_server_request_body_size_bytes_sum', { method: 'POST', route: '/rides' })).toBe(300);
    expect(valueOf(body, 'http_server_response_body_size_bytes_sum', { method: 'POST', route: '/rides', status_code: '201' })).toBe(Buffer.byteLength(response.body));
    expect(samplesOf(body, 'http_server_response_body_size_bytes_bucket', { route: '/rides' }).map((s) => s.labels.le)).toEqual([...buckets.bytes.map(String), '+Inf']);
  });

  it('records the body bytes of chunked responses, one response at a time on a kept-alive connection', async () => {
    const { app } = await serve({ sizeHistograms: true });
    const sizes = [3, 5, 2];
    for (const n of sizes) {
      const response = await app.request(`/stream/${n}`);
      expect(response.headers['transfer-encoding']).toBe('chunked');
      expect(response.body).toHaveLength(n * 10);
    }
    await h.waitForServerSpans(sizes.length);
    const body = await app.metrics();
    expect(valueOf(body, 'http_server_response_body_size_bytes_count', { route: '/stream/:n' })).toBe(3);
    // 30 + 50 + 20 bytes of body: neither headers, chunk framing nor earlier responses on the connection.
    expect(valueOf(body, 'http_server_response_body_size_bytes_sum', { route: '/stream/:n' })).toBe(100);
  });
});

describe('routes left out of the telemetry', () => {
  it('health and metrics routes: no span, no metric, by default', async () => {
    const { app } = await serve();
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/readyz')).status).toBe(200);
    await app.metrics();
    await app.request('/rides/1');
    await h.waitForServerSpans(1);

    const body = await app.metrics();
    expect(samplesOf(body, 'http_server_request_duration_seconds_count').map((s) => s.labels.route)).toEqual(['/rides/:id']);
    expect(h.serverSpans().map((s) => s.name)).toEqual(['GET /rides/:id']);
  });

  it('instrumentHealthRoutes: true gives them spans and metrics, named by their path', async () => {
    const { app } = await serve({ instrumentHealthRoutes: true });
    await app.request('/healthz');
    await app.request('/readyz');
    await app.metrics();
    const spans = await h.waitForServerSpans(3);
    expect(spans.map((s) => s.name)).toEqual(['GET /healthz', 'GET /readyz', 'GET /metrics']);
    expect(spans.map((s) => s.attributes['http.route'])).toEqual(['/healthz', '/readyz', '/metrics']);

    const body = await app.metrics();
    expect(requestCount(body, { route: '/healthz', status_code: '200' })).toBe(1);
    expect(requestCount(body, { route: '/readyz', status_code: '200' })).toBe(1);
    expect(requestCount(body, { route: '/metrics', status_code: '200' })).toBe(1);
  });

  it('ignorePaths: answered by the app, without span or metric, with or without a query', async () => {
    const { app } = await serve({ ignorePaths: ['/lb-check'] });
    expect((await app.request('/lb-check')).body).toBe('ok');
    expect((await app.request('/lb-check?probe=1')).body).toBe('ok');
    await app.request('/rides/1');
    await h.waitForServerSpans(1);

    const body = await app.metrics();
    expect(samplesOf(body, 'http_server_request_duration_seconds_count').map((s) => s.labels.route)).toEqual(['/rides/:id']);
    expect(h.serverSpans().map((s) => s.name)).toEqual(['GET /rides/:id']);
    expect(activeRequests(body)).toBe(0);
  });

  it('a custom metrics path is served and left out; the default path is then an ordinary request', async () => {
    const { app } = await serve({ metrics: { path: '/internal/metrics' } });
    await app.metrics({ path: '/internal/metrics' });
    expect((await app.request('/metrics')).status).toBe(404);
    const spans = await h.waitForServerSpans(1);
    expect(spans.map((s) => s.name)).toEqual(['GET __unmatched__']);
  });
});

describe('the exposition as a whole', () => {
  it.each([
    { format: 'Prometheus text', openMetrics: false },
    { format: 'OpenMetrics', openMetrics: true },
  ])('$format: every line parses and the HTTP families are declared once', async ({ openMetrics }) => {
    const { app } = await serve({ sizeHistograms: true });
    await app.request('/rides/1');
    await app.request('/rides', { method: 'POST', body: 'x' });
    await h.waitForServerSpans(2);
    const body = await app.metrics({ openMetrics });
    expect(() => parseSamples(body)).not.toThrow();
    for (const family of ['http_server_request_duration_seconds', 'http_server_active_requests', 'http_server_request_body_size_bytes', 'http_server_response_body_size_bytes']) {
      expect(body.split('\n').filter((line) => line.startsWith(`# TYPE ${family} `))).toHaveLength(1);
    }
  });
});
