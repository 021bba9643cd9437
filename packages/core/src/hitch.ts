import type { Span, Tracer } from '@opentelemetry/api';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import type { Clock } from './clock/clock.js';
import { systemClock } from './clock/clock.js';
import { InvalidOptionError } from './errors/hitch-error.js';
import { MetricNameError } from './errors/metric-errors.js';
import type { HitchFetch } from './http-client/fetch.js';
import { KNOWN_METHODS, createFetch } from './http-client/fetch.js';
import type { LoggingOptions } from './logging/index.js';
import { createLogger } from './logging/index.js';
import type { MetricsBackend } from './metrics/backend.js';
import { buckets } from './metrics/buckets.js';
import type { ExemplarSource } from './metrics/internal-types.js';
import { OtelBackend } from './metrics/otel-backend.js';
import { PromClientBackend } from './metrics/prom-client-backend.js';
import { MetricsRegistry } from './metrics/registry.js';
import { registerRuntimeMetrics } from './metrics/runtime-metrics.js';
import type { MetricsWarning } from './metrics/types.js';
import { checkLabelName } from './naming/index.js';
import type { Tracing, TracingOptions } from './tracing/tracing.js';
import { createTracing } from './tracing/tracing.js';
import type { WithSpanOptions } from './tracing/with-span.js';
import type { Lifecycle, LifecycleOptions } from './lifecycle/index.js';
import { ShutdownPriority, createLifecycle } from './lifecycle/index.js';
import type {
  BulkheadOptions,
  BulkheadPolicy,
  CircuitBreakerOptions,
  FallbackOptions,
  FallbackPolicy,
  KeyedBreakers,
  KeyedBreakersOptions,
  RetryOptions,
  RetryPolicy,
  TimeoutOptions,
  TimeoutPolicy,
} from './resilience/index.js';
import { CircuitBreaker, bulkhead, circuitBreaker, compose, fallback, keyedBreakers, retry, timeout } from './resilience/index.js';
import type { DrainResult, TaskRunner, TaskRunnerOptions } from './tasks/index.js';
import { bind, bindEmitter, createTaskRunner, injectContext, runWithExtractedContext } from './tasks/index.js';
import { defineMachine } from './fsm/define-machine.js';
import type { FsmInstrumentation } from './fsm/types.js';
import { createFsmInstrumentation } from './wiring/fsm-instrumentation.js';
import { createResilienceInstrumentation } from './wiring/resilience-instrumentation.js';
import { createTaskInstrumentation } from './wiring/task-instrumentation.js';

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
  /** Receives each warning once per metric and kind. Defaults to `hitch.logger.warn`. */
  readonly onWarning?: (warning: MetricsWarning) => void;
}

export interface HttpClientOptions {
  /** Distinct `server_address` values of `http_client_request_duration_seconds`. Defaults to `100`. */
  readonly maxServerAddresses?: number;
}

export interface HitchOptions {
  readonly service?: ServiceOptions;
  readonly metrics?: MetricsOptions;
  readonly tracing?: TracingOptions;
  readonly logging?: LoggingOptions;
  readonly httpClient?: HttpClientOptions;
  /** Source of time and timers for every part of Hitch. Defaults to `systemClock`. */
  readonly clock?: Clock;
  /** Upper bound on `shutdown()`: draining tasks and flushing spans, logs and metrics gives up after this. Defaults to `5000`. */
  readonly shutdownTimeoutMs?: number;
  /** Graceful-shutdown timings used by `hitch.lifecycle` (pre-stop delay, hook and overall timeouts). */
  readonly lifecycle?: LifecycleOptions;
}

/**
 * `hitch.resilience`: the `@hitch/core/resilience` factories with this instance's clock and
 * instrumentation (metrics, span events, breaker log lines) filled in.
 */
export interface HitchResilience {
  timeout(options: TimeoutOptions): TimeoutPolicy;
  retry(options?: RetryOptions): RetryPolicy;
  circuitBreaker(options?: CircuitBreakerOptions): CircuitBreaker;
  keyedBreakers(options: KeyedBreakersOptions): KeyedBreakers;
  bulkhead(options: BulkheadOptions): BulkheadPolicy;
  fallback<R>(options: FallbackOptions<R>): FallbackPolicy<R>;
  compose: typeof compose;
}

/** `hitch.tasks`: task runners traced and measured through this instance, and context helpers. */
export interface HitchTasks {
  /** A runner whose tasks run in their submitter's context, with spans and metrics. Drained by `hitch.shutdown()`. */
  createRunner(options: TaskRunnerOptions): TaskRunner;
  readonly bind: typeof bind;
  readonly bindEmitter: typeof bindEmitter;
  readonly injectContext: typeof injectContext;
  readonly runWithExtractedContext: typeof runWithExtractedContext;
  /** Drains every runner created here (stops accepting, waits, aborts what is left at the deadline). */
  drainAll(options?: { timeoutMs?: number }): Promise<DrainResult>;
}

/** `hitch.fsm`: state machines whose transitions this instance counts, times and adds to the active span. */
export interface HitchFsm {
  /**
   * `defineMachine` from `@hitch/core/fsm` with this instance's clock and instrumentation filled
   * in (`hitch_fsm_*` metrics, a span event per transition). Options given win.
   */
  readonly defineMachine: typeof defineMachine;
}

/** One Hitch instance per service: pass it explicitly to every integration. */
export interface Hitch {
  readonly service: Readonly<{ name: string; version: string | undefined; environment: string | undefined }>;
  readonly resource: Resource;
  readonly clock: Clock;
  readonly metrics: MetricsRegistry;
  /** The OpenTelemetry tracer of this instance. */
  readonly tracer: Tracer;
  readonly tracing: Tracing;
  /** pino logger: trace ids inside spans, secrets redacted. */
  readonly logger: Logger;
  /** The global `fetch`, traced (CLIENT span, W3C headers), measured, optionally through a policy. */
  readonly fetch: HitchFetch;
  readonly resilience: HitchResilience;
  readonly tasks: HitchTasks;
  readonly fsm: HitchFsm;
  /** Health checks, shutdown hooks, SIGTERM/SIGINT handling. */
  readonly lifecycle: Lifecycle;
  /** Shorthand for `hitch.tracing.withSpan`. */
  withSpan<T>(name: string, fn: (span: Span) => T, options?: WithSpanOptions): T;
  /**
   * Flushes spans, logs and metrics, closes what Hitch opened (servers, timers, observers), and
   * unregisters the OpenTelemetry globals it registered. Idempotent; bounded by `shutdownTimeoutMs`.
   */
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

  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
  if (!(shutdownTimeoutMs > 0) || !Number.isFinite(shutdownTimeoutMs)) {
    throw new InvalidOptionError('shutdownTimeoutMs', `should be a positive number of milliseconds, got ${String(shutdownTimeoutMs)}`);
  }
  const maxServerAddresses = options.httpClient?.maxServerAddresses ?? 100;
  if (!Number.isInteger(maxServerAddresses) || maxServerAddresses < 1) {
    throw new InvalidOptionError('httpClient.maxServerAddresses', `should be a positive integer, got ${String(maxServerAddresses)}`);
  }

  const explicit: Record<string, string> = { [ATTR_SERVICE_NAME]: service.name };
  if (service.version !== undefined) explicit[ATTR_SERVICE_VERSION] = service.version;
  // deployment.environment.name is still in the incubating semantic conventions.
  if (service.environment !== undefined) explicit['deployment.environment.name'] = service.environment;
  // OTEL_RESOURCE_ATTRIBUTES is honored; explicit options win.
  const resource = detectResources({ detectors: [envDetector] }).merge(resourceFromAttributes(explicit));

  // Parts that validate options come first, so a bad option throws before anything is started.
  const { logger, flush: flushLogs } = createLogger(service, options.logging);
  const lifecycle = createLifecycle(options.lifecycle, { clock, logger });
  const tracing = createTracing(options.tracing ?? {}, resource);
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
    onWarning: metricsOptions.onWarning ?? ((w) => logger.warn({ code: w.code, metric: w.metric }, w.message)),
  });
  const stopRuntime = metricsOptions.runtimeMetrics === false ? undefined : registerRuntimeMetrics(metrics);
  const clientDuration = metrics.histogram({
    name: 'http_client_request_duration_seconds',
    help: 'Duration of outbound HTTP requests made with hitch.fetch, until the response headers arrive.',
    labels: {
      method: { values: [...KNOWN_METHODS, '_OTHER'] },
      server_address: { maxValues: maxServerAddresses },
      status_code: { maxValues: 64 },
    },
    buckets: buckets.httpLatencySeconds,
  });
  const fetch = createFetch({ tracer: tracing.tracer, propagator: tracing.propagator, clock, duration: clientDuration });

  const instrumentation = createResilienceInstrumentation(metrics, logger);
  const policyDeps = { clock, instrumentation };
  const resilience: HitchResilience = {
    timeout: (o) => timeout({ ...policyDeps, ...o }),
    retry: (o) => retry({ ...policyDeps, ...o }),
    circuitBreaker: (o) => circuitBreaker({ ...policyDeps, ...o }),
    keyedBreakers: (o) =>
      keyedBreakers({
        ...o,
        create: (key) => {
          const created = o.create(key);
          return created instanceof CircuitBreaker ? created : { ...policyDeps, ...created };
        },
      }),
    bulkhead: (o) => bulkhead({ ...policyDeps, ...o }),
    fallback: (o) => fallback({ ...policyDeps, ...o }),
    compose,
  };

  const taskInstrumentation = createTaskInstrumentation(metrics, logger);
  const runners = new Set<TaskRunner>();
  const drainAll = async (drainOptions: { timeoutMs?: number } = {}): Promise<DrainResult> => {
    const results = await Promise.all([...runners].map((runner) => runner.drain(drainOptions)));
    return results.reduce((sum, r) => ({ completed: sum.completed + r.completed, aborted: sum.aborted + r.aborted }), { completed: 0, aborted: 0 });
  };
  const tasks: HitchTasks = {
    createRunner(runnerOptions) {
      const runner = createTaskRunner(runnerOptions, { tracer: tracing.tracer, clock, instrumentation: taskInstrumentation });
      runners.add(runner);
      return runner;
    },
    bind,
    bindEmitter,
    injectContext,
    runWithExtractedContext,
    drainAll,
  };

  // Registered at the first machine: services without one expose no hitch_fsm_* families.
  let fsmInstrumentation: FsmInstrumentation | undefined;
  const fsm: HitchFsm = {
    defineMachine(definition) {
      fsmInstrumentation ??= createFsmInstrumentation(metrics);
      return defineMachine({ clock, instrumentation: fsmInstrumentation, ...definition });
    },
  };

  // A signal-driven shutdown drains tasks, then flushes telemetry, after the user's own hooks
  // that stop accepting work (priority 10).
  lifecycle.onShutdown('drain tasks', () => drainAll({ timeoutMs: shutdownTimeoutMs / 2 }).then(() => undefined), {
    priority: ShutdownPriority.DrainTasks,
  });
  lifecycle.onShutdown('flush telemetry', () => shutdown(), { priority: ShutdownPriority.FlushTelemetry });

  let shutdownPromise: Promise<void> | undefined;
  return {
    service,
    resource,
    clock,
    metrics,
    tracer: tracing.tracer,
    tracing,
    logger,
    fetch,
    resilience,
    tasks,
    fsm,
    lifecycle,
    withSpan: tracing.withSpan,
    shutdown,
  };

  function shutdown(): Promise<void> {
    shutdownPromise ??= (async () => {
      // Nothing is served after this: take the instance out of rotation first.
      lifecycle.health.setReady(false);
      const results = await withTimeout(
        (async () => {
          // Tasks first (they may still emit spans and logs), then telemetry.
          await drainAll({ timeoutMs: shutdownTimeoutMs / 2 });
          stopRuntime?.();
          return Promise.allSettled([tracing.shutdown(), flushLogs(), metrics.shutdown()]);
        })(),
        shutdownTimeoutMs,
        clock,
      );
      if (results === 'timeout') {
        process.emitWarning(`hitch.shutdown() gave up after ${shutdownTimeoutMs} ms; some telemetry may not have been flushed`, {
          code: 'HITCH_SHUTDOWN_TIMEOUT',
        });
      }
    })();
    return shutdownPromise;
  }
}

/** Resolves with `promise`'s value, or 'timeout' after `ms`; the timer is cleared as soon as either happens. */
async function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<T | 'timeout'> {
  let timer: unknown;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = clock.setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clock.clearTimeout(timer);
  }
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
