// `withSpan` around a no-op: Hitch against the same span started through @opentelemetry/sdk-node
// (global tracer) and through a raw BasicTracerProvider. One process per sampling decision
// (`--case=sampled` or `--case=unsampled`), so that each holds exactly one NodeSDK.
//
// Every side has the same sampler class (ParentBased with AlwaysOn or AlwaysOff as root) and one
// CountingSpanProcessor, and runs the same inline callback shape a user would write.

import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';
import { CountingSpanProcessor, DiscardStream, NODE_SDK_BASE } from './fixtures.mjs';

export const SPAN_CASES = ['sampled', 'unsampled'];

export function setupSpansBench({ createHitch }, { caseName }) {
  if (!SPAN_CASES.includes(caseName)) throw new Error(`--case must be one of ${SPAN_CASES.join(', ')}`);
  const sampled = caseName === 'sampled';
  const sampler = () => new ParentBasedSampler({ root: sampled ? new AlwaysOnSampler() : new AlwaysOffSampler() });

  // --- @opentelemetry/sdk-node: registers the global tracer provider and context manager -----
  const sdkProcessor = new CountingSpanProcessor();
  const sdk = new NodeSDK({ ...NODE_SDK_BASE, sampler: sampler(), spanProcessors: [sdkProcessor], instrumentations: [], metricReaders: [] });
  sdk.start();
  const sdkTracer = trace.getTracer('b');

  // --- Hitch: its own tracer, not the global one (sdk-node owns the globals here) -------------
  const hitchProcessor = new CountingSpanProcessor();
  const hitch = createHitch({
    service: { name: 'bench' },
    tracing: { exporter: 'none', sampleRatio: sampled ? 1 : 0, registerGlobal: false, spanProcessors: [hitchProcessor] },
    metrics: { runtimeMetrics: false },
    logging: { level: 'info', destination: new DiscardStream() },
  });

  // --- raw BasicTracerProvider ----------------------------------------------------------------
  const rawProcessor = new CountingSpanProcessor();
  const rawProvider = new BasicTracerProvider({ sampler: sampler(), spanProcessors: [rawProcessor] });
  const rawTracer = rawProvider.getTracer('b');

  const ops = new Map();
  const cases = [];
  const sink = new Float64Array(1);
  const define = (id, loop) => {
    ops.set(id, 0);
    cases.push({
      id,
      run(n) {
        ops.set(id, ops.get(id) + n);
        sink[0] += context.with(ROOT_CONTEXT, loop, undefined, n);
      },
    });
  };

  define('hitch.withSpan', function hitchWithSpan(n) {
    let s = 0;
    for (let i = 0; i < n; i++) s += hitch.withSpan('op', () => 1);
    return s;
  });
  define('hitch.tracer', function hitchTracer(n) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      s += hitch.tracer.startActiveSpan('op', (span) => {
        span.end();
        return 1;
      });
    }
    return s;
  });
  define('sdk.startActiveSpan', function sdkStartActiveSpan(n) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      s += sdkTracer.startActiveSpan('op', (span) => {
        span.end();
        return 1;
      });
    }
    return s;
  });
  define('raw.startActiveSpan', function rawStartActiveSpan(n) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      s += rawTracer.startActiveSpan('op', (span) => {
        span.end();
        return 1;
      });
    }
    return s;
  });

  const byId = new Map(cases.map((c) => [c.id, c]));
  const label = sampled ? 'sampled' : 'not sampled';
  const comparisons = [
    {
      name: `\`withSpan('op', () => 1)\`, ${label}`,
      hitch: 'hitch.withSpan',
      other: 'sdk.startActiveSpan',
      competitor: "sdk-node: `trace.getTracer('b').startActiveSpan('op', span => { span.end() })`",
      target: null,
    },
    {
      name: `\`withSpan('op', () => 1)\`, ${label}`,
      hitch: 'hitch.withSpan',
      other: 'raw.startActiveSpan',
      competitor: '`BasicTracerProvider` tracer `startActiveSpan` (no global proxy)',
      target: null,
    },
    {
      name: `\`withSpan('op', () => 1)\`, ${label}`,
      hitch: 'hitch.withSpan',
      other: 'hitch.tracer',
      competitor: "Hitch's own tracer `hitch.tracer.startActiveSpan` (the wrapper's cost)",
      target: null,
    },
  ];

  const allocations = [
    { id: 'hitch.withSpan', name: `Hitch \`withSpan\`, ${label}`, run: byId.get('hitch.withSpan').run },
    { id: 'hitch.tracer', name: `Hitch tracer \`startActiveSpan\`, ${label}`, run: byId.get('hitch.tracer').run },
    { id: 'sdk.startActiveSpan', name: `sdk-node \`startActiveSpan\`, ${label}`, run: byId.get('sdk.startActiveSpan').run },
    { id: 'raw.startActiveSpan', name: `BasicTracerProvider \`startActiveSpan\`, ${label}`, run: byId.get('raw.startActiveSpan').run },
  ];

  /** One span per side, outside the timing: it is active in its callback and has the expected sampling flag. */
  function probe() {
    const problems = [];
    const check = (id, startActive) => {
      let seen;
      startActive((span) => {
        seen = { span, active: trace.getActiveSpan(), recording: span.isRecording() };
      });
      const sc = seen.span.spanContext();
      if (seen.active !== seen.span) problems.push(`${id}: the span is not active inside its callback`);
      if (!/^[0-9a-f]{32}$/.test(sc.traceId) || /^0+$/.test(sc.traceId)) problems.push(`${id}: invalid trace id ${sc.traceId}`);
      if (((sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) !== sampled) problems.push(`${id}: sampled flag is ${sc.traceFlags}`);
      if (seen.recording !== sampled) problems.push(`${id}: isRecording() is ${seen.recording}`);
    };
    check('hitch.withSpan', (fn) => hitch.withSpan('probe', fn));
    for (const [id, tracer] of [['hitch.tracer', hitch.tracer], ['sdk.startActiveSpan', sdkTracer], ['raw.startActiveSpan', rawTracer]]) {
      check(id, (fn) =>
        tracer.startActiveSpan('probe', (span) => {
          fn(span);
          span.end();
        }),
      );
    }
    return problems;
  }
  const probeProblems = context.with(ROOT_CONTEXT, probe);
  // The probe spans are not benchmark operations.
  for (const p of [hitchProcessor, sdkProcessor, rawProcessor]) p.started = p.ended = 0;

  /** Every operation ran (the sink), and every sampled span reached its processor, started and ended. */
  async function verify() {
    const problems = [...probeProblems];
    const total = [...ops.values()].reduce((a, b) => a + b, 0);
    if (sink[0] !== total) problems.push(`callbacks: sum ${sink[0]}, expected ${total}`);
    const hitchOps = ops.get('hitch.withSpan') + ops.get('hitch.tracer');
    const expect = (id, processor, count) => {
      const wanted = sampled ? count : 0;
      if (processor.started !== wanted || processor.ended !== wanted) {
        problems.push(`${id}: processor saw ${processor.started} starts and ${processor.ended} ends, expected ${wanted}`);
      }
    };
    expect('hitch', hitchProcessor, hitchOps);
    expect('sdk-node', sdkProcessor, ops.get('sdk.startActiveSpan'));
    expect('BasicTracerProvider', rawProcessor, ops.get('raw.startActiveSpan'));
    return problems;
  }

  async function shutdown() {
    await hitch.shutdown();
    await rawProvider.shutdown();
    await sdk.shutdown();
  }

  // Allocation batches are ops too: verify() counts them. The harness calls allocation runs through `run`.
  return { cases, comparisons, allocations, allocationBatch: 200, verify, shutdown };
}
