import type { Instrument, InvalidBinding } from './instrument.js';
import { isValues } from './instrument.js';
import type { ExemplarSource } from './internal-types.js';
import type { Series } from './series.js';
import { writeExemplar } from './series.js';
import type { BoundHistogram } from './types.js';
import { InvalidObservationReason as Reason } from './types.js';

/** A histogram with fixed buckets over a bounded series table, with exemplars per bucket. */
export class HistogramMetric {
  private readonly instrument: Instrument;
  private readonly exemplarSource: ExemplarSource | undefined;
  private readonly now: () => number;
  private readonly bounds: Float64Array;

  constructor(instrument: Instrument, exemplarSource: ExemplarSource | undefined, now: () => number) {
    this.instrument = instrument;
    this.exemplarSource = instrument.definition.exemplars ? exemplarSource : undefined;
    this.now = now;
    this.bounds = Float64Array.from(instrument.buckets);
  }

  get name(): string {
    return this.instrument.name;
  }
  get help(): string {
    return this.instrument.help;
  }
  get type(): 'histogram' {
    return 'histogram';
  }
  get labelNames(): readonly string[] {
    return this.instrument.labelNames;
  }
  get seriesCount(): number {
    return this.instrument.seriesCount;
  }
  get buckets(): readonly number[] {
    return this.instrument.buckets;
  }

  observe(labelsOrValue: unknown, maybeValue?: number): void {
    let labels: unknown;
    let value: unknown;
    if (this.instrument.labelNames.length === 0 && typeof labelsOrValue !== 'object') {
      value = labelsOrValue;
    } else {
      labels = labelsOrValue;
      value = maybeValue;
    }
    if (!this.valid(value)) return;
    const series = this.instrument.resolve(labels);
    if (series !== undefined) this.record(series, value);
  }

  startTimer(labels?: unknown): () => number {
    const start = this.now();
    return () => {
      const seconds = (this.now() - start) / 1000;
      this.observe(this.instrument.labelNames.length === 0 ? seconds : labels, seconds);
      return seconds;
    };
  }

  bind(labels?: unknown): BoundHistogram {
    return new BoundHistogramHandle(this, this.instrument.bindingFor(labels));
  }

  /** @internal */
  valid(value: unknown): value is number {
    if (typeof value === 'number' && Number.isFinite(value)) return true;
    const reason = typeof value !== 'number' || Number.isNaN(value) ? Reason.NotANumber : Reason.NonFinite;
    this.instrument.invalidValue(reason, value as number);
    return false;
  }

  /** @internal */
  record(series: Series, value: number): void {
    if (series.sink !== null) {
      // The OpenTelemetry SDK aggregates buckets itself: counting them here too would be paid twice.
      if (this.instrument.stamps) series.updatedAtMs = this.now();
      series.sink.record(value, series.attributes);
      return;
    }
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    // Bucket upper bounds are inclusive (`le`). Linear scan: buckets are few and branch-predictable.
    while (i < n && value > (bounds[i] as number)) i++;
    (series.counts as Float64Array)[i]! += 1;
    series.sum += value;
    series.count += 1;
    if (this.instrument.stamps) series.updatedAtMs = this.now();
    const source = this.exemplarSource;
    if (source !== undefined) {
      const span = source();
      if (span !== undefined) {
        const slots = series.bucketExemplars ?? (series.bucketExemplars = new Array<null>(n + 1).fill(null));
        slots[i] = writeExemplar(slots[i] ?? null, span.traceId, span.spanId, value, this.now());
      }
    }
  }

  /** @internal */
  seriesFor(values: readonly string[]): Series {
    return this.instrument.seriesForValues(values);
  }

  /** @internal */
  dropBound(binding: InvalidBinding | undefined): void {
    if (binding !== undefined) this.instrument.dropBound(binding);
  }

  /** @internal */
  clockNow(): number {
    return this.now();
  }
}

class BoundHistogramHandle implements BoundHistogram {
  private readonly histogram: HistogramMetric;
  private readonly values: readonly string[];
  private readonly invalid: InvalidBinding | undefined;
  private series: Series | undefined;

  constructor(histogram: HistogramMetric, binding: readonly string[] | InvalidBinding) {
    this.histogram = histogram;
    if (isValues(binding)) {
      this.values = binding;
      this.invalid = undefined;
      this.series = histogram.seriesFor(binding);
    } else {
      this.values = [];
      this.invalid = binding;
      this.series = undefined;
    }
  }

  observe(value: number): void {
    if (!this.histogram.valid(value)) return;
    let series = this.series;
    if (series === undefined) return this.histogram.dropBound(this.invalid);
    if (series.detached) series = this.series = this.histogram.seriesFor(this.values);
    this.histogram.record(series, value);
  }

  startTimer(): () => number {
    const start = this.histogram.clockNow();
    return () => {
      const seconds = (this.histogram.clockNow() - start) / 1000;
      this.observe(seconds);
      return seconds;
    };
  }
}
