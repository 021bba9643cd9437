import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import type { IMetricReader, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { MetricsBackend } from './backend.js';
import type { ExpositionFormat } from './content-negotiation.js';
import { PROMETHEUS_CONTENT_TYPE } from './content-negotiation.js';
import type { Instrument } from './instrument.js';
import type { SeriesSink } from './internal-types.js';
import type { RenderedMetrics } from './types.js';

/** A pull reader Hitch collects from to render `/metrics` for the otel backend. */
class PullReader extends MetricReader {
  constructor() {
    // Hitch bounds series itself (maxSeries); the SDK's own limit must not cut in first.
    super({ cardinalitySelector: () => 1_000_000 });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface OtelBackendOptions {
  readonly resource: Resource;
  /** Extra readers (OTLP push, exporter-prometheus...) that receive the same metrics. */
  readonly readers: readonly IMetricReader[];
  readonly meterName: string;
  readonly meterVersion: string;
}

/**
 * The OpenTelemetry metrics SDK backend. Counters and gauges are observable instruments that
 * report Hitch's bounded series at each collection (so expiry works and writes stay cheap);
 * histograms are synchronous SDK histograms fed on every observation.
 */
export class OtelBackend implements MetricsBackend {
  readonly kind = 'otel';
  readonly supportsExemplars = false;
  private readonly provider: MeterProvider;
  private readonly meter: Meter;
  private readonly reader = new PullReader();
  private readonly instruments = new Map<string, Instrument>();
  private readonly serializer = new PrometheusSerializer(undefined, false, undefined, false, true);

  constructor(options: OtelBackendOptions) {
    this.provider = new MeterProvider({ resource: options.resource, readers: [this.reader, ...options.readers] });
    this.meter = this.provider.getMeter(options.meterName, options.meterVersion);
  }

  register(instrument: Instrument): void {
    this.instruments.set(instrument.name, instrument);
    const description = instrument.help;
    switch (instrument.type) {
      case 'counter': {
        instrument.attachSinkFactory(() => null);
        const observable = this.meter.createObservableCounter(instrument.name, { description });
        observable.addCallback((result) => reportSeries(instrument, result));
        break;
      }
      case 'gauge': {
        instrument.attachSinkFactory(() => null);
        const observable = this.meter.createObservableGauge(instrument.name, { description });
        observable.addCallback((result) => reportSeries(instrument, result));
        break;
      }
      case 'histogram': {
        const histogram = this.meter.createHistogram(instrument.name, {
          description,
          advice: { explicitBucketBoundaries: [...instrument.buckets] },
        });
        const sink: SeriesSink = { record: (value, attributes) => histogram.record(value, attributes as Attributes) };
        instrument.attachSinkFactory(() => sink);
        break;
      }
      default:
        throw new Error(`unsupported instrument type ${instrument.type}`);
    }
  }

  async render(format: ExpositionFormat): Promise<RenderedMetrics> {
    // exporter-prometheus serializes the Prometheus text format only; OpenMetrics requests
    // get text 0.0.4, which content negotiation allows.
    void format;
    const { resourceMetrics } = await this.reader.collect();
    return { contentType: PROMETHEUS_CONTENT_TYPE, body: this.serializer.serialize(this.withoutExpired(resourceMetrics)) };
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }

  /** Histogram points of series Hitch expired stay in the SDK's cumulative state: drop them here. */
  private withoutExpired(resourceMetrics: ResourceMetrics): ResourceMetrics {
    return {
      resource: resourceMetrics.resource,
      scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
        scope: scope.scope,
        metrics: scope.metrics.map((metric) => {
          const instrument = this.instruments.get(metric.descriptor.name);
          if (instrument === undefined || instrument.definition.expireAfterMs === undefined) return metric;
          return { ...metric, dataPoints: metric.dataPoints.filter((point) => instrument.isLive(point.attributes)) } as MetricData;
        }),
      })),
    };
  }
}

function reportSeries(instrument: Instrument, result: ObservableResult): void {
  instrument.runCollect();
  for (const series of instrument.series()) result.observe(series.value, series.attributes as Attributes);
}
