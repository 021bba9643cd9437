// What every process of the gRPC benchmark shares: the configurations, the proto and its seeded
// requests, the span exporter that drops spans, and small parsers. Imports nothing that
// OpenTelemetry instruments (no @grpc/grpc-js), so a process can load it before its SDK starts.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

/** The proto of the service under test (one unary method) and how it is loaded. */
export const PROTO_PATH = fileURLToPath(new URL('./echo.proto', import.meta.url));
export const PROTO_LOADER_OPTIONS = Object.freeze({ keepCase: true, defaults: true });

/** `package.Service/Method` of the method under test: Hitch's span name and `rpc.method`. */
export const SERVICE_NAME = 'bench.Echo';
export const METHOD_NAME = 'Echo';
export const FULL_METHOD = `${SERVICE_NAME}/${METHOD_NAME}`;

/**
 * The configurations, in the order of the table; each runs the same server and client code.
 * `hitch`: createHitch + createServer / createClient from @hitch/grpc, in the server and in the
 * client. `otel`: NodeSDK with instrumentation-grpc, started before @grpc/grpc-js is loaded, in
 * the server and in the client.
 */
export const CONFIGS = Object.freeze([
  { id: 'bare', name: 'grpc-js, no instrumentation', hitch: false, otel: false },
  { id: 'hitch', name: 'Hitch (`createServer` + `createClient`)', hitch: true, otel: false },
  { id: 'otel', name: 'OpenTelemetry NodeSDK (instrumentation-grpc)', hitch: false, otel: true },
]);

export function configById(id) {
  const config = CONFIGS.find((c) => c.id === id);
  if (config === undefined) throw new Error(`--config must be one of ${CONFIGS.map((c) => c.id).join(', ')}, got ${id}`);
  return config;
}

/** Seeded 32-bit PRNG (mulberry32): same sequence on every run. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const REQUEST_SEED = 0x6e7c;
const MESSAGE_LENGTH = 32;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `count` requests `{ message, sequence }`, the same on every run: 32 characters each from the seeded PRNG. */
export function echoRequests(count, seed = REQUEST_SEED) {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, sequence) => ({
    message: Array.from({ length: MESSAGE_LENGTH }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join(''),
    sequence,
  }));
}

/** The handler's answer to a request: the same fields back. */
export function replyOf(request) {
  return { message: request.message, sequence: request.sequence };
}

/** SpanKind (@opentelemetry/api) by number. */
const SPAN_KIND_NAMES = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/**
 * A span exporter that drops what it is given after counting it, by `${kind} ${name}`, and how
 * many of those had a parent (for a SERVER span: the context propagated from the client). Both
 * tracing configurations put it behind the same `BatchSpanProcessor`, so they do the same export
 * work and no network I/O.
 */
export class DroppingSpanExporter {
  exported = 0;
  byName = new Map();
  withParentByName = new Map();

  export(spans, resultCallback) {
    this.exported += spans.length;
    for (const span of spans) {
      const key = `${SPAN_KIND_NAMES[span.kind] ?? span.kind} ${span.name}`;
      this.byName.set(key, (this.byName.get(key) ?? 0) + 1);
      // sdk-trace-base 2.x: `parentSpanContext` (1.x had `parentSpanId`).
      if (span.parentSpanContext?.spanId !== undefined) this.withParentByName.set(key, (this.withParentByName.get(key) ?? 0) + 1);
    }
    // ExportResultCode.SUCCESS
    resultCallback({ code: 0 });
  }

  shutdown() {
    return Promise.resolve();
  }

  forceFlush() {
    return Promise.resolve();
  }

  snapshot() {
    return { exported: this.exported, byName: Object.fromEntries(this.byName), withParentByName: Object.fromEntries(this.withParentByName) };
  }
}

/**
 * The samples of a Prometheus text exposition: `[{ name, labels, value }]`. Enough for the
 * metrics Hitch exposes here (no escaped quotes in label values); comments are skipped.
 */
export function parsePrometheusText(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The installed version of a package as this directory resolves it (read from its package.json). */
export function packageVersion(name) {
  const require = createRequire(import.meta.url);
  let dir;
  try {
    dir = dirname(require.resolve(name));
  } catch {
    return 'not installed';
  }
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      if (pkg.name === name) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** Environment of every child: no OpenTelemetry, gRPC or log settings from the caller's shell. */
export function childEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('OTEL_') && !key.startsWith('GRPC_') && key !== 'LOG_LEVEL' && key !== 'NODE_OPTIONS') env[key] = value;
  }
  env.OTEL_TRACES_EXPORTER = 'none';
  env.OTEL_METRICS_EXPORTER = 'none';
  env.OTEL_LOGS_EXPORTER = 'none';
  env.NODE_ENV = 'production';
  return env;
}
