// The SERVER span of each request, seen through real HTTP on loopback: context from the W3C
// headers, the name from the route template, the HTTP server semantic-convention attributes
// (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server), and the status rules.
import { InvalidOptionError } from '@hitch/core';
import type { HitchExpressOptions } from '@hitch/express';
import { hitchErrorHandler, UNMATCHED_ROUTE } from '@hitch/express';
import { context, propagation } from '@opentelemetry/api';
import express from 'express';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from './support/app-harness.js';
import { instrument, requestCount, samplesOf, SERVER_KIND, STATUS, useHarness } from './support/app-harness.js';

const h = useHarness();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

/** An app with a few routes, instrumented with the default options. */
async function ridesApp(options: { errorHandler?: boolean } = {}): Promise<TestApp> {
  const hitch = h.createHitch();
  const app = express();
  instrument(app, { hitch });
  app.get('/rides/:id', (req, res) => {
    res.json({ id: req.params.id, baggage: propagation.getBaggage(context.active())?.getEntry('tenant')?.value ?? null });
  });
  app.get('/missing/:id', (_req, res) => {
    res.status(404).json({ error: 'no such ride' });
  });
  app.get('/bad/:id', () => {
    throw Object.assign(new Error('bad id'), { status: 400 });
  });
  app.get('/boom/:id', () => {
    throw new TypeError('wheel fell off');
  });
  app.get('/unavailable/:id', (_req, res) => {
    res.status(503).end();
  });
  app.all('/dav/:file', (_req, res) => {
    res.status(207).end();
  });
  if (options.errorHandler === true) app.use(hitchErrorHandler());
  return h.listen(app);
}

describe('a SERVER span per request', () => {
  it('is named by the route template and carries the HTTP server attributes', async () => {
    const app = await ridesApp();
    const response = await app.request('/rides/42?expand=driver', { headers: { 'user-agent': 'hitch-test/1.0' } });
    expect(response.status).toBe(200);

    const [span, ...others] = await h.waitForServerSpans(1);
    expect(others).toEqual([]);
    expect(span!.kind).toBe(SERVER_KIND);
    expect(span!.name).toBe('GET /rides/:id');
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/rides/:id',
      'http.response.status_code': 200,
      'url.path': '/rides/42',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': app.port,
      'user_agent.original': 'hitch-test/1.0',
      'client.address': '127.0.0.1',
      'network.protocol.version': '1.1',
    });
    expect(span!.attributes).not.toHaveProperty('error.type');
    expect(span!.attributes).not.toHaveProperty('http.request.method_original');
    expect(span!.status.code).toBe(STATUS.UNSET);
    expect(span!.parentSpanContext).toBeUndefined();
  });

  it('bounds what the client controls: a long User-Agent is cut to 1024 characters', async () => {
    const app = await ridesApp();
    await app.request('/rides/1', { headers: { 'user-agent': 'u'.repeat(5000) } });
    const [span] = await h.waitForServerSpans(1);
    expect(span!.attributes['user_agent.original']).toBe('u'.repeat(1024));
  });

  it('one span per request over one keep-alive connection', async () => {
    const app = await ridesApp();
    for (let i = 0; i < 5; i++) expect((await app.request(`/rides/${i}`)).status).toBe(200);
    const spans = await h.waitForServerSpans(5);
    expect(spans.map((s) => s.attributes['url.path'])).toEqual(['/rides/0', '/rides/1', '/rides/2', '/rides/3', '/rides/4']);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(5);
  });

  it('continues the trace of traceparent, keeps tracestate and makes baggage available to handlers', async () => {
    const app = await ridesApp();
    const response = await app.request('/rides/7', {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'vendor=abc,other=x1', baggage: 'tenant=acme' },
    });
    expect(JSON.parse(response.body)).toEqual({ id: '7', baggage: 'acme' });

    const [span] = await h.waitForServerSpans(1);
    expect(span!.spanContext().traceId).toBe(TRACE_ID);
    expect(span!.spanContext().spanId).not.toBe(PARENT_ID);
    expect(span!.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span!.parentSpanContext?.isRemote).toBe(true);
    expect(span!.spanContext().traceState?.serialize()).toBe('vendor=abc,other=x1');
  });

  it('follows an unsampled parent: the span is not recorded, the request is answered', async () => {
    const app = await ridesApp();
    const response = await app.request('/rides/7', { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` } });
    expect(response.status).toBe(200);
    await app.metricsWhen((body) => requestCount(body, { route: '/rides/:id' }) === 1);
    expect(h.serverSpans()).toEqual([]);
    expect(h.ledger.openSpans()).toEqual([]);
  });

  it('an unknown method is _OTHER, with the method as sent in http.request.method_original', async () => {
    const app = await ridesApp();
    const response = await app.request('/dav/notes.txt', { method: 'PROPFIND' });
    expect(response.status).toBe(207);

    const [span] = await h.waitForServerSpans(1);
    // "HTTP" stands in for the method when it is _OTHER (semantic conventions, span name).
    expect(span!.name).toBe('HTTP /dav/:file');
    expect(span!.attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'PROPFIND', 'http.route': '/dav/:file' });
    const body = await app.metrics();
    expect(samplesOf(body, 'http_server_request_duration_seconds_count', { method: '_OTHER', route: '/dav/:file', status_code: '207' })).toHaveLength(1);
  });
});

describe('server.address and server.port come from the Host header', () => {
  it.each([
    { host: 'rides.example:8443', address: 'rides.example', port: 8443 },
    { host: 'rides.example', address: 'rides.example', port: undefined },
    { host: '[::1]:3000', address: '::1', port: 3000 },
    { host: '[2001:db8::7]', address: '2001:db8::7', port: undefined },
    { host: 'rides.example:99999', address: 'rides.example', port: undefined },
    { host: 'rides.example:http', address: 'rides.example', port: undefined },
  ])('Host: $host', async ({ host, address, port }) => {
    const app = await ridesApp();
    await app.request('/rides/1', { headers: { host } });
    const [span] = await h.waitForServerSpans(1);
    expect(span!.attributes['server.address']).toBe(address);
    expect(span!.attributes['server.port']).toBe(port);
  });

  it('an HTTP/1.0 request without Host: no server.address, no server.port', async () => {
    const app = await ridesApp();
    expect(await app.raw('GET /rides/1 HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.attributes).not.toHaveProperty('server.address');
    expect(span!.attributes).not.toHaveProperty('server.port');
    expect(span!.attributes['network.protocol.version']).toBe('1.0');
  });
});

describe('HEAD and the span name', () => {
  it('HEAD is answered by the GET route and named by its own method', async () => {
    const app = await ridesApp();
    expect((await app.request('/rides/3', { method: 'HEAD' })).status).toBe(200);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('HEAD /rides/:id');
    expect(span!.attributes).toMatchObject({ 'http.request.method': 'HEAD', 'http.route': '/rides/:id' });
  });
});

describe('a request no route matched', () => {
  it(`is named "GET ${UNMATCHED_ROUTE}", has no http.route and is counted under route="${UNMATCHED_ROUTE}"`, async () => {
    const app = await ridesApp();
    const response = await app.request('/no/such/thing/123');
    expect(response.status).toBe(404);

    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET __unmatched__');
    expect(span!.attributes).not.toHaveProperty('http.route');
    expect(span!.attributes['url.path']).toBe('/no/such/thing/123');
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.status.code).toBe(STATUS.UNSET);

    const body = await app.metrics();
    const routes = samplesOf(body, 'http_server_request_duration_seconds_count').map((s) => s.labels.route);
    expect(routes).toEqual(['__unmatched__']);
    expect(body).not.toContain('/no/such/thing');
  });

  it('property: a random path never becomes a route label or a span name', async () => {
    const app = await ridesApp();
    const templates = new Set(['/rides/:id', '/missing/:id', '/bad/:id', '/boom/:id', '/unavailable/:id', '/dav/:file', UNMATCHED_ROUTE]);
    const hitchPaths = new Set(['/metrics', '/healthz', '/readyz']);
    const path = fc
      .tuple(fc.webPath({ size: 'medium' }), fc.option(fc.webQueryParameters(), { nil: undefined }))
      .map(([p, q]) => `/${p.replace(/^\/+/, '')}${q === undefined ? '' : `?${q}`}`)
      .filter((p) => !hitchPaths.has(p.split('?')[0]!));

    await fc.assert(
      fc.asyncProperty(path, async (target) => {
        h.hitch.tracing.resetFinishedSpans();
        await app.request(target);
        const [span] = await h.waitForServerSpans(1);
        const route = span!.name.slice('GET '.length);
        expect(templates).toContain(route);
        if (route !== UNMATCHED_ROUTE) expect(span!.attributes['http.route']).toBe(route);
      }),
      { numRuns: 100 },
    );

    const body = await app.metrics();
    for (const sample of samplesOf(body, 'http_server_request_duration_seconds_count')) expect(templates).toContain(sample.labels.route);
  });
});

describe.each([
  { errorHandler: false, title: 'without hitchErrorHandler' },
  { errorHandler: true, title: 'with hitchErrorHandler' },
])('status rules $title', ({ errorHandler }) => {
  let app: TestApp;
  beforeEach(async () => {
    app = await ridesApp({ errorHandler });
  });

  it('a thrown error: 500, ERROR status, error.type and an exception event', async () => {
    const response = await app.request('/boom/1');
    expect(response.status).toBe(500);
    // Express's own final handler shows the stack outside production; hitchErrorHandler never does.
    if (errorHandler) expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'HITCH_INTERNAL', message: 'Internal Server Error' } });

    const [span] = await h.waitForServerSpans(1);
    if (errorHandler) expect((JSON.parse(response.body) as { error: { traceId: string } }).error.traceId).toBe(span!.spanContext().traceId);
    expect(span!.name).toBe('GET /boom/:id');
    expect(span!.status.code).toBe(STATUS.ERROR);
    expect(span!.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': 'TypeError' });
    const exceptions = span!.events.filter((e) => e.name === 'exception');
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'wheel fell off' });
  });

  it('a 5xx answered without an error: ERROR status, error.type is the status code, no exception event', async () => {
    expect((await app.request('/unavailable/1')).status).toBe(503);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.status.code).toBe(STATUS.ERROR);
    expect(span!.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503' });
    expect(span!.events.filter((e) => e.name === 'exception')).toEqual([]);
  });

  it('a 4xx answered by the handler: status UNSET, no exception event, no error.type', async () => {
    expect((await app.request('/missing/1')).status).toBe(404);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.status.code).toBe(STATUS.UNSET);
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.attributes).not.toHaveProperty('error.type');
    expect(span!.events).toEqual([]);
  });

  it('a thrown error with a 4xx status: answered with it, status UNSET, no exception event', async () => {
    expect((await app.request('/bad/1')).status).toBe(400);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET /bad/:id');
    expect(span!.status.code).toBe(STATUS.UNSET);
    expect(span!.attributes['http.response.status_code']).toBe(400);
    expect(span!.events.filter((e) => e.name === 'exception')).toEqual([]);
  });
});

describe('instrument(app, options) validation', () => {
  it('refuses a second installation on the same app', () => {
    const hitch = h.createHitch();
    const app = express();
    instrument(app, { hitch });
    expect(() => instrument(app, { hitch })).toThrow(InvalidOptionError);
    expect(() => instrument(app, { hitch })).toThrow('hitchExpress: is already installed on this app: call it once per app');
  });

  it('pins the messages of bad options', () => {
    const hitch = h.createHitch();
    const cases: [unknown, string][] = [
      [undefined, 'hitchExpress: expects (app, { hitch }): pass the instance from createHitch()'],
      [{}, 'hitchExpress.hitch: is required: pass the instance from createHitch()'],
      [{ hitch, maxRoutes: 0 }, 'hitchExpress.maxRoutes: should be a positive integer, got 0'],
      [{ hitch, maxRoutes: 2.5 }, 'hitchExpress.maxRoutes: should be a positive integer, got 2.5'],
      [{ hitch, metrics: { path: 'metrics' } }, 'hitchExpress.metrics.path: should be a path starting with "/" (no query), got "metrics"'],
      [{ hitch, ignorePaths: ['/ok', 'nope'] }, 'hitchExpress.ignorePaths[1]: should be a path starting with "/" (no query), got "nope"'],
      [{ hitch, health: { livenessPath: '/metrics' } }, 'hitchExpress: the metrics and health paths must differ, got /metrics, /metrics, /readyz'],
      [{ hitch, requestLog: 'warn' }, `hitchExpress.requestLog: should be 'info', 'debug' or false, got "warn"`],
      [{ hitch, sizeHistograms: 'yes' }, 'hitchExpress.sizeHistograms: should be a boolean'],
      [{ hitch, metrics: { port: 70000 } }, 'hitchExpress.metrics.port: should be an integer in 0..65535, got 70000'],
    ];
    for (const [options, message] of cases) {
      const app = express();
      const install = (): unknown => instrument(app, options as HitchExpressOptions);
      expect(install).toThrow(InvalidOptionError);
      expect(install).toThrow(message);
    }
  });

  it('refuses what is not an Express app', () => {
    const hitch = h.createHitch();
    expect(() => instrument({}, { hitch })).toThrow('hitchExpress: expects an Express application as its first argument');
  });

  it('a failed installation leaves the app free to be instrumented', async () => {
    const hitch = h.createHitch();
    const app = express();
    expect(() => instrument(app, { hitch, maxRoutes: -1 })).toThrow(InvalidOptionError);
    instrument(app, { hitch });
    app.get('/rides/:id', (_req, res) => {
      res.end();
    });
    const served = await h.listen(app);
    await served.request('/rides/1');
    const spans = await h.waitForServerSpans(1);
    expect(spans.map((s) => s.name)).toEqual(['GET /rides/:id']);
  });
});
