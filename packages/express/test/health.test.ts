import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, ShutdownPriority } from '@hitch/core';
import type { Hitch } from '@hitch/core';
import type { HitchExpressInstrumentation, HitchExpressOptions } from '@hitch/express';
import express from 'express';
import type { Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, gate, instrument, send } from './support/server-harness.js';
import type { TestServer } from './support/server-harness.js';

// The routes Hitch answers on the application's server (/metrics, /healthz, /readyz), through real
// HTTP on loopback.

const harness = new Harness();
afterEach(() => harness.close());

interface Started {
  readonly hitch: Hitch;
  readonly app: Express;
  readonly server: TestServer;
  readonly instrumentation: HitchExpressInstrumentation;
}

/** An instrumented app with one route of its own (and what `routes` adds), served on loopback. */
async function start(options: Omit<HitchExpressOptions, 'hitch'> = {}, routes: (app: Express) => void = () => undefined): Promise<Started> {
  const hitch = harness.createHitch();
  const app = express();
  const instrumentation = instrument(app, { hitch, ...options });
  app.get('/rides/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  routes(app);
  const server = await harness.serve(app);
  return { hitch, app, server, instrumentation };
}

/** Routes that answer every method on `paths`, to see what Hitch lets through. */
const catchAll =
  (...paths: string[]) =>
  (app: Express): void => {
    for (const path of paths) app.all(path, (req, res) => void res.status(200).json({ app: true, method: req.method }));
  };

const FORMATS = [
  { format: 'Prometheus text by default', accept: undefined, contentType: PROMETHEUS_CONTENT_TYPE, eof: false },
  { format: 'Prometheus text for Accept: text/plain', accept: 'text/plain; version=0.0.4', contentType: PROMETHEUS_CONTENT_TYPE, eof: false },
  { format: 'OpenMetrics for Accept: application/openmetrics-text', accept: 'application/openmetrics-text', contentType: OPENMETRICS_CONTENT_TYPE, eof: true },
  {
    format: 'OpenMetrics when preferred to text',
    accept: 'application/openmetrics-text; version=1.0.0; q=0.9, text/plain; q=0.5',
    contentType: OPENMETRICS_CONTENT_TYPE,
    eof: true,
  },
];

describe('/metrics', () => {
  describe.each(FORMATS)('$format', ({ accept, contentType, eof }) => {
    const headers = accept === undefined ? {} : { accept };

    it('serves the request metrics with the negotiated content type', async () => {
      const { server } = await start();
      expect((await server.send('/rides/42')).status).toBe(200);
      const res = await server.send('/metrics', { headers });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(contentType);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('# TYPE http_server_request_duration_seconds histogram');
      expect(res.text).toMatch(/^http_server_request_duration_seconds_count\{[^}]*route="\/rides\/:id"[^}]*\} 1/m);
      expect(res.text.endsWith('# EOF\n')).toBe(eof);
    });

    it('answers HEAD with the headers and no body', async () => {
      const { server } = await start();
      const res = await server.send('/metrics', { method: 'HEAD', headers });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(contentType);
      expect(res.text).toBe('');
    });
  });

  it('leaves its own requests (and the probes) out of the metrics by default', async () => {
    const { server } = await start();
    await server.send('/healthz');
    await server.send('/readyz');
    await server.send('/metrics');
    const res = await server.send('/metrics');
    expect(res.text).not.toMatch(/route="\/(metrics|healthz|readyz)"/);
  });

  it('counts them with instrumentHealthRoutes: true', async () => {
    const { server } = await start({ instrumentHealthRoutes: true });
    await server.send('/healthz');
    await server.send('/metrics');
    const res = await server.send('/metrics');
    expect(res.text).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/metrics"[^}]*\} 1/);
    expect(res.text).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} 1/);
  });

  describe('with a bearer token', () => {
    const token = 's3cret-t0ken';
    const options = { metrics: { bearerToken: token } };

    it.each([
      ['no Authorization header', undefined],
      ['a wrong token of the same length', 'Bearer s3cret-t0keN'],
      ['a wrong token of another length', 'Bearer s3cret'],
      ['a longer token that starts with the right one', `Bearer ${token}x`],
      ['an empty token', 'Bearer '],
      ['the token without its scheme', token],
      ['another scheme', `Basic ${token}`],
    ])('answers 401 to %s, without the metrics', async (_case, authorization) => {
      const { server } = await start(options);
      await server.send('/rides/1');
      const res = await server.send('/metrics', { headers: authorization === undefined ? {} : { authorization } });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.text).not.toContain('http_server_request_duration_seconds');
    });

    it('answers 200 with the metrics to the right token', async () => {
      const { server } = await start(options);
      await server.send('/rides/1');
      const res = await server.send('/metrics', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
      expect(res.text).toContain('http_server_request_duration_seconds_count{');
    });

    it.each(['bearer', 'BEARER'])('accepts the scheme spelled %s (schemes are case-insensitive)', async (scheme) => {
      const { server } = await start(options);
      expect((await server.send('/metrics', { headers: { authorization: `${scheme} ${token}` } })).status).toBe(200);
    });

    it('answers HEAD without the token with 401 too', async () => {
      const { server } = await start(options);
      expect((await server.send('/metrics', { method: 'HEAD' })).status).toBe(401);
    });

    it('does not guard the probes', async () => {
      const { server } = await start(options);
      expect((await server.send('/healthz')).status).toBe(200);
      expect((await server.send('/readyz')).status).toBe(200);
    });

    it('lets a POST through to the app, token or not', async () => {
      const { server } = await start(options, catchAll('/metrics'));
      const res = await server.send('/metrics', { method: 'POST' });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ app: true, method: 'POST' });
    });
  });

  describe('on a separate port', () => {
    it('is served there, with the app metrics, and not by the app', async () => {
      const { server, instrumentation } = await start({ metrics: { port: 0, host: '127.0.0.1' } });
      expect(instrumentation.metricsServer).toBeDefined();
      const metricsServer = await instrumentation.metricsServer!;
      expect(metricsServer.host).toBe('127.0.0.1');
      expect(metricsServer.port).toBeGreaterThan(0);
      expect(metricsServer.port).not.toBe(server.port);
      expect(metricsServer.url).toBe(`http://127.0.0.1:${metricsServer.port}/metrics`);

      await server.send('/rides/7');
      const res = await send(metricsServer.port, '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
      expect(res.text).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/rides\/:id"[^}]*\} 1/);
      const openMetrics = await send(metricsServer.port, '/metrics', { headers: { accept: 'application/openmetrics-text' } });
      expect(openMetrics.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);

      // The app's server has no /metrics: the request reaches the app's (absent) routes.
      expect((await server.send('/metrics')).status).toBe(404);
    });

    it('uses metrics.path there', async () => {
      const { server, instrumentation } = await start({ metrics: { port: 0, host: '127.0.0.1', path: '/prom' } });
      const metricsServer = await instrumentation.metricsServer!;
      expect(metricsServer.url).toBe(`http://127.0.0.1:${metricsServer.port}/prom`);
      expect((await send(metricsServer.port, '/prom')).status).toBe(200);
      expect((await server.send('/prom')).status).toBe(404);
    });

    it('is closed by hitch.shutdown()', async () => {
      const { hitch, instrumentation } = await start({ metrics: { port: 0, host: '127.0.0.1' } });
      const metricsServer = await instrumentation.metricsServer!;
      await hitch.shutdown();
      await expect(send(metricsServer.port, '/metrics')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('is not started without a port', async () => {
      const { instrumentation } = await start();
      expect(instrumentation.metricsServer).toBeUndefined();
    });
  });

  it('is not served with metrics: false', async () => {
    const { server } = await start({ metrics: false });
    expect((await server.send('/metrics')).status).toBe(404);
    expect((await server.send('/healthz')).status).toBe(200);
  });
});

describe('/healthz (liveness)', () => {
  it('answers 200 pass as JSON, not cached', async () => {
    const { server } = await start();
    const res = await server.send('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json).toEqual({ status: 'pass', checks: {} });
  });

  it('answers 503 with the failing liveness check', async () => {
    const { hitch, server } = await start();
    hitch.lifecycle.health.register('event loop', () => {
      throw new Error('stuck');
    }, { kind: 'liveness' });
    const res = await server.send('/healthz');
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ status: 'fail', checks: { 'event loop': { status: 'fail', error: 'stuck' } } });
  });

  it('ignores readiness checks, readiness and draining', async () => {
    const { hitch, server } = await start();
    hitch.lifecycle.health.register('db', () => Promise.reject(new Error('connection refused')));
    hitch.lifecycle.health.setReady(false);
    const res = await server.send('/healthz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'pass', checks: {} });
  });
});

describe('/readyz (readiness)', () => {
  it('answers 200 pass with each check and its details', async () => {
    const { hitch, server } = await start();
    hitch.lifecycle.health.register('db', async () => ({ connections: 4 }));
    const res = await server.send('/readyz');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.json).toMatchObject({ status: 'pass', checks: { db: { status: 'pass', details: { connections: 4 } } } });
  });

  it('answers 503 with the failing critical check in the body', async () => {
    const { hitch, server } = await start();
    hitch.lifecycle.health.register('db', () => Promise.reject(new Error('connection refused')));
    hitch.lifecycle.health.register('cache', () => undefined);
    const res = await server.send('/readyz');
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({
      status: 'fail',
      checks: { db: { status: 'fail', error: 'connection refused' }, cache: { status: 'pass' } },
    });
  });

  it('answers 200 warn when only a non-critical check fails', async () => {
    const { hitch, server } = await start();
    hitch.lifecycle.health.register('cache', () => Promise.reject(new Error('cache down')), { critical: false });
    const res = await server.send('/readyz');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'warn', checks: { cache: { status: 'warn', error: 'cache down' } } });
  });

  it("answers 503 'not ready' after setReady(false), 200 again after setReady(true)", async () => {
    const { hitch, server } = await start();
    hitch.lifecycle.health.setReady(false);
    const unready = await server.send('/readyz');
    expect(unready.status).toBe(503);
    expect(unready.json).toEqual({ status: 'fail', reason: 'not ready', checks: {} });
    hitch.lifecycle.health.setReady(true);
    expect((await server.send('/readyz')).status).toBe(200);
  });

  it("answers 503 'draining' once lifecycle.shutdown() has started, while liveness stays 200", async () => {
    const { hitch, server } = await start();
    let checks = 0;
    hitch.lifecycle.health.register('db', () => void checks++);
    expect((await server.send('/readyz')).status).toBe(200);
    expect(checks).toBe(1);

    // A hook that holds the shutdown open, so the probe is answered in the middle of it.
    const held = gate();
    hitch.lifecycle.onShutdown('hold', () => held.promise, { priority: ShutdownPriority.StopAccepting });
    const report = hitch.lifecycle.shutdown();
    const draining = await server.send('/readyz');
    expect(draining.status).toBe(503);
    expect(draining.json).toEqual({ status: 'fail', reason: 'draining', checks: {} });
    // The answer cannot change while draining: the checks are not run.
    expect(checks).toBe(1);
    expect((await server.send('/healthz')).status).toBe(200);

    held.open();
    expect((await report).ok).toBe(true);
    const stopped = await server.send('/readyz');
    expect(stopped.status).toBe(503);
    expect(stopped.json).toMatchObject({ reason: 'stopped' });
  });
});

describe('paths and methods', () => {
  it('serves the probes and metrics on the configured paths only', async () => {
    const { server } = await start({ health: { livenessPath: '/live', readinessPath: '/ready' }, metrics: { path: '/prom' } });
    expect((await server.send('/live')).json).toEqual({ status: 'pass', checks: {} });
    expect((await server.send('/ready')).json).toEqual({ status: 'pass', checks: {} });
    const metrics = await server.send('/prom');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await server.send(path)).status).toBe(404);
  });

  it('serves no probes with health: false', async () => {
    const { server } = await start({ health: false });
    expect((await server.send('/healthz')).status).toBe(404);
    expect((await server.send('/readyz')).status).toBe(404);
    expect((await server.send('/metrics')).status).toBe(200);
  });

  it('serves a path with a query string', async () => {
    const { server } = await start();
    expect((await server.send('/healthz?verbose=1')).status).toBe(200);
    expect((await server.send('/metrics?name[]=up')).status).toBe(200);
  });

  it.each(['/healthz', '/readyz'])('answers HEAD %s with the status and no body', async (path) => {
    const { hitch, server } = await start();
    const ok = await server.send(path, { method: 'HEAD' });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(ok.text).toBe('');
    hitch.lifecycle.health.register('broken', () => {
      throw new Error('down');
    }, { kind: 'both' });
    const failing = await server.send(path, { method: 'HEAD' });
    expect(failing.status).toBe(503);
    expect(failing.text).toBe('');
  });

  describe.each(['/healthz', '/readyz', '/metrics'])('%s', (path) => {
    it.each(['POST', 'PUT', 'DELETE'])('passes %s through to the app', async (method) => {
      const { server } = await start({}, catchAll(path));
      const res = await server.send(path, { method });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ app: true, method });
    });

    it('answers POST with 404 when the app has no such route', async () => {
      const { server } = await start();
      const res = await server.send(path, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(res.text).toContain(`Cannot POST ${path}`);
    });
  });
});
