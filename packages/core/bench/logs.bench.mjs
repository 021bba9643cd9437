// A log line: `hitch.logger` against plain pino and against pino instrumented by
// @opentelemetry/instrumentation-pino under @opentelemetry/sdk-node, plus the cost of redaction.
//
// One process. The instrumentation patches the `pino` module when it is `require`d after
// sdk.start(); the plain pino (and the one Hitch uses) were imported as ES modules before, so they
// are the unpatched function: after the run, the last line of every logger is checked to carry
// trace fields exactly when it should. Every logger writes to its own DiscardStream, has the same
// level, `base` and timestamp function as Hitch's, and differs only in what is compared.

import { createRequire } from 'node:module';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOnSampler, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { mulberry32 } from './harness.mjs';
import { CountingLogRecordProcessor, CountingSpanProcessor, DiscardStream, NODE_SDK_BASE } from './fixtures.mjs';

export const LOG_SEED = 0x109;
const COUNT = 256;
const MASK = COUNT - 1;

/** Seeded inputs: user ids, ride numbers, request paths and bearer tokens, precomputed. */
function inputs() {
  const random = mulberry32(LOG_SEED);
  const hex = (length) => Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('');
  const USERS = Array.from({ length: COUNT }, () => `u${Math.floor(random() * 100_000)}`);
  const RIDES = Array.from({ length: COUNT }, () => Math.floor(random() * 1_000_000));
  const PATHS = RIDES.map((ride) => `/rides/${ride}`);
  const TOKENS = Array.from({ length: COUNT }, () => `Bearer ${hex(40)}`);
  return { USERS, RIDES, PATHS, TOKENS };
}

export function setupLogsBench({ createHitch }) {
  const { USERS, RIDES, PATHS, TOKENS } = inputs();
  const options = () => ({ level: 'info', base: { service: 'bench' }, timestamp: pino.stdTimeFunctions.epochTime });

  // --- sdk-node with the pino instrumentation: correlation only by default here -----------------
  const sdkProcessor = new CountingSpanProcessor();
  const logProcessor = new CountingLogRecordProcessor();
  const pinoInstrumentation = new PinoInstrumentation({ disableLogSending: true });
  const sdk = new NodeSDK({
    ...NODE_SDK_BASE,
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [sdkProcessor],
    instrumentations: [pinoInstrumentation],
    metricReaders: [],
    logRecordProcessors: [logProcessor],
  });
  sdk.start();
  const patchedPino = createRequire(import.meta.url)('pino');

  const streams = {};
  const stream = (id) => (streams[id] = new DiscardStream());

  const hitchProcessor = new CountingSpanProcessor();
  const hitch = createHitch({
    service: { name: 'bench' },
    tracing: { exporter: 'none', sampleRatio: 1, registerGlobal: false, spanProcessors: [hitchProcessor] },
    metrics: { runtimeMetrics: false },
    logging: { level: 'info', destination: stream('hitch') },
  });
  const hitchLog = hitch.logger;
  const plainLog = pino(options(), stream('pino'));
  const otelLog = patchedPino(options(), stream('otel'));
  // Log sending is decided when the logger is created: a second logger with the instrumentation's defaults.
  pinoInstrumentation.setConfig({});
  const otelSendLog = patchedPino(options(), stream('otel.send'));
  pinoInstrumentation.setConfig({ disableLogSending: true });
  const redactLog = pino({ ...options(), redact: ['req.headers.authorization'] }, stream('pino.redact'));
  // For reference only: pino with its own defaults (`pid`, `hostname`), what a pino user gets without options.
  const defaultsLog = pino({ level: 'info' }, stream('pino.defaults'));

  // Sampled spans, kept open for the whole run: the Hitch cases run in a Hitch span, the others in an sdk-node span.
  const hitchSpan = hitch.tracer.startSpan('request');
  const hitchCtx = trace.setSpan(ROOT_CONTEXT, hitchSpan);
  const sdkSpan = trace.getTracer('b').startSpan('request');
  const sdkCtx = trace.setSpan(ROOT_CONTEXT, sdkSpan);

  const ops = new Map();
  const cases = [];
  /** `stream` names the DiscardStream the case's logger writes to; `expect` is what its lines must show. */
  const define = (id, ctx, stream, expect, loop) => {
    ops.set(id, 0);
    cases.push({
      id,
      stream,
      expect,
      run(n) {
        ops.set(id, ops.get(id) + n);
        context.with(ctx, loop, undefined, n);
      },
    });
  };
  const hitchTrace = { trace: () => hitchSpan.spanContext() };
  const sdkTrace = { trace: () => sdkSpan.spanContext() };

  // 1. `{ user, ride }` and a message, inside a sampled span
  define('hitch.span', hitchCtx, 'hitch', hitchTrace, function hitchInSpan(n) {
    for (let i = 0; i < n; i++) hitchLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('pino.span', sdkCtx, 'pino', {}, function pinoInSpan(n) {
    for (let i = 0; i < n; i++) plainLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('otel.span', sdkCtx, 'otel', sdkTrace, function otelInSpan(n) {
    for (let i = 0; i < n; i++) otelLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('otel.send.span', sdkCtx, 'otel.send', sdkTrace, function otelSendInSpan(n) {
    for (let i = 0; i < n; i++) otelSendLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });

  // 2. the same line outside any span
  define('hitch.root', ROOT_CONTEXT, 'hitch', {}, function hitchNoSpan(n) {
    for (let i = 0; i < n; i++) hitchLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('pino.root', ROOT_CONTEXT, 'pino', {}, function pinoNoSpan(n) {
    for (let i = 0; i < n; i++) plainLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('pino.defaults.root', ROOT_CONTEXT, 'pino.defaults', { epochTime: true }, function pinoDefaultsNoSpan(n) {
    for (let i = 0; i < n; i++) defaultsLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });

  // 3. a request with an Authorization header, outside any span
  define('hitch.redact', ROOT_CONTEXT, 'hitch', { redacted: true }, function hitchRedact(n) {
    for (let i = 0; i < n; i++) {
      hitchLog.info(
        { req: { method: 'GET', url: PATHS[i & MASK], headers: { host: 'rides.internal', accept: 'application/json', authorization: TOKENS[i & MASK] } } },
        'request',
      );
    }
  });
  define('pino.redact', ROOT_CONTEXT, 'pino.redact', { redacted: true }, function pinoRedact(n) {
    for (let i = 0; i < n; i++) {
      redactLog.info(
        { req: { method: 'GET', url: PATHS[i & MASK], headers: { host: 'rides.internal', accept: 'application/json', authorization: TOKENS[i & MASK] } } },
        'request',
      );
    }
  });

  const byId = new Map(cases.map((c) => [c.id, c]));
  const line = "`info({ user, ride }, 'matched')`";
  const comparisons = [
    { name: `${line} in a sampled span`, hitch: 'hitch.span', other: 'pino.span', competitor: 'plain pino, no trace fields', target: null },
    {
      name: `${line} in a sampled span`,
      hitch: 'hitch.span',
      other: 'otel.span',
      competitor: 'pino + instrumentation-pino (sdk-node), correlation only',
      target: null,
    },
    {
      name: `${line} in a sampled span`,
      hitch: 'hitch.span',
      other: 'otel.send.span',
      competitor: 'pino + instrumentation-pino defaults: correlation + log sending to the OTel Logs SDK (not like for like)',
      target: null,
    },
    { name: `${line}, no span`, hitch: 'hitch.root', other: 'pino.root', competitor: 'plain pino', target: null },
    {
      name: `${line}, no span`,
      hitch: 'hitch.root',
      other: 'pino.defaults.root',
      competitor: 'pino with its default options: adds `pid`, `hostname`; no `service` (not like for like)',
      target: null,
    },
    {
      name: "`info({ req: { …, headers: { authorization } } }, 'request')`, no span",
      hitch: 'hitch.redact',
      other: 'pino.redact',
      competitor: "pino `redact: ['req.headers.authorization']`",
      target: null,
    },
  ];

  const allocations = [
    { id: 'hitch.span', name: 'Hitch, in a sampled span' },
    { id: 'pino.span', name: 'plain pino, in a sampled span' },
    { id: 'otel.span', name: 'pino + instrumentation-pino (correlation only), in a sampled span' },
    { id: 'otel.send.span', name: 'pino + instrumentation-pino (defaults, log sending), in a sampled span' },
    { id: 'hitch.root', name: 'Hitch, no span' },
    { id: 'pino.root', name: 'plain pino, no span' },
    { id: 'pino.defaults.root', name: 'pino with default options, no span' },
    { id: 'hitch.redact', name: 'Hitch, request with `authorization` (redacted)' },
    { id: 'pino.redact', name: "pino `redact: ['req.headers.authorization']`" },
  ].map((a) => ({ ...a, run: byId.get(a.id).run }));

  /** The line each case writes, captured by a probe after the run (one more op of the case). */
  const lines = {};

  /**
   * Every logger wrote one line per operation. Then one probe op per case: its line has the trace
   * fields of the active span exactly when it should (once: no double injection), and no token.
   */
  async function verify() {
    const problems = [];
    for (const [streamId, s] of Object.entries(streams)) {
      const expected = cases.filter((c) => c.stream === streamId).reduce((sum, c) => sum + ops.get(c.id), 0);
      if (s.lines !== expected) problems.push(`${streamId}: ${s.lines} lines written, expected ${expected}`);
    }
    for (const c of cases) {
      const s = streams[c.stream];
      c.run(1);
      const text = s.last;
      lines[c.id] = text;
      let last;
      try {
        last = JSON.parse(text);
      } catch {
        problems.push(`${c.id}: line is not JSON: ${text.slice(0, 120)}`);
        continue;
      }
      const traceIdKeys = text.split('"trace_id"').length - 1;
      if (c.expect.trace === undefined) {
        if (traceIdKeys !== 0) problems.push(`${c.id}: has trace_id, expected none`);
      } else {
        const ids = c.expect.trace();
        if (traceIdKeys !== 1) problems.push(`${c.id}: ${traceIdKeys} trace_id keys, expected 1`);
        if (last.trace_id !== ids.traceId || last.span_id !== ids.spanId || !/^0[13]$/.test(last.trace_flags)) {
          problems.push(`${c.id}: trace fields ${last.trace_id}/${last.span_id}/${last.trace_flags} are not the active span's`);
        }
      }
      if (c.expect.epochTime) {
        if (typeof last.time !== 'number' || typeof last.pid !== 'number') problems.push(`${c.id}: not pino's default line: ${text.slice(0, 120)}`);
      } else if (last.service !== 'bench' || typeof last.time !== 'number' || 'pid' in last) problems.push(`${c.id}: service/time missing: ${text.slice(0, 120)}`);
      if (c.expect.redacted) {
        if (last.req?.headers?.authorization !== '[Redacted]') problems.push(`${c.id}: authorization is ${last.req?.headers?.authorization}`);
        if (text.includes('Bearer')) problems.push(`${c.id}: token written`);
      } else if (last.msg !== 'matched' || typeof last.user !== 'string' || typeof last.ride !== 'number') {
        problems.push(`${c.id}: unexpected line ${text.slice(0, 120)}`);
      }
    }
    if (logProcessor.emitted !== ops.get('otel.send.span')) {
      problems.push(`otel.send.span: ${logProcessor.emitted} log records reached the Logs SDK, expected ${ops.get('otel.send.span')}`);
    }
    return problems;
  }

  const info = () => ({ lines, logSeed: LOG_SEED });

  async function shutdown() {
    hitchSpan.end();
    sdkSpan.end();
    await hitch.shutdown();
    await sdk.shutdown();
  }

  return { cases, comparisons, allocations, allocationBatch: 500, verify, info, shutdown };
}
