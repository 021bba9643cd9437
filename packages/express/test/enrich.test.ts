// With @opentelemetry/instrumentation-http active, the SERVER span is its: Hitch must enrich
// that span (route, name) instead of starting a second SERVER span under it.
//
// How the patch reaches this file: instrumentation-http wraps `http.Server.prototype.emit` when
// `http` is loaded through a require hook (require-in-the-middle). The servers here are created
// from the ESM `node:http`, whose `Server` is the same class as the CommonJS module's, so requiring
// `node:http` once after `enable()` patches the prototype every server of the process uses.
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { Express } from 'express';
import express from 'express';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import type { FinishedSpan, TestApp } from './support/app-harness.js';
import { instrument, requestCount, samplesOf, STATUS, useHarness } from './support/app-harness.js';

const h = useHarness();

const instrumentation = new HttpInstrumentation({ enabled: false, disableOutgoingRequestInstrumentation: true });
afterAll(() => instrumentation.disable());

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** A Hitch instance, instrumentation-http enabled on its provider, and an app served after both. */
async function serve(build: (app: Express) => void): Promise<TestApp> {
  const hitch = h.createHitch();
  instrumentation.setTracerProvider(hitch.tracing.provider);
  instrumentation.enable();
  createRequire(import.meta.url)('node:http');
  h.onDispose(() => instrumentation.disable());
  const app = express();
  instrument(app, { hitch });
  build(app);
  return h.listen(app);
}

const HTTP_SCOPE = '@opentelemetry/instrumentation-http';

/** The SERVER spans once `count` have ended, each checked to be instrumentation-http's (enriched, not Hitch's own). */
async function enrichedSpans(count: number): Promise<FinishedSpan[]> {
  const spans = await h.waitForServerSpans(count);
  expect(spans.map((s) => s.instrumentationScope.name)).toEqual(spans.map(() => HTTP_SCOPE));
  return spans;
}

function rides(app: Express): void {
  const v1 = express.Router();
  v1.get('/rides/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  v1.get('/boom/:id', () => {
    throw new Error('boom');
  });
  v1.get('/missing/:id', (_req, res) => {
    res.status(404).end();
  });
  app.use('/v1', v1);
}

describe('with @opentelemetry/instrumentation-http', () => {
  it('exactly one SERVER span per request, named by the route and carrying http.route', async () => {
    const app = await serve(rides);
    for (let i = 0; i < 3; i++) expect((await app.request(`/v1/rides/${i}`)).status).toBe(200);
    const spans = await enrichedSpans(3);
    for (const span of spans) {
      expect(span.name).toBe('GET /v1/rides/:id');
      expect(span.attributes['http.route']).toBe('/v1/rides/:id');
      expect(span.attributes['http.response.status_code']).toBe(200);
    }
    // No span of Hitch's own: it enriched instead of nesting.
    expect(h.hitch.tracing.finishedSpans()).toHaveLength(3);
    expect(h.ledger.openSpans()).toEqual([]);
  });

  it('the enriched span continues the incoming trace; the metrics carry its trace id as exemplar', async () => {
    const app = await serve(rides);
    await app.request('/v1/rides/1', { headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } });
    const [span, ...others] = await enrichedSpans(1);
    expect(others).toEqual([]);
    expect(span!.spanContext().traceId).toBe(TRACE_ID);
    expect(span!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');

    const body = await app.metrics({ openMetrics: true });
    expect(requestCount(body, { method: 'GET', route: '/v1/rides/:id', status_code: '200' })).toBe(1);
    const exemplars = samplesOf(body, 'http_server_request_duration_seconds_bucket').flatMap((s) => (s.exemplar === undefined ? [] : [s.exemplar.labels]));
    expect(exemplars).toEqual([{ trace_id: TRACE_ID, span_id: span!.spanContext().spanId }]);
  });

  it('a thrown error: one SERVER span, ERROR status, one exception event', async () => {
    const app = await serve(rides);
    expect((await app.request('/v1/boom/1')).status).toBe(500);
    const [span, ...others] = await enrichedSpans(1);
    expect(others).toEqual([]);
    expect(span!.name).toBe('GET /v1/boom/:id');
    expect(span!.status.code).toBe(STATUS.ERROR);
    expect(span!.events.filter((e) => e.name === 'exception')).toHaveLength(1);
  });

  it('a 4xx and an unmatched request: one span each, status UNSET, never the raw path as name', async () => {
    const app = await serve(rides);
    expect((await app.request('/v1/missing/1')).status).toBe(404);
    expect((await app.request('/nowhere/123')).status).toBe(404);
    const spans = await enrichedSpans(2);
    expect(spans.map((s) => s.name)).toEqual(['GET /v1/missing/:id', 'GET __unmatched__']);
    expect(spans.map((s) => s.status.code)).toEqual([STATUS.UNSET, STATUS.UNSET]);
    expect(spans[1]!.attributes).not.toHaveProperty('http.route');
    const body = await app.metrics();
    expect(requestCount(body, { route: '__unmatched__', status_code: '404' })).toBe(1);
  });
});
