import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hitch } from '../src/index.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, createHitch } from '../src/index.js';
import { samplesOf, valueOf } from './support/exposition.js';
import { FakeClock } from './support/fake-clock.js';

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  contextManager.disable();
  context.disable();
});

let hitch: Hitch;
afterEach(async () => {
  await hitch?.shutdown();
});

function make(backend: 'prom-client' | 'otel' = 'prom-client'): Hitch {
  hitch = createHitch({ service: { name: 'exposition' }, clock: new FakeClock(1_700_000_000_000), metrics: { backend, runtimeMetrics: false } });
  return hitch;
}

const sampled = new BasicTracerProvider({ sampler: new AlwaysOnSampler() }).getTracer('test');
const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler() }).getTracer('test');

describe('content negotiation', () => {
  it.each([
    [undefined, PROMETHEUS_CONTENT_TYPE],
    ['', PROMETHEUS_CONTENT_TYPE],
    ['*/*', PROMETHEUS_CONTENT_TYPE],
    ['text/plain;version=0.0.4', PROMETHEUS_CONTENT_TYPE],
    ['application/openmetrics-text', OPENMETRICS_CONTENT_TYPE],
    // What Prometheus 2.x sends when scraping.
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      OPENMETRICS_CONTENT_TYPE,
    ],
    ['text/plain;q=1, application/openmetrics-text;q=0.5', PROMETHEUS_CONTENT_TYPE],
    ['application/openmetrics-text;version=2.0.0', PROMETHEUS_CONTENT_TYPE],
    ['application/openmetrics-text;q=0', PROMETHEUS_CONTENT_TYPE],
    ['garbage;;;q=abc,,', PROMETHEUS_CONTENT_TYPE],
  ])('Accept %j -> %s', async (accept, contentType) => {
    make();
    expect((await hitch.metrics.render(accept)).contentType).toBe(contentType);
  });
});

describe.each([
  ['prometheus', 'text/plain'],
  ['openmetrics', 'application/openmetrics-text'],
])('%s format', (format, accept) => {
  it('renders HELP, TYPE and escaped label values', async () => {
    const { metrics } = make();
    const c = metrics.counter({ name: 'rides_total', help: 'Rides "requested"\\ by city', labels: { city: { maxValues: 5 } } });
    c.inc({ city: 'a"b\\c\nd' });
    const { body } = await metrics.render(accept);
    expect(body).toContain('city="a\\"b\\\\c\\nd"');
    expect(valueOf(body, 'rides_total', { city: 'a"b\\c\nd' })).toBe(1);
    if (format === 'openmetrics') {
      expect(body).toContain('# TYPE rides counter');
      expect(body.endsWith('# EOF\n')).toBe(true);
    } else {
      expect(body).toContain('# TYPE rides_total counter');
      expect(body).not.toContain('# EOF');
    }
  });

  it('renders histograms as cumulative _bucket, _sum, _count', async () => {
    const { metrics } = make();
    const h = metrics.histogram({ name: 'match_duration_seconds', help: 'Latency', buckets: [0.1, 1] });
    h.observe(0.05);
    h.observe(0.5);
    const { body } = await metrics.render(accept);
    expect(body).toContain('# TYPE match_duration_seconds histogram');
    expect(samplesOf(body, 'match_duration_seconds_bucket').map((s) => [s.labels.le, s.value])).toEqual([
      ['0.1', 1],
      ['1', 2],
      ['+Inf', 2],
    ]);
  });
});

describe('exemplars', () => {
  it('records the active sampled span on a histogram bucket, exposed in OpenMetrics only', async () => {
    const { metrics } = make();
    const h = metrics.histogram({ name: 'match_duration_seconds', help: 'Latency', buckets: [0.1, 1] });
    let traceId = '';
    let spanId = '';
    sampled.startActiveSpan('match', (span) => {
      ({ traceId, spanId } = span.spanContext());
      h.observe(0.5);
      span.end();
    });
    h.observe(0.05); // outside any span: no exemplar on the 0.1 bucket
    const om = await metrics.render('application/openmetrics-text');
    const buckets = samplesOf(om.body, 'match_duration_seconds_bucket');
    expect(buckets.find((s) => s.labels.le === '0.1')?.exemplar).toBeUndefined();
    expect(buckets.find((s) => s.labels.le === '1')?.exemplar).toEqual({
      labels: { trace_id: traceId, span_id: spanId },
      value: 0.5,
      timestamp: 1_700_000_000,
    });
    const text = await metrics.render('text/plain');
    expect(text.body).not.toContain('trace_id');
  });

  it('keeps the latest exemplar per bucket', async () => {
    const { metrics } = make();
    const h = metrics.histogram({ name: 'match_duration_seconds', help: 'Latency', buckets: [1] });
    const ids: string[] = [];
    for (const v of [0.2, 0.3]) {
      sampled.startActiveSpan('match', (span) => {
        ids.push(span.spanContext().spanId);
        h.observe(v);
        span.end();
      });
    }
    const bucket = samplesOf((await metrics.render('application/openmetrics-text')).body, 'match_duration_seconds_bucket')[0]!;
    expect(bucket.exemplar?.labels.span_id).toBe(ids[1]);
    expect(bucket.exemplar?.value).toBe(0.3);
  });

  it('records nothing inside an unsampled span', async () => {
    const { metrics } = make();
    const h = metrics.histogram({ name: 'match_duration_seconds', help: 'Latency', buckets: [1] });
    unsampled.startActiveSpan('match', (span) => {
      h.observe(0.5);
      span.end();
    });
    expect((await metrics.render('application/openmetrics-text')).body).not.toContain('trace_id');
  });

  it('follows async context across awaits', async () => {
    const { metrics } = make();
    const h = metrics.histogram({ name: 'match_duration_seconds', help: 'Latency', buckets: [1] });
    const traceId = await sampled.startActiveSpan('match', async (span) => {
      await new Promise((resolve) => setImmediate(resolve));
      h.observe(0.5);
      span.end();
      return span.spanContext().traceId;
    });
    const bucket = samplesOf((await metrics.render('application/openmetrics-text')).body, 'match_duration_seconds_bucket')[0]!;
    expect(bucket.exemplar?.labels.trace_id).toBe(traceId);
  });

  it('can be turned off per histogram and on per counter', async () => {
    const { metrics } = make();
    const h = metrics.histogram({ name: 'a_seconds', help: 'A', buckets: [1], exemplars: false });
    const c = metrics.counter({ name: 'b_total', help: 'B', exemplars: true });
    const plain = metrics.counter({ name: 'c_total', help: 'C' });
    const traceId = sampled.startActiveSpan('s', (span) => {
      h.observe(0.5);
      c.inc();
      plain.inc();
      span.end();
      return span.spanContext().traceId;
    });
    const { body } = await metrics.render('application/openmetrics-text');
    expect(samplesOf(body, 'a_bucket').every((s) => s.exemplar === undefined)).toBe(true);
    expect(samplesOf(body, 'b_total')[0]?.exemplar?.labels.trace_id).toBe(traceId);
    expect(samplesOf(body, 'c_total')[0]?.exemplar).toBeUndefined();
    void trace;
  });
});

describe('serve()', () => {
  it.each(['prom-client', 'otel'] as const)('serves /metrics over HTTP on 127.0.0.1 (%s)', async (backend) => {
    const { metrics } = make(backend);
    metrics.counter({ name: 'rides_total', help: 'Rides' }).inc(3);
    const server = await metrics.serve({ host: '127.0.0.1', port: 0 });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
      expect(valueOf(await response.text(), 'rides_total')).toBe(3);
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('negotiates OpenMetrics over HTTP', async () => {
    const { metrics } = make();
    const server = await metrics.serve({ host: '127.0.0.1', port: 0 });
    const response = await fetch(server.url, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(response.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    expect((await response.text()).endsWith('# EOF\n')).toBe(true);
    // shutdown closes servers that are still open
  });

  it('validates its options', async () => {
    const { metrics } = make();
    await expect(metrics.serve({ port: 70_000 })).rejects.toThrow('serve.port: must be an integer in 0..65535, got 70000');
    await expect(metrics.serve({ path: 'metrics' })).rejects.toThrow('serve.path: must start with "/"');
  });
});
