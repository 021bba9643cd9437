import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { unrefTimer } from '../clock/clock.js';
import { InvalidOptionError, ShutdownError } from '../errors/hitch-error.js';
import { MetricNameError, MetricRegistrationError } from '../errors/metric-errors.js';
import type { MetricType } from '../naming/index.js';
import { baseUnitOf, checkLabelName, checkMetricName } from '../naming/index.js';
import type { MetricsBackend } from './backend.js';
import { bucketProblem, buckets as bucketPresets } from './buckets.js';
import { negotiateFormat } from './content-negotiation.js';
import { CounterMetric } from './counter.js';
import { GaugeMetric } from './gauge.js';
import { HistogramMetric } from './histogram.js';
import type { InstrumentDefinition } from './instrument.js';
import { Instrument } from './instrument.js';
import type { ExemplarSource, InstrumentContext, InstrumentReporter } from './internal-types.js';
import { MAX_LABEL_VALUE_LENGTH } from './label-policy.js';
import type {
  BoundCounter,
  Counter,
  CounterOptions,
  Gauge,
  GaugeOptions,
  Histogram,
  HistogramOptions,
  InvalidObservationReason,
  LabelDeclaration,
  MetricsWarning,
  MetricsWarningCode,
  RenderedMetrics,
} from './types.js';
import { InvalidObservationReason as Reason } from './types.js';

/** Largest `maxValues` a label may declare: beyond this a label is an identifier, not a dimension. */
export const MAX_LABEL_VALUES = 10_000;

export interface MetricsRegistryOptions {
  readonly backend: MetricsBackend;
  readonly clock: Clock;
  readonly exemplarSource: ExemplarSource | undefined;
  readonly defaultLabels: Readonly<Record<string, string>>;
  readonly maxSeriesPerMetric: number;
  readonly onWarning: (warning: MetricsWarning) => void;
}

/** Options of {@link MetricsRegistry.serve}. */
export interface ServeOptions {
  /** TCP port; 0 picks a free one. Defaults to `9464` (the OpenTelemetry Prometheus exporter port). */
  readonly port?: number;
  /** Interface to listen on. Defaults to `'0.0.0.0'`. */
  readonly host?: string;
  /** Path that serves the metrics. Defaults to `'/metrics'`. */
  readonly path?: string;
}

/** A running `/metrics` server started by {@link MetricsRegistry.serve}. */
export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  /** e.g. `http://127.0.0.1:9464/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

type AnyMetric = CounterMetric | GaugeMetric | HistogramMetric;

/**
 * `hitch.metrics`: registers bounded counters, gauges and histograms and renders them.
 * Registration validates and throws; recording never throws.
 */
export class MetricsRegistry {
  private readonly backend: MetricsBackend;
  private readonly clock: Clock;
  private readonly exemplarSource: ExemplarSource | undefined;
  private readonly defaultLabels: Readonly<Record<string, string>>;
  private readonly maxSeriesPerMetric: number;
  private readonly onWarning: (warning: MetricsWarning) => void;
  private readonly metrics = new Map<string, { metric: AnyMetric; instrument: Instrument; signature: string }>();
  private readonly servers = new Set<MetricsServer>();
  private readonly warned = new Set<string>();
  private readonly overflowHandles = new Map<string, Map<string, BoundCounter>>();
  private readonly invalidHandles = new Map<string, Map<string, BoundCounter>>();
  private readonly overflowTotal: Counter<'metric' | 'label'>;
  private readonly invalidTotal: Counter<'metric' | 'reason'>;
  private readonly context: InstrumentContext;
  private sweepTimer: TimerHandle | undefined;
  private sweepIntervalMs = Infinity;
  private closed = false;

  constructor(options: MetricsRegistryOptions) {
    this.backend = options.backend;
    this.clock = options.clock;
    // A backend that cannot expose exemplars should not pay for the context lookup.
    this.exemplarSource = options.backend.supportsExemplars ? options.exemplarSource : undefined;
    this.defaultLabels = options.defaultLabels;
    this.maxSeriesPerMetric = options.maxSeriesPerMetric;
    this.onWarning = options.onWarning;
    const reporter: InstrumentReporter = {
      overflow: (metric, label) => this.countOverflow(metric, label),
      invalid: (metric, reason) => this.countInvalid(metric, reason),
      warn: (code, metric, message) => this.warn(code, metric, message),
    };
    this.context = { clock: this.clock, reporter, exemplarSource: this.exemplarSource, defaultMaxSeries: this.maxSeriesPerMetric };

    // Hitch's own metrics report through a reporter that only warns, so they cannot recurse.
    const selfContext: InstrumentContext = {
      ...this.context,
      reporter: { overflow: () => undefined, invalid: () => undefined, warn: reporter.warn },
    };
    this.overflowTotal = this.register<'metric' | 'label'>(
      'counter',
      {
        name: 'hitch_metric_label_overflow_total',
        help: 'Observations recorded under the __overflow__ label value because a label bound (or maxSeries, label="__series__") was exceeded.',
        labels: { metric: { maxValues: 1000 }, label: { maxValues: 1000 } },
      },
      selfContext,
    ) as Counter<'metric' | 'label'>;
    this.invalidTotal = this.register<'metric' | 'reason'>(
      'counter',
      {
        name: 'hitch_metric_invalid_observations_total',
        help: 'Observations dropped because of missing or unknown labels or an invalid value.',
        labels: { metric: { maxValues: 1000 }, reason: { values: Object.values(Reason) } },
      },
      selfContext,
    ) as Counter<'metric' | 'reason'>;
  }

  /** Which backend renders and exports: `'prom-client'` or `'otel'`. */
  get backendKind(): 'prom-client' | 'otel' {
    return this.backend.kind;
  }

  /**
   * Registers a counter. Registering the same definition twice returns the same counter;
   * the same name with a different definition throws.
   */
  counter<L extends string = never>(options: CounterOptions<L>): Counter<L> {
    return this.register<L>('counter', options, this.context) as Counter<L>;
  }

  /** Registers a gauge. */
  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
    return this.register<L>('gauge', options, this.context) as Gauge<L>;
  }

  /** Registers a histogram. */
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.register<L>('histogram', options, this.context) as Histogram<L>;
  }

  /** A registered metric by name. */
  get(name: string): Counter<string> | Gauge<string> | Histogram<string> | undefined {
    return this.metrics.get(name)?.metric as Counter<string> | Gauge<string> | Histogram<string> | undefined;
  }

  /**
   * Renders every metric for a scrape. `accept` is the request's `Accept` header: OpenMetrics
   * 1.0.0 (with exemplars) when the scraper prefers it, Prometheus text 0.0.4 otherwise.
   */
  async render(accept?: string): Promise<RenderedMetrics> {
    if (this.closed) throw new ShutdownError('metrics.render()');
    this.sweep();
    return this.backend.render(negotiateFormat(accept));
  }

  /** Serves `render()` over HTTP for services with no HTTP server of their own. */
  async serve(options: ServeOptions = {}): Promise<MetricsServer> {
    if (this.closed) throw new ShutdownError('metrics.serve()');
    const port = options.port ?? 9464;
    const host = options.host ?? '0.0.0.0';
    const path = options.path ?? '/metrics';
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidOptionError('serve.port', `must be an integer in 0..65535, got ${String(port)}`);
    if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidOptionError('serve.path', `must start with "/", got ${String(path)}`);
    const server = createServer((req, res) => {
      const url = req.url ?? '/';
      const pathname = url.split('?')[0];
      if (pathname !== path) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`Not found: metrics are at ${path}\n`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      this.render(req.headers.accept).then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`metrics could not be rendered: ${error instanceof Error ? error.message : String(error)}\n`);
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const handle: MetricsServer = {
      host: address.address,
      port: address.port,
      url: `http://${urlHost}:${address.port}${path}`,
      close: () =>
        new Promise<void>((resolve) => {
          this.servers.delete(handle);
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
    this.servers.add(handle);
    return handle;
  }

  /** Drops expired series now (also done before every render and on a timer). */
  sweep(): void {
    const now = this.clock.now();
    for (const { instrument } of this.metrics.values()) instrument.sweep(now);
  }

  /** Stops the sweep timer and `/metrics` servers, and shuts the backend down. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    await Promise.all([...this.servers].map((server) => server.close()));
    await this.backend.shutdown();
  }

  private register<L extends string>(
    type: MetricType,
    options: (CounterOptions<L> | GaugeOptions<L> | HistogramOptions<L>) & { readonly collect?: () => void },
    context: InstrumentContext,
  ): AnyMetric {
    if (this.closed) throw new ShutdownError(`metrics.${type}()`);
    const definition = this.define(type, options);
    const signature = JSON.stringify([definition.type, definition.help, definition.labels, definition.buckets, definition.maxSeries, definition.expireAfterMs]);
    const existing = this.metrics.get(definition.name);
    if (existing !== undefined) {
      if (existing.signature === signature && existing.instrument.definition.collect === definition.collect) return existing.metric;
      throw new MetricRegistrationError(
        definition.name,
        `is already registered as a ${existing.instrument.type} with a different definition; register it once and share it, or pick another name`,
      );
    }
    const instrument = new Instrument(definition, context);
    this.backend.register(instrument);
    const now = () => this.clock.now();
    const metric =
      type === 'counter'
        ? new CounterMetric(instrument, context.exemplarSource, now)
        : type === 'gauge'
          ? new GaugeMetric(instrument, now)
          : new HistogramMetric(instrument, context.exemplarSource, now);
    this.metrics.set(definition.name, { metric, instrument, signature });
    // A metric without labels is exposed at zero from registration on.
    if (instrument.labelNames.length === 0) instrument.resolve(undefined);
    if (definition.expireAfterMs !== undefined) this.scheduleSweep(definition.expireAfterMs);
    return metric;
  }

  private define(type: MetricType, options: HistogramOptions<string> & { readonly collect?: () => void }): InstrumentDefinition {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`metrics.${type}`, 'expects an options object { name, help, labels }');
    const { name } = options;
    if (typeof name !== 'string') throw new InvalidOptionError(`metrics.${type}.name`, `must be a string, got ${typeof name}`);
    const nameProblems = checkMetricName(name, type);
    if (nameProblems.length > 0) throw new MetricNameError(`${type} name`, name, nameProblems);
    if (typeof options.help !== 'string' || options.help.trim() === '') {
      throw new MetricRegistrationError(name, 'help is required: one line saying what is measured, e.g. help: "Ride requests received"');
    }
    const labels = this.defineLabels(name, type, options.labels);
    const maxSeries = options.maxSeries ?? this.maxSeriesPerMetric;
    if (!Number.isInteger(maxSeries) || maxSeries < 1) throw new MetricRegistrationError(name, `maxSeries should be a positive integer, got ${String(maxSeries)}`);
    const { expireAfterMs } = options;
    if (expireAfterMs !== undefined && (!(expireAfterMs > 0) || !Number.isFinite(expireAfterMs))) {
      throw new MetricRegistrationError(name, `expireAfterMs should be a positive number of milliseconds, got ${String(expireAfterMs)}`);
    }
    if (options.collect !== undefined && typeof options.collect !== 'function') throw new MetricRegistrationError(name, 'collect should be a function');
    if (options.collect !== undefined && type === 'histogram') throw new MetricRegistrationError(name, 'histograms do not take collect(): observe as events happen');
    let bounds: readonly number[] = [];
    if (type === 'histogram') bounds = this.defineBuckets(name, options.buckets);
    else if (options.buckets !== undefined) throw new MetricRegistrationError(name, `buckets only apply to histograms, not to a ${type}`);
    if (options.exemplars !== undefined && typeof options.exemplars !== 'boolean') throw new MetricRegistrationError(name, 'exemplars should be true or false');
    return {
      name,
      help: options.help.trim(),
      type,
      labels,
      maxSeries,
      expireAfterMs,
      buckets: bounds,
      exemplars: options.exemplars ?? type === 'histogram',
      defaultLabels: this.defaultLabels,
      collect: options.collect,
    };
  }

  private defineLabels(name: string, type: MetricType, labels: unknown): Array<readonly [string, LabelDeclaration]> {
    if (labels === undefined) return [];
    if (Array.isArray(labels)) {
      throw new MetricRegistrationError(
        name,
        `labels must be declared with bounds, not as a list: labels: { ${labels.map((l) => `${String(l)}: { values: [...] } or { maxValues: n }`).join(', ')} }`,
      );
    }
    if (typeof labels !== 'object' || labels === null) throw new MetricRegistrationError(name, 'labels should be an object of label declarations');
    const result: Array<readonly [string, LabelDeclaration]> = [];
    for (const [labelName, declaration] of Object.entries(labels as Record<string, unknown>)) {
      const problems = checkLabelName(labelName, type);
      if (problems.length > 0) throw new MetricNameError(`label name of "${name}"`, labelName, problems);
      if (labelName in this.defaultLabels) {
        throw new MetricRegistrationError(name, `label "${labelName}" is also a default label; drop it from the metric (every series carries default labels)`);
      }
      result.push([labelName, this.defineLabel(name, labelName, declaration)]);
    }
    return result;
  }

  private defineLabel(name: string, labelName: string, declaration: unknown): LabelDeclaration {
    const hint = `declare it as ${labelName}: { values: ['a', 'b'] } (an allow-list) or ${labelName}: { maxValues: 50 } (a bound)`;
    if (typeof declaration !== 'object' || declaration === null) throw new MetricRegistrationError(name, `label "${labelName}" is not bounded: ${hint}`);
    const { values, maxValues } = declaration as { values?: unknown; maxValues?: unknown };
    if (values !== undefined && maxValues !== undefined) {
      throw new MetricRegistrationError(name, `label "${labelName}" declares both values and maxValues; pick one: ${hint}`);
    }
    if (values !== undefined) {
      if (!Array.isArray(values) || values.length === 0) throw new MetricRegistrationError(name, `label "${labelName}": values should be a non-empty array of strings`);
      const seen = new Set<string>();
      for (const value of values) {
        if (typeof value !== 'string') throw new MetricRegistrationError(name, `label "${labelName}": values should be strings, got ${typeof value}`);
        if (value.length > MAX_LABEL_VALUE_LENGTH) throw new MetricRegistrationError(name, `label "${labelName}": value "${value.slice(0, 32)}..." is longer than ${MAX_LABEL_VALUE_LENGTH} characters`);
        if (seen.has(value)) throw new MetricRegistrationError(name, `label "${labelName}": value "${value}" is listed twice`);
        seen.add(value);
      }
      return { values: Object.freeze([...seen]) };
    }
    if (maxValues !== undefined) {
      if (typeof maxValues !== 'number' || !Number.isInteger(maxValues) || maxValues < 1 || maxValues > MAX_LABEL_VALUES) {
        throw new MetricRegistrationError(name, `label "${labelName}": maxValues should be an integer in 1..${MAX_LABEL_VALUES}, got ${String(maxValues)}`);
      }
      return { maxValues };
    }
    throw new MetricRegistrationError(name, `label "${labelName}" is not bounded: ${hint}`);
  }

  private defineBuckets(name: string, buckets: unknown): readonly number[] {
    const unit = baseUnitOf(name);
    if (buckets === undefined) {
      if (unit === 'seconds') return bucketPresets.httpLatencySeconds;
      if (unit === 'bytes') return bucketPresets.bytes;
      if (unit === 'ratio') return bucketPresets.ratio;
      throw new MetricRegistrationError(name, 'buckets are required for a histogram whose name has no _seconds, _bytes or _ratio unit; pass buckets: [...] or a preset');
    }
    if (!Array.isArray(buckets)) throw new MetricRegistrationError(name, 'buckets should be an array of ascending numbers');
    const problem = bucketProblem(buckets as number[], unit);
    if (problem !== undefined) throw new MetricRegistrationError(name, problem);
    return Object.freeze([...(buckets as number[])]);
  }

  private scheduleSweep(expireAfterMs: number): void {
    // Sweep at a quarter of the shortest TTL, between 1 s and 60 s: expiry is coarse by design.
    const interval = Math.min(Math.max(expireAfterMs / 4, 1000), 60_000);
    if (interval >= this.sweepIntervalMs) return;
    this.sweepIntervalMs = interval;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    const tick = (): void => {
      if (this.closed) return;
      this.sweep();
      this.sweepTimer = this.clock.setTimeout(tick, this.sweepIntervalMs);
      unrefTimer(this.sweepTimer);
    };
    this.sweepTimer = this.clock.setTimeout(tick, interval);
    unrefTimer(this.sweepTimer);
  }

  private countOverflow(metric: string, label: string): void {
    handleFor(this.overflowHandles, metric, label, () => this.overflowTotal.bind({ metric, label })).inc();
  }

  private countInvalid(metric: string, reason: InvalidObservationReason): void {
    handleFor(this.invalidHandles, metric, reason, () => this.invalidTotal.bind({ metric, reason })).inc();
  }

  private warn(code: MetricsWarningCode, metric: string, message: string): void {
    const key = `${code}\u0000${metric}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    try {
      this.onWarning({ code, metric, message });
    } catch {
      // A throwing warning handler must not turn a dropped observation into a crash.
    }
  }
}

function handleFor(cache: Map<string, Map<string, BoundCounter>>, a: string, b: string, create: () => BoundCounter): BoundCounter {
  let inner = cache.get(a);
  if (inner === undefined) cache.set(a, (inner = new Map()));
  let handle = inner.get(b);
  // Bounded like the series it feeds: at most 1000 metrics x 1000 labels.
  if (handle === undefined) inner.set(b, (handle = create()));
  return handle;
}
