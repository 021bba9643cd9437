import type { Instrument, InvalidBinding } from './instrument.js';
import { isValues } from './instrument.js';
import type { ExemplarSource } from './internal-types.js';
import type { Series } from './series.js';
import { writeExemplar } from './series.js';
import type { BoundCounter } from './types.js';
import { InvalidObservationReason as Reason } from './types.js';

/** A monotonically increasing counter over a bounded series table. */
export class CounterMetric {
  private readonly instrument: Instrument;
  private readonly exemplarSource: ExemplarSource | undefined;
  private readonly now: () => number;

  constructor(instrument: Instrument, exemplarSource: ExemplarSource | undefined, now: () => number) {
    this.instrument = instrument;
    this.exemplarSource = instrument.definition.exemplars ? exemplarSource : undefined;
    this.now = now;
  }

  get name(): string {
    return this.instrument.name;
  }
  get help(): string {
    return this.instrument.help;
  }
  get type(): 'counter' {
    return 'counter';
  }
  get labelNames(): readonly string[] {
    return this.instrument.labelNames;
  }
  get seriesCount(): number {
    return this.instrument.seriesCount;
  }

  inc(labelsOrValue?: unknown, maybeValue?: number): void {
    let labels: unknown;
    let value: unknown;
    if (this.instrument.labelNames.length === 0 && typeof labelsOrValue !== 'object') {
      value = labelsOrValue;
    } else {
      labels = labelsOrValue;
      value = maybeValue;
    }
    const delta = value === undefined ? 1 : value;
    if (!this.valid(delta)) return;
    const series = this.instrument.resolve(labels);
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
    this.instrument.invalidValue(reason, delta as number);
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

  /** @internal */
  seriesFor(values: readonly string[]): Series {
    return this.instrument.seriesForValues(values);
  }

  /** @internal */
  dropBound(binding: InvalidBinding | undefined): void {
    if (binding !== undefined) this.instrument.dropBound(binding);
  }
}

class BoundCounterHandle implements BoundCounter {
  private readonly counter: CounterMetric;
  private readonly values: readonly string[];
  private readonly invalid: InvalidBinding | undefined;
  private series: Series | undefined;

  constructor(counter: CounterMetric, binding: readonly string[] | InvalidBinding) {
    this.counter = counter;
    if (isValues(binding)) {
      this.values = binding;
      this.invalid = undefined;
      this.series = counter.seriesFor(binding);
    } else {
      this.values = [];
      this.invalid = binding;
      this.series = undefined;
    }
  }

  inc(value?: number): void {
    const delta = value === undefined ? 1 : value;
    if (!this.counter.valid(delta)) return;
    let series = this.series;
    if (series === undefined) return this.counter.dropBound(this.invalid);
    if (series.detached) series = this.series = this.counter.seriesFor(this.values);
    this.counter.add(series, delta);
  }
}
