// Express 4 (installed as `express4`): its router lives in `app._router`, its layers carry no
// `rawPath`, so mount templates come from Hitch's own record of `use()` calls.
import { hitchErrorHandler } from '@hitch/express';
import type { Express, RequestHandler, Router } from 'express';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { TestApp } from './support/app-harness.js';
import { activeRequests, instrument, requestCount, samplesOf, STATUS, useHarness } from './support/app-harness.js';

/** The parts of Express 4 used here; its API for them is the one `@types/express` describes. */
interface Express4 {
  (): Express;
  Router(options?: { mergeParams?: boolean }): Router;
  json(): RequestHandler;
  readonly application: { readonly lazyrouter?: unknown };
}
// `express4` ships without types, and CommonJS: load it the way it is published.
const express4 = createRequire(import.meta.url)('express4') as Express4;

const h = useHarness();

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};

function instrumented(): Express {
  const app = express4();
  instrument(app, { hitch: h.createHitch() });
  return app;
}

async function namesOf(app: TestApp, paths: readonly string[]): Promise<string[]> {
  h.hitch.tracing.resetFinishedSpans();
  for (const path of paths) await app.request(path);
  return (await h.waitForServerSpans(paths.length)).map((s) => s.name);
}

describe('Express 4', () => {
  it('is the Express 4 line (the scenario is real)', () => {
    expect(typeof express4.application.lazyrouter).toBe('function');
    expect((createRequire(import.meta.url)('express4/package.json') as { version: string }).version).toMatch(/^4\./);
  });

  it('app routes: a SERVER span named by the template, with the HTTP attributes, and metrics', async () => {
    const app = instrumented();
    app.get('/rides/:id', ok);
    const served = await h.listen(app);
    expect((await served.request('/rides/42?x=1', { headers: { 'user-agent': 'v4-test' } })).status).toBe(200);

    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET /rides/:id');
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/rides/:id',
      'http.response.status_code': 200,
      'url.path': '/rides/42',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': served.port,
      'user_agent.original': 'v4-test',
    });
    expect(span!.status.code).toBe(STATUS.UNSET);

    const body = await served.metrics();
    expect(requestCount(body, { method: 'GET', route: '/rides/:id', status_code: '200' })).toBe(1);
    expect(activeRequests(body)).toBe(0);
  });

  it('continues an incoming trace', async () => {
    const app = instrumented();
    app.get('/rides/:id', ok);
    const served = await h.listen(app);
    await served.request('/rides/1', { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    const [span] = await h.waitForServerSpans(1);
    expect(span!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('routers mounted after hitchExpress: nested, with a parameter, route() chains', async () => {
    const app = instrumented();
    const v1 = express4.Router();
    app.use('/v1', v1);
    v1.get('/rides/:id', ok);
    const stops = express4.Router({ mergeParams: true });
    stops.get('/:sid', (req, res) => {
      res.json(req.params);
    });
    v1.use('/rides/:rid/stops', stops);
    v1.route('/drivers/:did').get(ok).post(ok);
    app.route('/cars/:cid').get(ok);
    const served = await h.listen(app);
    expect(JSON.parse((await served.request('/v1/rides/5/stops/3')).body)).toEqual({ rid: '5', sid: '3' });
    expect(await namesOf(served, ['/v1/rides/1', '/v1/rides/5/stops/3', '/v1/drivers/2', '/cars/7'])).toEqual([
      'GET /v1/rides/:id',
      'GET /v1/rides/:rid/stops/:sid',
      'GET /v1/drivers/:did',
      'GET /cars/:cid',
    ]);
    const labels = samplesOf(await served.metrics(), 'http_server_request_duration_seconds_count').map((s) => s.labels.route);
    expect(new Set(labels)).toEqual(new Set(['/v1/rides/:id', '/v1/rides/:rid/stops/:sid', '/v1/drivers/:did', '/cars/:cid']));
  });

  it('a router built before it is mounted (after hitchExpress), and mounted at two prefixes', async () => {
    const rides = express4.Router();
    rides.get('/rides/:id', ok);
    const inner = express4.Router();
    inner.get('/:sid', ok);
    rides.use('/rides/:rid/stops', inner);
    const app = instrumented();
    app.use('/v1', rides);
    app.use('/v2', rides);
    expect(await namesOf(await h.listen(app), ['/v2/rides/1', '/v1/rides/1', '/v2/rides/1/stops/2'])).toEqual([
      'GET /v2/rides/:id',
      'GET /v1/rides/:id',
      'GET /v2/rides/:rid/stops/:sid',
    ]);
  });

  it('a router tree built and mounted before hitchExpress: templates read back from Express 4\'s compiled paths', async () => {
    const app = express4();
    const stops = express4.Router();
    stops.get('/:sid', ok);
    const rides = express4.Router();
    rides.get('/rides/:id', ok);
    rides.use('/rides/:rid/stops', stops);
    app.use('/v1', rides);
    app.use('/tenants/:tenant/api/', rides);
    const optional = express4.Router();
    optional.get('/list', ok);
    app.use('/archive/:year?', optional);
    instrument(app, { hitch: h.createHitch() });
    expect(await namesOf(await h.listen(app), ['/v1/rides/77', '/v1/rides/7/stops/8', '/tenants/acme/api/rides/1', '/archive/2020/list'])).toEqual([
      'GET /v1/rides/:id',
      'GET /v1/rides/:rid/stops/:sid',
      'GET /tenants/:tenant/api/rides/:id',
      'GET /archive/:year?/list',
    ]);
  });

  it('a mount whose path cannot be read back (a regular expression, "-:name"): the name stays a template', async () => {
    const app = express4();
    const byRegexp = express4.Router();
    byRegexp.get('/rides/:id', ok);
    app.use(/^\/r\d+/, byRegexp);
    const dashed = express4.Router();
    dashed.get('/stops/:sid', ok);
    app.use('/ride-:rid', dashed);
    instrument(app, { hitch: h.createHitch() });
    const names = await namesOf(await h.listen(app), ['/r42/rides/77', '/ride-9/stops/3']);
    expect(names).toEqual(['GET /rides/:id', 'GET /stops/:sid']);
  });

  it('a request no route matched: __unmatched__', async () => {
    const app = instrumented();
    app.get('/rides/:id', ok);
    const served = await h.listen(app);
    expect((await served.request('/nowhere/9')).status).toBe(404);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET __unmatched__');
    expect(requestCount(await served.metrics(), { route: '__unmatched__', status_code: '404' })).toBe(1);
  });

  it.each([
    { errorHandler: false, title: "Express 4's final handler" },
    { errorHandler: true, title: 'hitchErrorHandler' },
  ])('a synchronous throw answered by $title: 500 recorded on the span and in the metrics', async ({ errorHandler }) => {
    const app = instrumented();
    app.get('/boom/:id', () => {
      throw new TypeError('v4 boom');
    });
    if (errorHandler) app.use(hitchErrorHandler());
    const served = await h.listen(app);
    expect((await served.request('/boom/1')).status).toBe(500);

    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET /boom/:id');
    expect(span!.status.code).toBe(STATUS.ERROR);
    expect(span!.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': 'TypeError' });
    expect(span!.events.filter((e) => e.name === 'exception')).toHaveLength(1);
    const body = await served.metrics();
    expect(requestCount(body, { route: '/boom/:id', status_code: '500' })).toBe(1);
    expect(activeRequests(body)).toBe(0);
  });

  it('middleware added before hitchExpress still runs inside the request span', async () => {
    const app = express4();
    app.use(express4.json());
    instrument(app, { hitch: h.createHitch() });
    app.post('/rides', ok);
    const served = await h.listen(app);
    const response = await served.request('/rides', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(response.status).toBe(400);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.attributes['http.response.status_code']).toBe(400);
    expect(span!.status.code).toBe(STATUS.UNSET);
    expect(requestCount(await served.metrics(), { method: 'POST', status_code: '400' })).toBe(1);
  });

  it('health and metrics routes are served on Express 4 and left out of the telemetry', async () => {
    const app = instrumented();
    const served = await h.listen(app);
    expect((await served.request('/healthz')).status).toBe(200);
    expect((await served.request('/readyz')).status).toBe(200);
    const body = await served.metrics();
    expect(samplesOf(body, 'http_server_request_duration_seconds_count')).toEqual([]);
    expect(h.ledger.started).toBe(0);
  });
});
