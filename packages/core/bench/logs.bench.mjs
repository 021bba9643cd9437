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
  const options = () => ({ level: 'info', base: { service: 'bench' }, timestamp: pino.stdTimeFunctions.isoTime });

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
  const hitchRedactLog = hitch.logger.child({});

  // Sampled spans, kept open for the whole run: the Hitch cases run in a Hitch span, the others in an sdk-node span.
  const hitchSpan = hitch.tracer.startSpan('request');
  const hitchCtx = trace.setSpan(ROOT_CONTEXT, hitchSpan);
  const sdkSpan = trace.getTracer('b').startSpan('request');
  const sdkCtx = trace.setSpan(ROOT_CONTEXT, sdkSpan);

  const ops = new Map();
  const cases = [];
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

  // 1. `{ user, ride }` and a message, inside a sampled span
  define('hitch.span', hitchCtx, function hitchInSpan(n) {
    for (let i = 0; i < n; i++) hitchLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('pino.span', sdkCtx, function pinoInSpan(n) {
    for (let i = 0; i < n; i++) plainLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('otel.span', sdkCtx, function otelInSpan(n) {
    for (let i = 0; i < n; i++) otelLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('otel.send.span', sdkCtx, function otelSendInSpan(n) {
    for (let i = 0; i < n; i++) otelSendLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });

  // 2. the same line outside any span
  define('hitch.root', ROOT_CONTEXT, function hitchNoSpan(n) {
    for (let i = 0; i < n; i++) hitchLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });
  define('pino.root', ROOT_CONTEXT, function pinoNoSpan(n) {
    for (let i = 0; i < n; i++) plainLog.info({ user: USERS[i & MASK], ride: RIDES[i & MASK] }, 'matched');
  });

  // 3. a request with an Authorization header, outside any span
  define('hitch.redact', ROOT_CONTEXT, function hitchRedact(n) {
    for (let i = 0; i < n; i++) {
      hitchRedactLog.info(
        { req: { method: 'GET', url: PATHS[i & MASK], headers: { host: 'rides.internal', accept: 'application/json', authorization: TOKENS[i & MASK] } } },
        'request',
      );
    }
  });
  define('pino.redact', ROOT_CONTEXT, function pinoRedact(n) {
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
    { id: 'hitch.redact', name: 'Hitch, request with `authorization` (redacted)' },
    { id: 'pino.redact', name: "pino `redact: ['req.headers.authorization']`" },
  ].map((a) => ({ ...a, run: byId.get(a.id).run }));

  /** Every logger wrote one line per operation; its last line has trace fields exactly when it should, and no token. */
  async function verify() {
    const problems = [];
    const hitchIds = hitchSpan.spanContext();
    const sdkIds = sdkSpan.spanContext();
    const check = (id, streamId, expect) => {
      const s = streams[streamId];
      if (s.lines !== ops.get(id)) problems.push(`${id}: ${s.lines} lines written, expected ${ops.get(id)}`);
      let last;
      try {
        last = JSON.parse(s.last);
      } catch {
        problems.push(`${id}: last line is not JSON: ${s.last.slice(0, 120)}`);
        return;
      }
      const traceIdKeys = s.last.split('"trace_id"').length - 1;
      if (expect.trace === undefined) {
        if (traceIdKeys !== 0) problems.push(`${id}: has trace_id, expected none`);
      } else {
        if (traceIdKeys !== 1) problems.push(`${id}: ${traceIdKeys} trace_id keys, expected 1`);
        if (last.trace_id !== expect.trace.traceId || last.span_id !== expect.trace.spanId || !/^0[13]$/.test(last.trace_flags)) {
          problems.push(`${id}: trace fields ${last.trace_id}/${last.span_id}/${last.trace_flags} do not match the active span`);
        }
      }
      if (last.service !== 'bench' || typeof last.time !== 'string') problems.push(`${id}: service/time missing: ${s.last.slice(0, 120)}`);
      if (expect.redacted) {
        if (last.req?.headers?.authorization !== '[Redacted]') problems.push(`${id}: authorization is ${last.req?.headers?.authorization}`);
        if (s.last.includes('Bearer')) problems.push(`${id}: token written`);
      } else if (last.msg !== 'matched' || typeof last.user !== 'string' || typeof last.ride !== 'number') {
        problems.push(`${id}: unexpected line ${s.last.slice(0, 120)}`);
      }
    };
    // hitch.span and hitch.root share one stream; the root batch may have run last.
    const hitchLines = ops.get('hitch.span') + ops.get('hitch.root') + ops.get('hitch.redact');
    if (streams.hitch.lines !== hitchLines) problems.push(`hitch: ${streams.hitch.lines} lines written, expected ${hitchLines}`);
    const probe = (ctx, fn) => {
      const before = streams.hitch.lines;
      context.with(ctx, fn);
      streams.hitch.lines = before + 1 - 1; // the probe lines are not benchmark operations
    };
    // Probes, written after the run: the last line of the Hitch stream for each Hitch case.
    const probeHitch = (id, ctx, fn, expect) => {
      const saved = streams.hitch.lines;
      ops.set(`${id}.probe`, 1);
      streams.hitch.lines = 0;
      context.with(ctx, fn);
      check(`${id}.probe`, 'hitch', expect);
      streams.hitch.lines = saved;
    };
    void probe;
    probeHitch('hitch.span', hitchCtx, () => hitchLog.info({ user: USERS[0], ride: RIDES[0] }, 'matched'), { trace: hitchIds });
    probeHitch('hitch.root', ROOT_CONTEXT, () => hitchLog.info({ user: USERS[0], ride: RIDES[0] }, 'matched'), {});
    probeHitch(
      'hitch.redact',
      ROOT_CONTEXT,
      () => hitchRedactLog.info({ req: { method: 'GET', url: PATHS[0], headers: { host: 'rides.internal', authorization: TOKENS[0] } } }, 'request'),
      { redacted: true },
    );
    check('pino.span', 'pino', {});
    check('otel.span', 'otel', { trace: sdkIds });
    check('otel.send.span', 'otel.send', { trace: sdkIds });
    check('pino.redact', 'pino.redact', { redacted: true });
    if (logProcessor.emitted !== ops.get('otel.send.span')) {
      problems.push(`otel.send.span: ${logProcessor.emitted} log records reached the Logs SDK, expected ${ops.get('otel.send.span')}`);
    }
    return problems;
  }

  const info = () => {
    const avg = (id) => Math.round(streams[id].chars / Math.max(1, streams[id].lines));
    return {
      lineChars: { pino: avg('pino'), otel: avg('otel'), 'otel.send': avg('otel.send'), 'pino.redact': avg('pino.redact') },
      logSeed: LOG_SEED,
    };
  };

  async function shutdown() {
    hitchSpan.end();
    sdkSpan.end();
    await hitch.shutdown();
    await sdk.shutdown();
  }

  return { cases, comparisons, allocations, allocationBatch: 500, verify, info, shutdown };
}
