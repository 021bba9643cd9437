// The metrics benchmark cases: Hitch (both backends) against prom-client and the raw
// OpenTelemetry metrics SDK, recording the same label objects and the same values.
//
// Every case is a function of its own (distinct function literal, so V8 keeps separate type
// feedback per case) that performs n operations. Each case counts the operations it ran, and
// verify() reads every metric back and checks that it holds exactly that many: an operation
// that was dropped (invalid labels, overflow) or optimised away would show up there.

import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import promClient from 'prom-client';
import { mulberry32 } from './harness.mjs';

const { Counter: PromCounter, Histogram: PromHistogram, Registry: PromRegistry } = promClient;

/** Label values used by every library: allocated once, shared. */
const LABELS = { method: 'GET', route: '/rides/:id' };
const LABEL_DECLARATIONS = { method: { values: ['GET', 'POST'] }, route: { maxValues: 100 } };
const LABEL_NAMES = ['method', 'route'];

/** Observed values: log-uniform over 1 ms .. 20 s (every bucket, +Inf included), seeded, precomputed. */
const VALUE_COUNT = 4096;
const MASK = VALUE_COUNT - 1;
export const VALUE_SEED = 0x5eed;
const VALUES = (() => {
  const random = mulberry32(VALUE_SEED);
  const values = new Float64Array(VALUE_COUNT);
  const lo = Math.log(0.001);
  const hi = Math.log(20);
  for (let i = 0; i < VALUE_COUNT; i++) values[i] = Math.exp(lo + (hi - lo) * random());
  return values;
})();

/** A metric reader that never exports: the SDK aggregates, nobody collects during the bench. */
class NoopReader extends MetricReader {
  onForceFlush() {
    return Promise.resolve();
  }
  onShutdown() {
    return Promise.resolve();
  }
}

/**
 * Sets everything up. Returns the cases, the comparisons to report, the cases whose heap
 * allocation is measured, verify() and shutdown().
 */
export function setupMetricsBench({ createHitch, buckets }) {
  // An active, sampled span for the exemplar cases.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new BasicTracerProvider({ sampler: new AlwaysOnSampler() });
  const span = tracerProvider.getTracer('bench').startSpan('bench');
  const spanContext = trace.setSpan(ROOT_CONTEXT, span);

  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  const bounds = [...buckets.httpLatencySeconds];

  // --- Hitch, prom-client backend ---------------------------------------------------------
  const hitch = createHitch({ service: { name: 'bench' }, metrics: { backend: 'prom-client', runtimeMetrics: false, onWarning } });
  const hCounterInc = hitch.metrics.counter({ name: 'bench_inc_requests_total', help: 'x', labels: LABEL_DECLARATIONS });
  const hCounterBind = hitch.metrics.counter({ name: 'bench_bind_requests_total', help: 'x', labels: LABEL_DECLARATIONS });
  const hBound = hCounterBind.bind(LABELS);
  const hHist = hitch.metrics.histogram({ name: 'bench_observe_duration_seconds', help: 'x', labels: LABEL_DECLARATIONS, buckets: bounds });
  const hHistSpan = hitch.metrics.histogram({ name: 'bench_exemplar_duration_seconds', help: 'x', labels: LABEL_DECLARATIONS, buckets: bounds });

  // --- prom-client, raw --------------------------------------------------------------------
  const promRegistry = new PromRegistry();
  const pCounterInc = new PromCounter({ name: 'bench_inc_requests_total', help: 'x', labelNames: LABEL_NAMES, registers: [promRegistry] });
  const pCounterChild = new PromCounter({ name: 'bench_child_requests_total', help: 'x', labelNames: LABEL_NAMES, registers: [promRegistry] });
  const pChild = pCounterChild.labels('GET', '/rides/:id');
  const pCounterLabels = new PromCounter({ name: 'bench_labels_requests_total', help: 'x', labelNames: LABEL_NAMES, registers: [promRegistry] });
  const pHist = new PromHistogram({ name: 'bench_observe_duration_seconds', help: 'x', labelNames: LABEL_NAMES, buckets: bounds, registers: [promRegistry] });
  const promOmRegistry = new PromRegistry(PromRegistry.OPENMETRICS_CONTENT_TYPE);
  const pHistExemplar = new PromHistogram({
    name: 'bench_exemplar_duration_seconds',
    help: 'x',
    labelNames: LABEL_NAMES,
    buckets: bounds,
    enableExemplars: true,
    registers: [promOmRegistry],
  });

  // --- Hitch, otel backend -----------------------------------------------------------------
  const hitchOtel = createHitch({ service: { name: 'bench' }, metrics: { backend: 'otel', runtimeMetrics: false, onWarning } });
  const oCounter = hitchOtel.metrics.counter({ name: 'bench_otel_requests_total', help: 'x', labels: LABEL_DECLARATIONS });
  const oHist = hitchOtel.metrics.histogram({ name: 'bench_otel_duration_seconds', help: 'x', labels: LABEL_DECLARATIONS, buckets: bounds });
  const oHistSpan = hitchOtel.metrics.histogram({ name: 'bench_otel_span_duration_seconds', help: 'x', labels: LABEL_DECLARATIONS, buckets: bounds });

  // --- OpenTelemetry metrics SDK, raw ------------------------------------------------------
  const rawReader = new NoopReader();
  const meterProvider = new MeterProvider({ readers: [rawReader] });
  const meter = meterProvider.getMeter('bench');
  const rCounter = meter.createCounter('bench_raw_requests_total', { description: 'x' });
  const rHist = meter.createHistogram('bench_raw_duration_seconds', { description: 'x', advice: { explicitBucketBoundaries: bounds } });

  // --- Cases -------------------------------------------------------------------------------
  const ops = new Map();
  const cases = [];
  /** `loop(n)` runs n ops; `ctx` is the OpenTelemetry context the batch runs in. */
  const define = (id, ctx, loop) => {
    ops.set(id, 0);
    cases.push({
      id,
      run(n) {
        ops.set(id, ops.get(id) + n);
        context.with(ctx, loop, undefined, n);
      },
    });
  };

  // 1. counter inc(labels)
  define('hitch.inc', ROOT_CONTEXT, function hitchInc(n) {
    for (let i = 0; i < n; i++) hCounterInc.inc(LABELS);
  });
  define('prom.inc', ROOT_CONTEXT, function promInc(n) {
    for (let i = 0; i < n; i++) pCounterInc.inc(LABELS);
  });

  // 2. bound counter
  define('hitch.bind', ROOT_CONTEXT, function hitchBind(n) {
    for (let i = 0; i < n; i++) hBound.inc();
  });
  define('prom.child', ROOT_CONTEXT, function promChild(n) {
    for (let i = 0; i < n; i++) pChild.inc();
  });
  define('prom.labels', ROOT_CONTEXT, function promLabels(n) {
    for (let i = 0; i < n; i++) pCounterLabels.labels('GET', '/rides/:id').inc();
  });

  // 3. histogram observe, without and with an active sampled span
  define('hitch.observe', ROOT_CONTEXT, function hitchObserve(n) {
    for (let i = 0; i < n; i++) hHist.observe(LABELS, VALUES[i & MASK]);
  });
  define('prom.observe', ROOT_CONTEXT, function promObserve(n) {
    for (let i = 0; i < n; i++) pHist.observe(LABELS, VALUES[i & MASK]);
  });
  define('hitch.observe.span', spanContext, function hitchObserveSpan(n) {
    for (let i = 0; i < n; i++) hHistSpan.observe(LABELS, VALUES[i & MASK]);
  });
  // What a prom-client user writes by hand to get the same exemplars Hitch records:
  // read the active span, and attach its ids when it is sampled.
  define('prom.observe.exemplar', spanContext, function promObserveExemplar(n) {
    for (let i = 0; i < n; i++) {
      const value = VALUES[i & MASK];
      const active = trace.getActiveSpan();
      const sc = active === undefined ? undefined : active.spanContext();
      if (sc !== undefined && (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) {
        pHistExemplar.observe({ labels: LABELS, value, exemplarLabels: { trace_id: sc.traceId, span_id: sc.spanId } });
      } else {
        pHistExemplar.observe({ labels: LABELS, value });
      }
    }
  });

  // 4. otel backend against the raw SDK
  define('hitch.otel.inc', ROOT_CONTEXT, function hitchOtelInc(n) {
    for (let i = 0; i < n; i++) oCounter.inc(LABELS);
  });
  define('otel.add', ROOT_CONTEXT, function otelAdd(n) {
    for (let i = 0; i < n; i++) rCounter.add(1, LABELS);
  });
  define('hitch.otel.observe', ROOT_CONTEXT, function hitchOtelObserve(n) {
    for (let i = 0; i < n; i++) oHist.observe(LABELS, VALUES[i & MASK]);
  });
  define('hitch.otel.observe.span', spanContext, function hitchOtelObserveSpan(n) {
    for (let i = 0; i < n; i++) oHistSpan.observe(LABELS, VALUES[i & MASK]);
  });
  define('otel.record', ROOT_CONTEXT, function otelRecord(n) {
    for (let i = 0; i < n; i++) rHist.record(VALUES[i & MASK], LABELS);
  });

  // Allocation baseline: the harness loop alone (reads the values, writes a typed array: no boxing).
  const sink = new Float64Array(1);
  function emptyLoop(n) {
    for (let i = 0; i < n; i++) sink[0] += VALUES[i & MASK];
  }
  const empty = { id: 'empty', run: (n) => context.with(ROOT_CONTEXT, emptyLoop, undefined, n) };

  const byId = new Map(cases.map((c) => [c.id, c]));

  /** Each comparison is Hitch ÷ competitor; `target.max` is the highest ratio that meets it. */
  const comparisons = [
    {
      name: 'counter `inc(labels)`, 2 labels',
      hitch: 'hitch.inc',
      other: 'prom.inc',
      competitor: 'prom-client `inc(labels)`',
      target: { max: 1.0, text: '≤ 1.00 (no slower)' },
    },
    {
      name: 'counter `bind(labels).inc()`',
      hitch: 'hitch.bind',
      other: 'prom.child',
      competitor: 'prom-client child reused: `child.inc()`',
      target: { max: 0.25, text: '≤ 0.25 (≥ 4x faster)' },
    },
    {
      name: 'counter `bind(labels).inc()`',
      hitch: 'hitch.bind',
      other: 'prom.labels',
      competitor: 'prom-client `labels(...).inc()` per call',
      target: null,
    },
    {
      name: 'histogram `observe(labels, v)`, no span',
      hitch: 'hitch.observe',
      other: 'prom.observe',
      competitor: 'prom-client `observe(labels, v)`',
      target: null,
    },
    {
      name: 'histogram `observe(labels, v)` in sampled span (automatic exemplar)',
      hitch: 'hitch.observe.span',
      other: 'prom.observe.exemplar',
      competitor: 'prom-client `observe` + manual exemplar from active span',
      target: { max: 1.0, text: '≤ 1.00 (no slower)' },
    },
    {
      name: 'otel backend counter `inc(labels)`',
      hitch: 'hitch.otel.inc',
      other: 'otel.add',
      competitor: 'sdk-metrics `Counter.add(1, attrs)`',
      target: { max: 1.1, text: '≤ 1.10' },
    },
    {
      name: 'otel backend histogram `observe(labels, v)`, no span',
      hitch: 'hitch.otel.observe',
      other: 'otel.record',
      competitor: 'sdk-metrics `Histogram.record(v, attrs)`',
      target: { max: 1.1, text: '≤ 1.10' },
    },
    {
      name: 'otel backend histogram `observe(labels, v)` in sampled span',
      hitch: 'hitch.otel.observe.span',
      other: 'otel.record',
      competitor: 'sdk-metrics `Histogram.record(v, attrs)`',
      target: null,
    },
  ];

  /** Heap allocation per op is measured for these (Hitch first, then references). */
  const allocations = [
    { id: 'hitch.bind', name: 'Hitch `bind(labels).inc()`', run: byId.get('hitch.bind').run },
    { id: 'hitch.inc', name: 'Hitch `inc(labels)`', run: byId.get('hitch.inc').run },
    { id: 'hitch.observe', name: 'Hitch `observe(labels, v)`, no span', run: byId.get('hitch.observe').run },
    { id: 'hitch.observe.span', name: 'Hitch `observe(labels, v)` in sampled span', run: byId.get('hitch.observe.span').run },
    { id: 'prom.inc', name: 'prom-client `inc(labels)` (reference)', run: byId.get('prom.inc').run },
    { id: 'prom.child', name: 'prom-client `child.inc()` (reference)', run: byId.get('prom.child').run },
    { id: 'prom.observe', name: 'prom-client `observe(labels, v)` (reference)', run: byId.get('prom.observe').run },
    { id: 'empty', name: 'empty loop (measurement floor)', run: empty.run },
  ];

  /** Reads every metric back; returns a list of problems (empty when all counts match). */
  async function verify() {
    const problems = [];
    const check = (id, actual) => {
      const expected = ops.get(id);
      if (actual !== expected) problems.push(`${id}: recorded ${actual}, expected ${expected}`);
    };
    const hitchText = parseExposition((await hitch.metrics.render()).body);
    check('hitch.inc', hitchText.get('bench_inc_requests_total'));
    check('hitch.bind', hitchText.get('bench_bind_requests_total'));
    check('hitch.observe', hitchText.get('bench_observe_duration_seconds_count'));
    check('hitch.observe.span', hitchText.get('bench_exemplar_duration_seconds_count'));
    const openMetrics = (await hitch.metrics.render('application/openmetrics-text; version=1.0.0')).body;
    if (!/bench_exemplar_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\}/.test(openMetrics)) {
      problems.push('hitch.observe.span: no trace_id/span_id exemplar in the OpenMetrics output');
    }

    const promText = parseExposition(await promRegistry.metrics());
    check('prom.inc', promText.get('bench_inc_requests_total'));
    check('prom.child', promText.get('bench_child_requests_total'));
    check('prom.labels', promText.get('bench_labels_requests_total'));
    check('prom.observe', promText.get('bench_observe_duration_seconds_count'));
    const promOm = await promOmRegistry.metrics();
    check('prom.observe.exemplar', parseExposition(promOm).get('bench_exemplar_duration_seconds_count'));
    if (!/trace_id="[0-9a-f]{32}"/.test(promOm)) problems.push('prom.observe.exemplar: no exemplar in the OpenMetrics output');

    const otelText = parseExposition((await hitchOtel.metrics.render()).body);
    check('hitch.otel.inc', otelText.get('bench_otel_requests_total'));
    check('hitch.otel.observe', otelText.get('bench_otel_duration_seconds_count'));
    check('hitch.otel.observe.span', otelText.get('bench_otel_span_duration_seconds_count'));

    const { resourceMetrics } = await rawReader.collect();
    const raw = new Map();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        let total = 0;
        for (const point of metric.dataPoints) total += typeof point.value === 'number' ? point.value : point.value.count;
        raw.set(metric.descriptor.name, total);
      }
    }
    check('otel.add', raw.get('bench_raw_requests_total'));
    check('otel.record', raw.get('bench_raw_duration_seconds'));

    for (const w of warnings) problems.push(`Hitch warning ${w.code}: ${w.message}`);
    if (!(sink[0] > 0)) problems.push('empty loop: sink not written');
    return problems;
  }

  async function shutdown() {
    span.end();
    await hitch.shutdown();
    await hitchOtel.shutdown();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
    context.disable();
  }

  return { cases, comparisons, allocations, verify, shutdown };
}

/** Sums sample values per metric name (labels ignored) of a Prometheus/OpenMetrics text body. */
function parseExposition(text) {
  const totals = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    totals.set(match[1], (totals.get(match[1]) ?? 0) + Number(match[3]));
  }
  return totals;
}
