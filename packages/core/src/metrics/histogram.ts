import type { Instrument } from './instrument.js';
import type { ExemplarSource } from './internal-types.js';
import { BoundSeries, MetricBase } from './metric-base.js';
import type { Series } from './series.js';
import { writeExemplar } from './series.js';
import type { BoundHistogram } from './types.js';
import { InvalidObservationReason as Reason } from './types.js';

/** A histogram with fixed buckets over a bounded series table, with exemplars per bucket. */
export class HistogramMetric extends MetricBase {
  private readonly exemplarSource: ExemplarSource | undefined;
  private readonly bounds: Float64Array;

  constructor(instrument: Instrument, exemplarSource: ExemplarSource | undefined, now: () => number) {
    super(instrument, now);
    this.exemplarSource = instrument.definition.exemplars ? exemplarSource : undefined;
    this.bounds = Float64Array.from(instrument.buckets);
  }

  get type(): 'histogram' {
    return 'histogram';
  }

  get buckets(): readonly number[] {
    return this.instrument.buckets;
  }

  observe(labelsOrValue: unknown, maybeValue?: number): void {
    const valueFirst = this.valueFirst(labelsOrValue);
    const value = valueFirst ? labelsOrValue : maybeValue;
    if (!this.valid(value)) return;
    const series = this.instrument.resolve(valueFirst ? undefined : labelsOrValue);
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
    this.instrument.invalidValue(reason, value);
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
  clockNow(): number {
    return this.now();
  }
}

class BoundHistogramHandle extends BoundSeries<HistogramMetric> implements BoundHistogram {
  observe(value: number): void {
    if (!this.metric.valid(value)) return;
    const series = this.current();
    if (series !== undefined) this.metric.record(series, value);
  }

  startTimer(): () => number {
    const start = this.metric.clockNow();
    return () => {
      const seconds = (this.metric.clockNow() - start) / 1000;
      this.observe(seconds);
      return seconds;
    };
  }
}
