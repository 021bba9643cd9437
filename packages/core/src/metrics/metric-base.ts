import type { MetricType } from '../naming/index.js';
import type { Instrument, InvalidBinding } from './instrument.js';
import { isValues } from './instrument.js';
import type { Series } from './series.js';

/** What every metric shares: its instrument (the bounded series table) and the clock. */
export abstract class MetricBase {
  protected readonly instrument: Instrument;
  protected readonly now: () => number;

  constructor(instrument: Instrument, now: () => number) {
    this.instrument = instrument;
    this.now = now;
  }

  abstract get type(): MetricType;

  get name(): string {
    return this.instrument.name;
  }
  get help(): string {
    return this.instrument.help;
  }
  get labelNames(): readonly string[] {
    return this.instrument.labelNames;
  }
  get seriesCount(): number {
    return this.instrument.seriesCount;
  }

  /** @internal */
  seriesFor(values: readonly string[]): Series {
    return this.instrument.seriesForValues(values);
  }

  /** @internal */
  dropBound(binding: InvalidBinding): void {
    this.instrument.dropBound(binding);
  }

  /** True when the first argument of a write is its value (the metric declares no labels). */
  protected valueFirst(first: unknown): boolean {
    return this.instrument.labelNames.length === 0 && typeof first !== 'object';
  }
}

/**
 * The series a bound handle writes to: resolved once at `bind()`, re-attached when it expired,
 * or — when `bind()` got invalid labels — nothing, with every write counted as dropped.
 */
export abstract class BoundSeries<M extends MetricBase> {
  protected readonly metric: M;
  private readonly values: readonly string[];
  private readonly invalid: InvalidBinding | undefined;
  private series: Series | undefined;

  constructor(metric: M, binding: readonly string[] | InvalidBinding) {
    this.metric = metric;
    if (isValues(binding)) {
      this.values = binding;
      this.invalid = undefined;
      this.series = metric.seriesFor(binding);
    } else {
      this.values = [];
      this.invalid = binding;
      this.series = undefined;
    }
  }

  protected current(): Series | undefined {
    const series = this.series;
    if (series === undefined) {
      this.metric.dropBound(this.invalid as InvalidBinding);
      return undefined;
    }
    if (!series.detached) return series;
    return (this.series = this.metric.seriesFor(this.values));
  }
}
