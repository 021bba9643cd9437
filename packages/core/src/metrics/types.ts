import type { MetricType } from '../naming/index.js';

/** A label value as passed on the hot path. Numbers and booleans are converted with `String()`. */
export type LabelValue = string | number | boolean;

/**
 * How a label is bounded. Every label is declared with exactly one of:
 * - `values`: an allow-list; any other value is recorded as `__overflow__`.
 * - `maxValues`: at most this many distinct values live at once; later new values are
 *   recorded as `__overflow__` until series holding earlier ones expire.
 */
export type LabelDeclaration = { readonly values: readonly string[] } | { readonly maxValues: number };

/** Label declarations by label name. */
export type LabelDeclarations = Readonly<Record<string, LabelDeclaration>>;

/** The label values of one observation: every declared label, nothing else. */
export type LabelValues<L extends string> = { readonly [K in L]: LabelValue };

interface BaseMetricOptions<L extends string> {
  /** Metric name, checked by `@hitch/core/naming` (snake_case, base units, `_total` on counters only, ...). */
  readonly name: string;
  /** One line saying what is measured. Required. */
  readonly help: string;
  /** Every label the metric has, each bounded. Defaults to no labels. */
  readonly labels?: { readonly [K in L]: LabelDeclaration };
  /**
   * Hard limit on the number of series (label combinations) of this metric; beyond it new
   * combinations are recorded in one series whose labels are all `__overflow__`.
   * Defaults to `metrics.maxSeriesPerMetric` (2000).
   */
  readonly maxSeries?: number;
  /**
   * Drop a series that has not been updated for this long, releasing its label values.
   * Defaults to never.
   */
  readonly expireAfterMs?: number;
}

export interface CounterOptions<L extends string = never> extends BaseMetricOptions<L> {
  /**
   * Attach the active sampled span as an exemplar to increments. Costs one context lookup per
   * `inc`, so it is off by default for counters. Defaults to `false`.
   */
  readonly exemplars?: boolean;
  /**
   * Called before every collection (scrape or export): increment the counter there by what
   * happened since the last call (e.g. CPU time). Defaults to none.
   */
  readonly collect?: () => void;
}

export interface GaugeOptions<L extends string = never> extends BaseMetricOptions<L> {
  /** Called before every collection (scrape or export) to refresh the gauge's values. */
  readonly collect?: () => void;
}

export interface HistogramOptions<L extends string = never> extends BaseMetricOptions<L> {
  /**
   * Upper bounds, ascending and finite (`+Inf` is implicit). Must fit the unit in the name:
   * a `_seconds` histogram takes seconds. Use a preset from `buckets`.
   * Defaults to `buckets.httpLatencySeconds` for `_seconds` histograms and `buckets.bytes`
   * for `_bytes` histograms; other units must set buckets.
   */
  readonly buckets?: readonly number[];
  /** Attach the active sampled span (trace_id, span_id) as an exemplar. Defaults to `true`. */
  readonly exemplars?: boolean;
}

/** A counter whose label values are bound once: `inc` does no label lookup. */
export interface BoundCounter {
  /** Adds `value` (default 1). NaN, negative and infinite values are dropped and counted. */
  inc(value?: number): void;
}

export interface BoundGauge {
  set(value: number): void;
  inc(value?: number): void;
  dec(value?: number): void;
}

export interface BoundHistogram {
  observe(value: number): void;
  /** Starts a timer; calling the returned function observes the elapsed seconds and returns them. */
  startTimer(): () => number;
}

interface MetricBase {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Number of live series. */
  readonly seriesCount: number;
}

/** A counter. `[L] extends [never]` picks the label-less overloads. */
export interface Counter<L extends string = never> extends MetricBase {
  inc(...args: [L] extends [never] ? [value?: number] : [labels: LabelValues<L>, value?: number]): void;
  bind(...args: [L] extends [never] ? [] : [labels: LabelValues<L>]): BoundCounter;
}

export interface Gauge<L extends string = never> extends MetricBase {
  set(...args: [L] extends [never] ? [value: number] : [labels: LabelValues<L>, value: number]): void;
  inc(...args: [L] extends [never] ? [value?: number] : [labels: LabelValues<L>, value?: number]): void;
  dec(...args: [L] extends [never] ? [value?: number] : [labels: LabelValues<L>, value?: number]): void;
  bind(...args: [L] extends [never] ? [] : [labels: LabelValues<L>]): BoundGauge;
}

export interface Histogram<L extends string = never> extends MetricBase {
  readonly buckets: readonly number[];
  observe(...args: [L] extends [never] ? [value: number] : [labels: LabelValues<L>, value: number]): void;
  startTimer(...args: [L] extends [never] ? [] : [labels: LabelValues<L>]): () => number;
  bind(...args: [L] extends [never] ? [] : [labels: LabelValues<L>]): BoundHistogram;
}

/** The result of {@link MetricsRegistry.render}: ready to send as an HTTP response. */
export interface RenderedMetrics {
  readonly contentType: string;
  readonly body: string;
}

/** A warning Hitch raises once per metric and kind instead of throwing on the hot path. */
export interface MetricsWarning {
  /** Stable code, e.g. `HITCH_METRIC_LABEL_OVERFLOW`. */
  readonly code: MetricsWarningCode;
  readonly metric: string;
  readonly message: string;
}

export const MetricsWarningCode = {
  LabelOverflow: 'HITCH_METRIC_LABEL_OVERFLOW',
  SeriesOverflow: 'HITCH_METRIC_SERIES_OVERFLOW',
  InvalidObservation: 'HITCH_METRIC_INVALID_OBSERVATION',
  CollectFailed: 'HITCH_METRIC_COLLECT_FAILED',
} as const;
export type MetricsWarningCode = (typeof MetricsWarningCode)[keyof typeof MetricsWarningCode];

/** Reasons an observation is dropped, the `reason` label of `hitch_metric_invalid_observations_total`. */
export const InvalidObservationReason = {
  MissingLabel: 'missing_label',
  UnknownLabel: 'unknown_label',
  InvalidLabelValue: 'invalid_label_value',
  NotANumber: 'nan',
  Negative: 'negative',
  NonFinite: 'non_finite',
} as const;
export type InvalidObservationReason = (typeof InvalidObservationReason)[keyof typeof InvalidObservationReason];
