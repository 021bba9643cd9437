import type { Context, Span, TextMapGetter, TextMapSetter, Tracer } from '@opentelemetry/api';
import { context as contextApi, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { HitchPropagator } from './propagation/index.js';
import type { WithSpanOptions } from './with-span.js';
import { withSpan } from './with-span.js';

export type TraceExporterKind = 'otlp' | 'console' | 'memory' | 'none';

export interface TracingOptions {
  /**
   * Where finished spans go: `'otlp'` (OTLP/HTTP, batched), `'console'`, `'memory'` (for tests:
   * `hitch.tracing.finishedSpans()`) or `'none'`. Defaults to `OTEL_TRACES_EXPORTER`, then `'otlp'`.
   */
  readonly exporter?: TraceExporterKind;
  /**
   * OTLP/HTTP traces URL, e.g. `http://collector:4318/v1/traces`. Defaults to
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, then `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`,
   * then `http://localhost:4318/v1/traces`.
   */
  readonly endpoint?: string;
  /** OTLP request headers (e.g. an API key). Defaults to `OTEL_EXPORTER_OTLP_HEADERS`. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Fraction of new traces sampled, 0..1; a parent's decision is always followed (parent-based
   * ratio sampler). Defaults to what `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` say, then `1`.
   */
  readonly sampleRatio?: number;
  /**
   * Register the tracer provider and the Hitch W3C propagator as the OpenTelemetry globals, so
   * instrumentations and `trace.getTracer()` use them. The AsyncLocalStorage context manager is
   * registered whenever none is (context cannot flow without one). Defaults to `true`.
   */
  readonly registerGlobal?: boolean;
  /** Extra span processors, run after Hitch's own. Defaults to none. */
  readonly spanProcessors?: readonly SpanProcessor[];
}

/** `hitch.tracing`. */
export interface Tracing {
  readonly tracer: Tracer;
  readonly provider: NodeTracerProvider;
  /** The W3C traceparent/tracestate/baggage propagator this instance uses. */
  readonly propagator: HitchPropagator;
  readonly exporter: TraceExporterKind;
  /** Runs `fn(span)` in a new active span; records errors and always ends the span. */
  withSpan<T>(name: string, fn: (span: Span) => T, options?: WithSpanOptions): T;
  /** Writes the active (or given) context into `carrier` (headers, gRPC metadata...). */
  inject<C>(carrier: C, setter?: TextMapSetter<C>, ctx?: Context): void;
  /** Reads a remote context from `carrier`, on top of the active (or given) context. */
  extract<C>(carrier: C, getter?: TextMapGetter<C>, ctx?: Context): Context;
  /** Spans finished so far, with `exporter: 'memory'`; otherwise an empty list. */
  finishedSpans(): ReadableSpan[];
  /** Clears `finishedSpans()`. */
  resetFinishedSpans(): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

const headerSetter: TextMapSetter<Record<string, unknown>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};
const headerGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key] ?? carrier[key.toLowerCase()];
    if (typeof value === 'string' || Array.isArray(value)) return value as string | string[];
    return undefined;
  },
};

export function createTracing(options: TracingOptions, resource: Resource): Tracing {
  const exporterKind = exporterKindFrom(options.exporter);
  const sampler = samplerFrom(options.sampleRatio);
  let memory: InMemorySpanExporter | undefined;
  const processors: SpanProcessor[] = [];
  switch (exporterKind) {
    case 'otlp':
      processors.push(new BatchSpanProcessor(otlpExporter(options)));
      break;
    case 'console':
      processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
      break;
    case 'memory':
      memory = new InMemorySpanExporter();
      processors.push(new SimpleSpanProcessor(memory));
      break;
    case 'none':
      break;
  }
  if (options.spanProcessors !== undefined && !Array.isArray(options.spanProcessors)) {
    throw new InvalidOptionError('tracing.spanProcessors', 'should be an array of SpanProcessor');
  }
  processors.push(...(options.spanProcessors ?? []));

  const provider = new NodeTracerProvider({ resource, sampler, spanProcessors: processors });
  const propagator = new HitchPropagator();

  // Context cannot flow through async code without a context manager; register one if none is.
  // It stays registered after shutdown: other instances in the process may rely on it, and an
  // AsyncLocalStorage holds nothing that keeps the process alive.
  const contextManager = new AsyncLocalStorageContextManager();
  if (!contextApi.setGlobalContextManager(contextManager.enable())) contextManager.disable();
  let ownsGlobals = false;
  if (options.registerGlobal ?? true) {
    ownsGlobals = trace.setGlobalTracerProvider(provider);
    if (ownsGlobals) propagation.setGlobalPropagator(propagator);
  }

  const tracer = provider.getTracer('@hitch/core', '0.1.0');
  let shutdownPromise: Promise<void> | undefined;
  return {
    tracer,
    provider,
    propagator,
    exporter: exporterKind,
    withSpan: (name, fn, spanOptions) => withSpan(tracer, name, fn, spanOptions),
    inject(carrier, setter, ctx) {
      propagator.inject(ctx ?? contextApi.active(), carrier, (setter ?? headerSetter) as TextMapSetter<typeof carrier>);
    },
    extract(carrier, getter, ctx) {
      return propagator.extract(ctx ?? contextApi.active(), carrier, (getter ?? headerGetter) as TextMapGetter<typeof carrier>);
    },
    finishedSpans: () => memory?.getFinishedSpans() ?? [],
    resetFinishedSpans: () => memory?.reset(),
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      shutdownPromise ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          if (ownsGlobals) {
            trace.disable();
            propagation.disable();
          }
        }
      })();
      return shutdownPromise;
    },
  };
}

function exporterKindFrom(option: TraceExporterKind | undefined): TraceExporterKind {
  const valid: readonly TraceExporterKind[] = ['otlp', 'console', 'memory', 'none'];
  if (option !== undefined) {
    if (!valid.includes(option)) throw new InvalidOptionError('tracing.exporter', `should be one of ${valid.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(option)}`);
    return option;
  }
  // OTEL_TRACES_EXPORTER may list several; the first one Hitch knows wins.
  const fromEnv = (process.env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase());
  for (const name of fromEnv) if ((valid as readonly string[]).includes(name)) return name as TraceExporterKind;
  return 'otlp';
}

function samplerFrom(ratio: number | undefined): Sampler {
  if (ratio !== undefined) {
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) {
      throw new InvalidOptionError('tracing.sampleRatio', `should be a number in [0, 1], got ${String(ratio)}`);
    }
    return parentBased(ratio);
  }
  // https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration
  const name = (process.env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase();
  const arg = Number(process.env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const envRatio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(envRatio);
    case 'parentbased_always_off':
      return parentBased(0);
    case 'parentbased_traceidratio':
      return parentBased(envRatio);
    default:
      return parentBased(1);
  }
}

function parentBased(ratio: number): Sampler {
  const root = ratio >= 1 ? new AlwaysOnSampler() : ratio <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(ratio);
  return new ParentBasedSampler({ root });
}

function otlpExporter(options: TracingOptions): SpanExporter {
  const { endpoint, headers } = options;
  if (endpoint !== undefined) {
    try {
      new URL(endpoint);
    } catch {
      throw new InvalidOptionError('tracing.endpoint', `should be an absolute URL like http://collector:4318/v1/traces, got ${JSON.stringify(endpoint)}`);
    }
  }
  // Without `url`, the exporter reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT itself.
  return new OTLPTraceExporter({ ...(endpoint !== undefined ? { url: endpoint } : {}), ...(headers !== undefined ? { headers: { ...headers } } : {}) });
}
