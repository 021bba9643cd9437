// What every process of the HTTP benchmark shares: the configurations, the seeded request paths,
// the span exporter that drops spans, and small parsers. Imports nothing that OpenTelemetry
// instruments (no express, no http), so the server can load it before its SDK starts.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The route under test and its template. */
export const ROUTE_TEMPLATE = '/rides/:id';

/**
 * The servers under test, in the order of the table. `otel`: NodeSDK with the http and express
 * instrumentations, started before express is loaded. `hitch`: createHitch + hitchExpress.
 * `prom`: express-prom-bundle. `checks` name what must be seen before and after the run.
 */
export const CONFIGS = Object.freeze([
  { id: 'bare', name: 'Express 5, no instrumentation', otel: false, hitch: false, prom: false },
  { id: 'hitch', name: 'Hitch (`hitchExpress`)', otel: false, hitch: true, prom: false },
  { id: 'otel', name: 'OpenTelemetry NodeSDK (http + express instrumentations)', otel: true, hitch: false, prom: false },
  { id: 'prom', name: 'express-prom-bundle', otel: false, hitch: false, prom: true },
  { id: 'otel-prom', name: 'OpenTelemetry NodeSDK + express-prom-bundle', otel: true, hitch: false, prom: true },
]);

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

export const PATH_SEED = 0x7e1d;

/** `count` request paths `/rides/<id>`, the same on every run: numeric ids from the seeded PRNG. */
export function ridePaths(count, seed = PATH_SEED) {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => `/rides/${100_000 + Math.floor(random() * 900_000)}`);
}

/** The handler's answer for a ride id: a small JSON object (about 70 bytes). */
export function rideOf(id) {
  return { id, status: 'matched', driver: 'd-7', etaSeconds: 240 };
}

/**
 * A span exporter that drops what it is given after counting it: by kind and name, and the SERVER
 * spans whose `http.route` is the template under test. Both tracing configurations put it behind
 * the same `BatchSpanProcessor`, so they do the same export work and no network I/O.
 */
export class DroppingSpanExporter {
  exported = 0;
  serverRouteSpans = 0;
  byName = new Map();

  export(spans, resultCallback) {
    this.exported += spans.length;
    for (const span of spans) {
      const key = `${SPAN_KIND_NAMES[span.kind] ?? span.kind} ${span.name}`;
      this.byName.set(key, (this.byName.get(key) ?? 0) + 1);
      // SpanKind.SERVER is 1 (@opentelemetry/api).
      if (span.kind === 1 && span.attributes['http.route'] === ROUTE_TEMPLATE) this.serverRouteSpans++;
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
    return { exported: this.exported, serverRouteSpans: this.serverRouteSpans, byName: Object.fromEntries(this.byName) };
  }
}

const SPAN_KIND_NAMES = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/**
 * The samples of a Prometheus text exposition: `[{ name, labels, value }]`. Enough for the
 * metrics these servers expose (no escaped quotes in label values); comments are skipped.
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

/** Environment of every child: no OpenTelemetry or log settings from the caller's shell. */
export function childEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OTEL_') && key !== 'LOG_LEVEL' && key !== 'NODE_OPTIONS') env[key] = value;
  env.OTEL_TRACES_EXPORTER = 'none';
  env.OTEL_METRICS_EXPORTER = 'none';
  env.OTEL_LOGS_EXPORTER = 'none';
  env.NODE_ENV = 'production';
  return env;
}
