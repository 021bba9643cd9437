import type { Instrument } from './instrument.js';
import type { ExemplarSource } from './internal-types.js';
import { BoundSeries, MetricBase } from './metric-base.js';
import type { Series } from './series.js';
import { writeExemplar } from './series.js';
import type { BoundCounter } from './types.js';
import { InvalidObservationReason as Reason } from './types.js';

/** A monotonically increasing counter over a bounded series table. */
export class CounterMetric extends MetricBase {
  private readonly exemplarSource: ExemplarSource | undefined;

  constructor(instrument: Instrument, exemplarSource: ExemplarSource | undefined, now: () => number) {
    super(instrument, now);
    this.exemplarSource = instrument.definition.exemplars ? exemplarSource : undefined;
  }

  get type(): 'counter' {
    return 'counter';
  }

  inc(labelsOrValue?: unknown, maybeValue?: number): void {
    const valueFirst = this.valueFirst(labelsOrValue);
    const value = valueFirst ? labelsOrValue : maybeValue;
    const delta = value === undefined ? 1 : value;
    if (!this.valid(delta)) return;
    const series = this.instrument.resolve(valueFirst ? undefined : labelsOrValue);
    if (series !== undefined) this.add(series, delta);
  }

  bind(labels?: unknown): BoundCounter {
    return new BoundCounterHandle(this, this.instrument.bindingFor(labels));
  }

  /** @internal */
  valid(delta: unknown): delta is number {
    if (typeof delta === 'number' && delta >= 0 && delta !== Infinity) return true;
    const reason =
      typeof delta !== 'number' || Number.isNaN(delta) ? Reason.NotANumber : delta < 0 ? Reason.Negative : Reason.NonFinite;
    this.instrument.invalidValue(reason, delta);
    return false;
  }

  /** @internal */
  add(series: Series, delta: number): void {
    series.value += delta;
    if (this.instrument.stamps) series.updatedAtMs = this.now();
    const source = this.exemplarSource;
    if (source !== undefined) {
      const span = source();
      if (span !== undefined) series.exemplar = writeExemplar(series.exemplar, span.traceId, span.spanId, delta, this.now());
    }
    if (series.sink !== null) series.sink.record(delta, series.attributes);
  }
}

class BoundCounterHandle extends BoundSeries<CounterMetric> implements BoundCounter {
  inc(value?: number): void {
    const delta = value === undefined ? 1 : value;
    if (!this.metric.valid(delta)) return;
    const series = this.current();
    if (series !== undefined) this.metric.add(series, delta);
  }
}
