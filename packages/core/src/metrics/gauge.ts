import type { Instrument } from './instrument.js';
import { BoundSeries, MetricBase } from './metric-base.js';
import type { Series } from './series.js';
import type { BoundGauge } from './types.js';
import { InvalidObservationReason as Reason } from './types.js';

/** A value that goes up and down, over a bounded series table. */
export class GaugeMetric extends MetricBase {
  constructor(instrument: Instrument, now: () => number) {
    super(instrument, now);
  }

  get type(): 'gauge' {
    return 'gauge';
  }

  set(labelsOrValue: unknown, maybeValue?: number): void {
    this.write(labelsOrValue, maybeValue, false, 0);
  }

  inc(labelsOrValue?: unknown, maybeValue?: number): void {
    this.write(labelsOrValue, maybeValue, true, 1);
  }

  dec(labelsOrValue?: unknown, maybeValue?: number): void {
    this.write(labelsOrValue, maybeValue, true, -1);
  }

  bind(labels?: unknown): BoundGauge {
    return new BoundGaugeHandle(this, this.instrument.bindingFor(labels));
  }

  private write(labelsOrValue: unknown, maybeValue: number | undefined, relative: boolean, sign: number): void {
    const valueFirst = this.valueFirst(labelsOrValue);
    let value = valueFirst ? labelsOrValue : maybeValue;
    if (relative && value === undefined) value = 1;
    if (!this.valid(value)) return;
    const series = this.instrument.resolve(valueFirst ? undefined : labelsOrValue);
    if (series !== undefined) this.apply(series, relative ? series.value + sign * value : value);
  }

  /** @internal */
  valid(value: unknown): value is number {
    if (typeof value === 'number' && !Number.isNaN(value)) return true;
    this.instrument.invalidValue(Reason.NotANumber, value);
    return false;
  }

  /** @internal */
  apply(series: Series, value: number): void {
    series.value = value;
    if (this.instrument.stamps) series.updatedAtMs = this.now();
    if (series.sink !== null) series.sink.record(value, series.attributes);
  }
}

class BoundGaugeHandle extends BoundSeries<GaugeMetric> implements BoundGauge {
  set(value: number): void {
    if (!this.metric.valid(value)) return;
    const series = this.current();
    if (series !== undefined) this.metric.apply(series, value);
  }

  inc(value = 1): void {
    if (!this.metric.valid(value)) return;
    const series = this.current();
    if (series !== undefined) this.metric.apply(series, series.value + value);
  }

  dec(value = 1): void {
    if (!this.metric.valid(value)) return;
    const series = this.current();
    if (series !== undefined) this.metric.apply(series, series.value - value);
  }
}
