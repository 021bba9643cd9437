import type { Instrument, InvalidBinding } from './instrument.js';
import { isValues } from './instrument.js';
import type { Series } from './series.js';
import type { BoundGauge } from './types.js';
import { InvalidObservationReason as Reason } from './types.js';

/** A value that goes up and down, over a bounded series table. */
export class GaugeMetric {
  private readonly instrument: Instrument;
  private readonly now: () => number;

  constructor(instrument: Instrument, now: () => number) {
    this.instrument = instrument;
    this.now = now;
  }

  get name(): string {
    return this.instrument.name;
  }
  get help(): string {
    return this.instrument.help;
  }
  get type(): 'gauge' {
    return 'gauge';
  }
  get labelNames(): readonly string[] {
    return this.instrument.labelNames;
  }
  get seriesCount(): number {
    return this.instrument.seriesCount;
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
    let labels: unknown;
    let value: unknown;
    if (this.instrument.labelNames.length === 0 && typeof labelsOrValue !== 'object') {
      value = labelsOrValue;
    } else {
      labels = labelsOrValue;
      value = maybeValue;
    }
    if (relative && value === undefined) value = 1;
    if (!this.valid(value)) return;
    const series = this.instrument.resolve(labels);
    if (series !== undefined) this.apply(series, relative ? series.value + sign * value : value);
  }

  /** @internal */
  valid(value: unknown): value is number {
    if (typeof value === 'number' && !Number.isNaN(value)) return true;
    this.instrument.invalidValue(Reason.NotANumber, value as number);
    return false;
  }

  /** @internal */
  apply(series: Series, value: number): void {
    series.value = value;
    if (this.instrument.stamps) series.updatedAtMs = this.now();
    if (series.sink !== null) series.sink.record(value, series.attributes);
  }

  /** @internal */
  seriesFor(values: readonly string[]): Series {
    return this.instrument.seriesForValues(values);
  }

  /** @internal */
  dropBound(binding: InvalidBinding | undefined): void {
    if (binding !== undefined) this.instrument.dropBound(binding);
  }
}

class BoundGaugeHandle implements BoundGauge {
  private readonly gauge: GaugeMetric;
  private readonly values: readonly string[];
  private readonly invalid: InvalidBinding | undefined;
  private series: Series | undefined;

  constructor(gauge: GaugeMetric, binding: readonly string[] | InvalidBinding) {
    this.gauge = gauge;
    if (isValues(binding)) {
      this.values = binding;
      this.invalid = undefined;
      this.series = gauge.seriesFor(binding);
    } else {
      this.values = [];
      this.invalid = binding;
      this.series = undefined;
    }
  }

  set(value: number): void {
    if (!this.gauge.valid(value)) return;
    const series = this.current();
    if (series !== undefined) this.gauge.apply(series, value);
  }

  inc(value = 1): void {
    if (!this.gauge.valid(value)) return;
    const series = this.current();
    if (series !== undefined) this.gauge.apply(series, series.value + value);
  }

  dec(value = 1): void {
    if (!this.gauge.valid(value)) return;
    const series = this.current();
    if (series !== undefined) this.gauge.apply(series, series.value - value);
  }

  private current(): Series | undefined {
    const series = this.series;
    if (series === undefined) {
      this.gauge.dropBound(this.invalid);
      return undefined;
    }
    if (!series.detached) return series;
    return (this.series = this.gauge.seriesFor(this.values));
  }
}
