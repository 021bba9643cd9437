import { context, trace, TraceFlags } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import type { Clock } from './clock/clock.js';
import { systemClock } from './clock/clock.js';
import { InvalidOptionError } from './errors/hitch-error.js';
import { MetricNameError } from './errors/metric-errors.js';
import type { MetricsBackend } from './metrics/backend.js';
import type { ExemplarSource } from './metrics/internal-types.js';
import { OtelBackend } from './metrics/otel-backend.js';
import { PromClientBackend } from './metrics/prom-client-backend.js';
import { MetricsRegistry } from './metrics/registry.js';
import { registerRuntimeMetrics } from './metrics/runtime-metrics.js';
import type { MetricsWarning } from './metrics/types.js';
import { checkLabelName } from './naming/index.js';

/** Who is reporting: becomes the OpenTelemetry resource. */
export interface ServiceOptions {
  /** `service.name`. Defaults to `OTEL_SERVICE_NAME`; one of the two is required. */
  readonly name?: string;
  /** `service.version`. Defaults to none. */
  readonly version?: string;
  /** `deployment.environment.name`, e.g. `prod`. Defaults to none. */
  readonly environment?: string;
}

export interface MetricsOptions {
  /**
   * `'prom-client'`: pull, `/metrics`, OpenMetrics exemplars. `'otel'`: the OpenTelemetry
   * metrics SDK, for OTLP push or `@opentelemetry/exporter-prometheus`. Defaults to `'prom-client'`.
   */
  readonly backend?: 'prom-client' | 'otel';
  /** Labels added to every series, e.g. `{ region: 'sh' }`. Defaults to none. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
  /** `maxSeries` of metrics that do not set their own. Defaults to `2000`. */
  readonly maxSeriesPerMetric?: number;
  /** Process and Node.js runtime metrics (CPU, memory, event loop delay, GC, handles). Defaults to `true`. */
  readonly runtimeMetrics?: boolean;
  /** Extra OpenTelemetry metric readers (`backend: 'otel'` only), e.g. a PeriodicExportingMetricReader. Defaults to none. */
  readonly readers?: readonly IMetricReader[];
  /** Receives each warning once per metric and kind. Defaults to `process.emitWarning`. */
  readonly onWarning?: (warning: MetricsWarning) => void;
}

export interface HitchOptions {
  readonly service?: ServiceOptions;
  readonly metrics?: MetricsOptions;
  /** Source of time and timers for every part of Hitch. Defaults to `systemClock`. */
  readonly clock?: Clock;
}

/** One Hitch instance per service: pass it explicitly to every integration. */
export interface Hitch {
  readonly service: Readonly<{ name: string; version: string | undefined; environment: string | undefined }>;
  readonly resource: Resource;
  readonly clock: Clock;
  readonly metrics: MetricsRegistry;
  /** Stops timers, servers and observers and flushes telemetry. Idempotent. */
  shutdown(): Promise<void>;
}

/** The active span, when it is sampled: what an exemplar points at. */
const activeSampledSpan: ExemplarSource = () => {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const spanContext = span.spanContext();
  return (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? spanContext : undefined;
};

/** Creates a Hitch instance. Options are validated here; nothing is global. */
export function createHitch(options: HitchOptions = {}): Hitch {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('createHitch', 'expects an options object');
  const clock = options.clock ?? systemClock;
  const service = normalizeService(options.service);
  const metricsOptions = options.metrics ?? {};
  const backendKind = metricsOptions.backend ?? 'prom-client';
  if (backendKind !== 'prom-client' && backendKind !== 'otel') {
    throw new InvalidOptionError('metrics.backend', `should be 'prom-client' or 'otel', got ${JSON.stringify(backendKind)}`);
  }
  const defaultLabels = normalizeDefaultLabels(metricsOptions.defaultLabels);
  const maxSeriesPerMetric = metricsOptions.maxSeriesPerMetric ?? 2000;
  if (!Number.isInteger(maxSeriesPerMetric) || maxSeriesPerMetric < 1) {
    throw new InvalidOptionError('metrics.maxSeriesPerMetric', `should be a positive integer, got ${String(maxSeriesPerMetric)}`);
  }
  if (metricsOptions.readers !== undefined && backendKind !== 'otel') {
    throw new InvalidOptionError('metrics.readers', "OpenTelemetry readers need backend: 'otel'");
  }

  const explicit: Record<string, string> = { 'service.name': service.name };
  if (service.version !== undefined) explicit['service.version'] = service.version;
  if (service.environment !== undefined) explicit['deployment.environment.name'] = service.environment;
  // OTEL_RESOURCE_ATTRIBUTES is honored; explicit options win.
  const resource = detectResources({ detectors: [envDetector] }).merge(resourceFromAttributes(explicit));

  const backend: MetricsBackend =
    backendKind === 'otel'
      ? new OtelBackend({ resource, readers: metricsOptions.readers ?? [], meterName: '@hitch/core', meterVersion: '0.1.0' })
      : new PromClientBackend(defaultLabels);
  const metrics = new MetricsRegistry({
    backend,
    clock,
    exemplarSource: activeSampledSpan,
    defaultLabels,
    maxSeriesPerMetric,
    onWarning: metricsOptions.onWarning ?? ((w) => process.emitWarning(w.message, { code: w.code })),
  });
  const stopRuntime = metricsOptions.runtimeMetrics === false ? undefined : registerRuntimeMetrics(metrics);

  let shutdownPromise: Promise<void> | undefined;
  return {
    service,
    resource,
    clock,
    metrics,
    shutdown() {
      shutdownPromise ??= (async () => {
        stopRuntime?.();
        await metrics.shutdown();
      })();
      return shutdownPromise;
    },
  };
}

function normalizeService(service: ServiceOptions | undefined): Hitch['service'] {
  const name = service?.name ?? process.env.OTEL_SERVICE_NAME;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidOptionError('service.name', 'is required: pass createHitch({ service: { name: "orders" } }) or set OTEL_SERVICE_NAME');
  }
  for (const key of ['version', 'environment'] as const) {
    const value = service?.[key];
    if (value !== undefined && typeof value !== 'string') throw new InvalidOptionError(`service.${key}`, `should be a string, got ${typeof value}`);
  }
  return Object.freeze({ name, version: service?.version, environment: service?.environment });
}

function normalizeDefaultLabels(labels: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  if (labels === undefined) return Object.freeze({});
  if (typeof labels !== 'object' || labels === null) throw new InvalidOptionError('metrics.defaultLabels', 'should be an object of label values');
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    const problems = checkLabelName(name, 'gauge');
    if (problems.length > 0) throw new MetricNameError('default label name', name, problems);
    if (typeof value !== 'string') throw new InvalidOptionError(`metrics.defaultLabels.${name}`, `should be a string, got ${typeof value}`);
    result[name] = value;
  }
  return Object.freeze(result);
}
