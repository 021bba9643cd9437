// Route templates through real requests: the span name, `http.route` and the `route` label are
// the full template across nested routers, whatever the order in which the app was built.
import type { Express, RequestHandler } from 'express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import type { TestApp } from './support/app-harness.js';
import { instrument, samplesOf, useHarness } from './support/app-harness.js';

const h = useHarness();

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};

/** An Express 5 app instrumented with the default options (routes added by the test). */
function instrumented(): Express {
  const app = express();
  instrument(app, { hitch: h.createHitch() });
  return app;
}

/**
 * Sends each request in turn on one keep-alive connection and returns, in order, the span name
 * and `http.route` of each, and the `route` labels the metrics hold.
 */
async function routesOf(app: TestApp, requests: readonly (string | [method: string, path: string])[]): Promise<{ names: string[]; httpRoutes: unknown[]; labels: string[] }> {
  h.hitch.tracing.resetFinishedSpans();
  for (const r of requests) {
    const [method, path] = typeof r === 'string' ? ['GET', r] : r;
    const response = await app.request(path, { method });
    expect(response.status, `${method} ${path}`).toBeLessThan(500);
  }
  const spans = await h.waitForServerSpans(requests.length);
  const labels = samplesOf(await app.metrics(), 'http_server_request_duration_seconds_count').map((s) => s.labels.route!);
  return { names: spans.map((s) => s.name), httpRoutes: spans.map((s) => s.attributes['http.route']), labels: [...new Set(labels)].sort() };
}

describe('route templates', () => {
  it('an app route', async () => {
    const app = instrumented();
    app.get('/rides/:id', ok);
    const { names, httpRoutes, labels } = await routesOf(await h.listen(app), ['/rides/1', '/rides/2']);
    expect(names).toEqual(['GET /rides/:id', 'GET /rides/:id']);
    expect(httpRoutes).toEqual(['/rides/:id', '/rides/:id']);
    expect(labels).toEqual(['/rides/:id']);
  });

  it('a router mounted under a prefix, routes added after the mount', async () => {
    const app = instrumented();
    const v1 = express.Router();
    app.use('/v1', v1);
    v1.get('/rides/:id', ok);
    const { names, labels } = await routesOf(await h.listen(app), ['/v1/rides/9']);
    expect(names).toEqual(['GET /v1/rides/:id']);
    expect(labels).toEqual(['/v1/rides/:id']);
  });

  it('a router mounted with a parameter, inside another router', async () => {
    const app = instrumented();
    const v1 = express.Router();
    const stops = express.Router({ mergeParams: true });
    app.use('/v1', v1);
    v1.use('/rides/:rid/stops', stops);
    stops.get('/:sid', (req, res) => {
      res.json(req.params);
    });
    const served = await h.listen(app);
    expect(JSON.parse((await served.request('/v1/rides/5/stops/3')).body)).toEqual({ rid: '5', sid: '3' });
    const { names, httpRoutes } = await routesOf(served, ['/v1/rides/5/stops/3']);
    expect(names).toEqual(['GET /v1/rides/:rid/stops/:sid']);
    expect(httpRoutes).toEqual(['/v1/rides/:rid/stops/:sid']);
  });

  it('routers built completely before being mounted', async () => {
    const stops = express.Router();
    stops.get('/:sid', ok);
    const rides = express.Router();
    rides.get('/:id', ok);
    rides.use('/:rid/stops', stops);
    const v1 = express.Router();
    v1.use('/rides', rides);
    const app = instrumented();
    app.use('/v1', v1);
    const { names } = await routesOf(await h.listen(app), ['/v1/rides/1', '/v1/rides/1/stops/2']);
    expect(names).toEqual(['GET /v1/rides/:id', 'GET /v1/rides/:rid/stops/:sid']);
  });

  it('routes and routers added before hitchExpress was called', async () => {
    const app = express();
    const v1 = express.Router();
    v1.get('/rides/:id', ok);
    app.use('/v1', v1);
    app.get('/health/:part', ok);
    instrument(app, { hitch: h.createHitch() });
    app.get('/after/:x', ok);
    const { names } = await routesOf(await h.listen(app), ['/v1/rides/1', '/health/db', '/after/1']);
    expect(names).toEqual(['GET /v1/rides/:id', 'GET /health/:part', 'GET /after/:x']);
  });

  it('the same router mounted at two prefixes: the prefix the request came through', async () => {
    const app = instrumented();
    const rides = express.Router();
    rides.get('/rides/:id', ok);
    app.use('/v1', rides);
    app.use('/v2', rides);
    const { names, labels } = await routesOf(await h.listen(app), ['/v2/rides/1', '/v1/rides/1', '/V2/Rides/2']);
    // Express matches case-insensitively by default: so does the choice of prefix.
    expect(names).toEqual(['GET /v2/rides/:id', 'GET /v1/rides/:id', 'GET /v2/rides/:id']);
    expect(labels).toEqual(['/v1/rides/:id', '/v2/rides/:id']);
  });

  it('the same router mounted at a parameter prefix and at a literal one: the mount Express routed through', async () => {
    const app = instrumented();
    const api = express.Router();
    api.get('/rides/:id', ok);
    app.use('/tenants/:tenant/api', api);
    app.use('/admin/api', api);
    const { names } = await routesOf(await h.listen(app), ['/tenants/acme/api/rides/1', '/admin/api/rides/1']);
    expect(names).toEqual(['GET /tenants/:tenant/api/rides/:id', 'GET /admin/api/rides/:id']);
  });

  it('app.route() and router.route() chains', async () => {
    const app = instrumented();
    app.route('/rides/:id').get(ok).put(ok).delete(ok);
    const v1 = express.Router();
    v1.route('/stops/:sid').get(ok).post(ok);
    app.use('/v1', v1);
    const { names } = await routesOf(await h.listen(app), ['/rides/1', ['PUT', '/rides/1'], ['DELETE', '/rides/2'], '/v1/stops/4', ['POST', '/v1/stops/4']]);
    expect(names).toEqual(['GET /rides/:id', 'PUT /rides/:id', 'DELETE /rides/:id', 'GET /v1/stops/:sid', 'POST /v1/stops/:sid']);
  });

  it('a router mounted without a path, and mounts with a trailing slash', async () => {
    const app = instrumented();
    const root = express.Router();
    root.get('/drivers/:id', ok);
    app.use(root);
    const v3 = express.Router();
    v3.get('/rides/:id', ok);
    app.use('/v3/', v3);
    const { names } = await routesOf(await h.listen(app), ['/drivers/1', '/v3/rides/1']);
    expect(names).toEqual(['GET /drivers/:id', 'GET /v3/rides/:id']);
  });

  it('Express 5 wildcard and optional segments keep their syntax', async () => {
    const app = instrumented();
    app.get('/files/*path', ok);
    app.get('/rides/:id{.:format}', ok);
    const { names } = await routesOf(await h.listen(app), ['/files/a/b/c.txt', '/rides/1.json', '/rides/1']);
    expect(names).toEqual(['GET /files/*path', 'GET /rides/:id{.:format}', 'GET /rides/:id{.:format}']);
  });

  it('a route with several paths, inside a mounted router: every alternative carries the prefix', async () => {
    const app = instrumented();
    const v1 = express.Router();
    v1.get(['/rides/:id', '/trips/:id'], ok);
    app.use('/v1', v1);
    const { names } = await routesOf(await h.listen(app), ['/v1/trips/1']);
    // Which alternative matched is not kept by Express: the template names them all.
    expect(names).toEqual(['GET /v1/rides/:id|/v1/trips/:id']);
  });

  it('a router mounted at several paths at once: the path the request came through', async () => {
    const app = instrumented();
    const rides = express.Router();
    rides.get(['/rides/:id', '/trips/:id'], ok);
    app.use(['/v1', '/v2'], rides);
    const { names } = await routesOf(await h.listen(app), ['/v2/rides/1', '/v1/trips/1']);
    expect(names).toEqual(['GET /v2/rides/:id|/v2/trips/:id', 'GET /v1/rides/:id|/v1/trips/:id']);
  });

  it('a route given as a regular expression is named by its source', async () => {
    const app = instrumented();
    const legacy = express.Router();
    legacy.get(/^\/ride-(\d+)$/, ok);
    app.use('/legacy', legacy);
    const { names } = await routesOf(await h.listen(app), ['/legacy/ride-42']);
    expect(names).toEqual(['GET /legacy/^\\/ride-(\\d+)$/']);
  });

  it('a route that passes with next("route") is named by the route that answered', async () => {
    const app = instrumented();
    app.get('/rides/:id', (req, _res, next) => {
      next(req.params.id === 'latest' ? undefined : 'route');
    });
    app.get('/rides/:id', ok);
    app.get('/rides/:id', ok);
    const { names } = await routesOf(await h.listen(app), ['/rides/7']);
    expect(names).toEqual(['GET /rides/:id']);
  });

  it('answered by middleware (no route) or a method no route serves: __unmatched__', async () => {
    const app = instrumented();
    app.use('/static', (_req, res) => {
      res.end('file');
    });
    app.get('/rides/:id', ok);
    const { names, labels } = await routesOf(await h.listen(app), ['/static/app.js', ['POST', '/rides/1']]);
    expect(names).toEqual(['GET __unmatched__', 'POST __unmatched__']);
    expect(labels).toEqual(['__unmatched__']);
  });

  // Express 5 mounts a sub-application through a closure that does not lead back to it, so the
  // mount prefix may be unknown; what must hold is that the name stays a template.
  it('a mounted sub-application: bounded to the template Express knows, never the raw path', async () => {
    const app = instrumented();
    const admin = express();
    admin.get('/users/:uid', ok);
    app.use('/admin', admin);
    const { names } = await routesOf(await h.listen(app), ['/admin/users/123']);
    expect(names).toHaveLength(1);
    expect(names[0]).not.toContain('123');
    expect(['GET /admin/users/:uid', 'GET /users/:uid']).toContain(names[0]);
  });

  it('templates stay right when routes are added while the app serves', async () => {
    const app = instrumented();
    const v1 = express.Router();
    app.use('/v1', v1);
    const served = await h.listen(app);
    expect((await routesOf(served, ['/v1/rides/1'])).names).toEqual(['GET __unmatched__']);
    v1.get('/rides/:id', ok);
    const late = express.Router();
    late.get('/:sid', ok);
    v1.use('/rides/:rid/stops', late);
    expect((await routesOf(served, ['/v1/rides/1', '/v1/rides/1/stops/2'])).names).toEqual(['GET /v1/rides/:id', 'GET /v1/rides/:rid/stops/:sid']);
  });

  it('a router mounted at a second prefix after it has served requests', async () => {
    const app = instrumented();
    const rides = express.Router();
    rides.get('/rides/:id', ok);
    app.use('/v1', rides);
    const served = await h.listen(app);
    expect((await routesOf(served, ['/v1/rides/1'])).names).toEqual(['GET /v1/rides/:id']);
    app.use('/v2', rides);
    expect((await routesOf(served, ['/v2/rides/1', '/v1/rides/2'])).names).toEqual(['GET /v2/rides/:id', 'GET /v1/rides/:id']);
  });
});
