// `hitch.fetch` against the global `fetch`, plain and instrumented by
// @opentelemetry/instrumentation-undici under @opentelemetry/sdk-node, all against one local
// node:http server (127.0.0.1, free port, in this process) answering 200 with a small body.
//
// All three run in one process, interleaved. The undici instrumentation works through undici's
// diagnostics channels (it patches nothing): it is enabled just before each batch of its own case
// and disabled right after, outside the timed region. Before every other batch the harness checks
// that no undici diagnostics channel has a subscriber, and after the run the server's view of the
// requests (traceparent present or not, per case) and the span counts prove it was off.

import { createServer } from 'node:http';
import dc from 'node:diagnostics_channel';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { AlwaysOnSampler, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';
import { mulberry32 } from './harness.mjs';
import { CountingSpanProcessor, DiscardStream, NODE_SDK_BASE, NoopMetricReader } from './fixtures.mjs';

const UNDICI_CHANNELS = ['undici:request:create', 'undici:client:sendHeaders', 'undici:request:headers', 'undici:request:trailers', 'undici:request:error'];
const BODY = Buffer.from(JSON.stringify({ ride: 42, status: 'matched', driver: 'd-7' }));
export const PATH_SEED = 0xfe7c;

export async function setupFetchBench({ createHitch }) {
  // --- the server -------------------------------------------------------------------------------
  const seen = new Map(); // x-bench-case -> { requests, traceparent, malformed }
  let connections = 0;
  const server = createServer((req, res) => {
    const id = req.headers['x-bench-case'] ?? '(none)';
    let entry = seen.get(id);
    if (entry === undefined) seen.set(id, (entry = { requests: 0, traceparent: 0, malformed: 0 }));
    entry.requests++;
    const traceparent = req.headers.traceparent;
    if (traceparent !== undefined) {
      entry.traceparent++;
      // Sampled flag set (Hitch also sets the W3C level-2 random-trace-id flag: `-03`).
      const match = /^00-[0-9a-f]{32}-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(traceparent);
      if (match === null || (parseInt(match[1], 16) & 1) !== 1) entry.malformed++;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
      res.end(BODY);
    });
  });
  server.on('connection', () => connections++);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;

  // Seeded request paths (`/rides/<id>`), precomputed: the URL differs per request, as in real use.
  const URL_COUNT = 256;
  const MASK = URL_COUNT - 1;
  const random = mulberry32(PATH_SEED);
  const URLS = Array.from({ length: URL_COUNT }, () => `${base}/rides/${Math.floor(random() * 1e6)}`);

  // --- sdk-node with the undici instrumentation, and a metric reader so it records its histogram --
  const sdkProcessor = new CountingSpanProcessor();
  const reader = new NoopMetricReader();
  const undici = new UndiciInstrumentation();
  const sdk = new NodeSDK({
    ...NODE_SDK_BASE,
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [sdkProcessor],
    instrumentations: [undici],
    metricReaders: [reader],
  });
  sdk.start();
  undici.disable();
  // Node 20's AsyncLocalStorage turns its promise hooks on at its first run() and never off; Hitch and
  // the harness would do it at their first context.with() anyway. Done here, before any batch, so
  // that every case (plain fetch included) pays for it from the first round on, as in any traced service.
  context.with(ROOT_CONTEXT, () => undefined);

  // --- Hitch -------------------------------------------------------------------------------------
  const hitchProcessor = new CountingSpanProcessor();
  const warnings = [];
  const hitch = createHitch({
    service: { name: 'bench' },
    tracing: { exporter: 'none', sampleRatio: 1, registerGlobal: false, spanProcessors: [hitchProcessor] },
    metrics: { runtimeMetrics: false, onWarning: (w) => warnings.push(w) },
    logging: { level: 'info', destination: new DiscardStream() },
  });

  const problems = [];
  const subscribed = () => UNDICI_CHANNELS.filter((name) => dc.hasSubscribers(name));
  const assertOff = (id) => () => {
    const on = subscribed();
    if (on.length > 0) problems.push(`${id}: undici channels had subscribers: ${on.join(', ')}`);
  };

  const ops = new Map();
  const received = { bytes: 0 };
  const cases = [];
  const define = (id, hooks, loop) => {
    ops.set(id, 0);
    cases.push({
      id,
      ...hooks,
      async run(n) {
        ops.set(id, ops.get(id) + n);
        received.bytes += await loop(n);
      },
    });
  };

  // Every variant sends the same extra header (so the server can tell them apart) and reads the whole body.
  const PLAIN_INIT = { headers: { 'x-bench-case': 'plain' } };
  const HITCH_INIT = { headers: { 'x-bench-case': 'hitch' } };
  const OTEL_INIT = { headers: { 'x-bench-case': 'otel' } };

  define('plain.fetch', { before: assertOff('plain.fetch') }, async function plainFetch(n) {
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const res = await fetch(URLS[i & MASK], PLAIN_INIT);
      bytes += (await res.arrayBuffer()).byteLength;
    }
    return bytes;
  });
  define('hitch.fetch', { before: assertOff('hitch.fetch') }, async function hitchFetch(n) {
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const res = await hitch.fetch(URLS[i & MASK], HITCH_INIT);
      bytes += (await res.arrayBuffer()).byteLength;
    }
    return bytes;
  });
  define(
    'otel.fetch',
    {
      before() {
        undici.enable();
        if (subscribed().length !== UNDICI_CHANNELS.length) problems.push(`otel.fetch: only ${subscribed().join(', ')} subscribed`);
      },
      after() {
        undici.disable();
      },
    },
    async function otelFetch(n) {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const res = await fetch(URLS[i & MASK], OTEL_INIT);
        bytes += (await res.arrayBuffer()).byteLength;
      }
      return bytes;
    },
  );

  const comparisons = [
    {
      name: '`hitch.fetch(url)` + read body',
      hitch: 'hitch.fetch',
      other: 'plain.fetch',
      competitor: 'global `fetch(url)` + read body, no instrumentation',
      target: null,
    },
    {
      name: '`hitch.fetch(url)` + read body',
      hitch: 'hitch.fetch',
      other: 'otel.fetch',
      competitor: 'global `fetch` + instrumentation-undici under sdk-node',
      target: null,
    },
  ];

  async function verify() {
    const out = [...problems];
    const total = [...ops.values()].reduce((a, b) => a + b, 0);
    if (received.bytes !== total * BODY.length) out.push(`bodies: read ${received.bytes} bytes, expected ${total * BODY.length}`);
    const expectServer = (key, id, withTraceparent) => {
      const entry = seen.get(key) ?? { requests: 0, traceparent: 0, malformed: 0 };
      const n = ops.get(id);
      if (entry.requests !== n) out.push(`${id}: server saw ${entry.requests} requests, expected ${n}`);
      const wanted = withTraceparent ? n : 0;
      if (entry.traceparent !== wanted) out.push(`${id}: ${entry.traceparent} requests carried traceparent, expected ${wanted}`);
      if (entry.malformed > 0) out.push(`${id}: ${entry.malformed} malformed or unsampled traceparent headers`);
    };
    expectServer('plain', 'plain.fetch', false);
    expectServer('hitch', 'hitch.fetch', true);
    expectServer('otel', 'otel.fetch', true);
    if (seen.has('(none)')) out.push(`${seen.get('(none)').requests} requests without x-bench-case`);
    // One CLIENT span per request on each traced side, and none from undici outside its own batches.
    if (hitchProcessor.ended !== ops.get('hitch.fetch')) out.push(`hitch.fetch: ${hitchProcessor.ended} spans ended, expected ${ops.get('hitch.fetch')}`);
    if (sdkProcessor.ended !== ops.get('otel.fetch')) out.push(`otel.fetch: ${sdkProcessor.ended} spans ended, expected ${ops.get('otel.fetch')}`);
    // Both record a request-duration histogram once per request.
    const hitchCount = sumSamples((await hitch.metrics.render()).body, 'http_client_request_duration_seconds_count');
    if (hitchCount !== ops.get('hitch.fetch')) out.push(`hitch.fetch: histogram count ${hitchCount}, expected ${ops.get('hitch.fetch')}`);
    const { resourceMetrics } = await reader.collect();
    let otelCount = 0;
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== 'http.client.request.duration') continue;
        for (const point of metric.dataPoints) otelCount += point.value.count;
      }
    }
    if (otelCount !== ops.get('otel.fetch')) out.push(`otel.fetch: http.client.request.duration count ${otelCount}, expected ${ops.get('otel.fetch')}`);
    for (const w of warnings) out.push(`Hitch warning ${w.code}: ${w.message}`);
    return out;
  }

  const info = () => ({ connections, requests: [...seen.values()].reduce((a, e) => a + e.requests, 0), bodyBytes: BODY.length, pathSeed: PATH_SEED });

  async function shutdown() {
    await hitch.shutdown();
    await sdk.shutdown();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  return { async: true, cases, comparisons, allocations: [], verify, info, shutdown };
}

/** Sums the samples of one metric name in a Prometheus text body. */
function sumSamples(text, name) {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match !== null && match[1] === name) total += Number(match[3]);
  }
  return total;
}
