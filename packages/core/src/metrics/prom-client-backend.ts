import type { OpenMetricsContentType } from 'prom-client';
import { Registry } from 'prom-client';
import type { Instrument } from './instrument.js';
import type { MetricsBackend } from './backend.js';
import type { ExpositionFormat } from './content-negotiation.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './content-negotiation.js';
import type { ExemplarSlot } from './internal-types.js';
import type { RenderedMetrics } from './types.js';

interface PromSample {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number };
}

/**
 * Hitch keeps the series (bounded, allocation-free writes); prom-client's `Registry` renders
 * them. Each Hitch metric is registered as a collector in two registries, one per format,
 * because prom-client's format is a property of the registry.
 */
export class PromClientBackend implements MetricsBackend {
  readonly kind = 'prom-client';
  readonly supportsExemplars = true;
  private readonly text: Registry;
  private readonly openMetrics: Registry<OpenMetricsContentType>;

  constructor(defaultLabels: Readonly<Record<string, string>>) {
    this.text = new Registry();
    this.openMetrics = new Registry<OpenMetricsContentType>();
    this.openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    if (Object.keys(defaultLabels).length > 0) {
      this.text.setDefaultLabels({ ...defaultLabels });
      this.openMetrics.setDefaultLabels({ ...defaultLabels });
    }
  }

  /** The prom-client registry behind the Prometheus text format. */
  get registry(): Registry {
    return this.text;
  }

  register(instrument: Instrument): void {
    // Series forward nothing: the Hitch series is the storage.
    instrument.attachSinkFactory(() => null);
    this.text.registerMetric(new PromCollector(instrument, false) as never);
    this.openMetrics.registerMetric(new PromCollector(instrument, true) as never);
  }

  async render(format: ExpositionFormat): Promise<RenderedMetrics> {
    if (format === 'openmetrics') return { contentType: OPENMETRICS_CONTENT_TYPE, body: await this.openMetrics.metrics() };
    return { contentType: PROMETHEUS_CONTENT_TYPE, body: await this.text.metrics() };
  }

  async shutdown(): Promise<void> {
    this.text.clear();
    this.openMetrics.clear();
  }
}

/** The duck-typed metric prom-client's Registry renders: `name`, `help`, `type`, `get()`. */
class PromCollector {
  /** Mutable on purpose: prom-client's OpenMetrics registry strips `_total` from counter names. */
  name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator = 'sum';
  private readonly instrument: Instrument;
  private readonly withExemplars: boolean;

  constructor(instrument: Instrument, withExemplars: boolean) {
    this.instrument = instrument;
    this.name = instrument.name;
    this.help = instrument.help;
    this.type = instrument.type;
    this.withExemplars = withExemplars;
  }

  get(): { name: string; help: string; type: string; values: PromSample[]; aggregator: string } {
    const instrument = this.instrument;
    instrument.runCollect();
    const values: PromSample[] = [];
    if (instrument.type === 'histogram') {
      const bounds = instrument.buckets;
      const base = instrument.name;
      for (const series of instrument.series()) {
        const counts = series.counts as Float64Array;
        const slots = this.withExemplars ? series.bucketExemplars : null;
        let cumulative = 0;
        for (let i = 0; i <= bounds.length; i++) {
          cumulative += counts[i] as number;
          const sample: PromSample = {
            labels: { ...series.labels, le: i < bounds.length ? formatBound(bounds[i] as number) : '+Inf' },
            value: cumulative,
            metricName: `${base}_bucket`,
          };
          const slot = slots?.[i];
          if (slot) sample.exemplar = toExemplar(slot);
          values.push(sample);
        }
        values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${base}_sum` });
        values.push({ labels: { ...series.labels }, value: series.count, metricName: `${base}_count` });
      }
    } else {
      for (const series of instrument.series()) {
        const sample: PromSample = { labels: { ...series.labels }, value: series.value };
        if (this.withExemplars && series.exemplar !== null) sample.exemplar = toExemplar(series.exemplar);
        values.push(sample);
      }
      // A label-less metric is exposed at 0 before its first write, as prom-client does.
      if (values.length === 0 && instrument.labelNames.length === 0) values.push({ labels: {}, value: 0 });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.instrument.clear();
  }
}

function toExemplar(slot: ExemplarSlot): NonNullable<PromSample['exemplar']> {
  return {
    labelSet: { trace_id: slot.traceId, span_id: slot.spanId },
    value: slot.value,
    // OpenMetrics exemplar timestamps are seconds since the epoch.
    timestamp: slot.timestampMs / 1000,
  };
}

function formatBound(bound: number): string {
  return String(bound);
}
