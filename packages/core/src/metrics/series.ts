import type { ExemplarSlot, SeriesSink } from './internal-types.js';

/**
 * One label combination of one metric. Counters and gauges use `value`; histograms use
 * `counts` (per bucket, not cumulative; the last slot is `+Inf`), `sum` and `count`.
 * Fields are mutated in place: a write allocates nothing, except the boxed numbers of an
 * exemplar (value, time) when it happens inside a sampled span.
 */
export class Series {
  value = 0;
  sum = 0;
  count = 0;
  readonly counts: Float64Array | null;
  /** Exemplar of a counter series, allocated on first use. */
  exemplar: ExemplarSlot | null = null;
  /** Exemplars of a histogram series, one per bucket, allocated on first use. */
  bucketExemplars: (ExemplarSlot | null)[] | null = null;
  updatedAtMs = 0;
  /** Set when the series expired and was removed; bound handles then re-resolve. */
  detached = false;
  /** Final label values in declared order (overflow already applied). */
  readonly path: readonly string[];
  /** The label set as exposed, default labels excluded. */
  readonly labels: Readonly<Record<string, string>>;
  /** OpenTelemetry attributes: labels plus default labels. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly sink: SeriesSink | null;

  constructor(
    path: readonly string[],
    labels: Readonly<Record<string, string>>,
    attributes: Readonly<Record<string, string>>,
    bucketCount: number,
    sink: SeriesSink | null,
  ) {
    this.path = path;
    this.labels = labels;
    this.attributes = attributes;
    this.counts = bucketCount > 0 ? new Float64Array(bucketCount + 1) : null;
    this.sink = sink;
  }
}

export function writeExemplar(
  slot: ExemplarSlot | null,
  traceId: string,
  spanId: string,
  value: number,
  timestampMs: number,
): ExemplarSlot {
  if (slot === null) return { traceId, spanId, value, timestampMs };
  slot.traceId = traceId;
  slot.spanId = spanId;
  slot.value = value;
  slot.timestampMs = timestampMs;
  return slot;
}
