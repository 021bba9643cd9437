import type { Clock } from '../clock/clock.js';
import type { InvalidObservationReason, MetricsWarningCode } from './types.js';

/** The span context an exemplar points at. */
export interface ExemplarSpan {
  readonly traceId: string;
  readonly spanId: string;
}

/**
 * Where exemplars come from: the active sampled span, or undefined. `createHitch` wires this to
 * the OpenTelemetry context; the metrics code does not import tracing.
 */
export type ExemplarSource = () => ExemplarSpan | undefined;

/** One exemplar slot, allocated once per bucket (or counter series) and then overwritten. */
export interface ExemplarSlot {
  traceId: string;
  spanId: string;
  value: number;
  timestampMs: number;
}

/** How an instrument reports what it drops instead of throwing. */
export interface InstrumentReporter {
  overflow(metric: string, label: string): void;
  invalid(metric: string, reason: InvalidObservationReason): void;
  warn(code: MetricsWarningCode, metric: string, message: string): void;
}

/** Forwards a recorded delta or value to a backend instrument (OpenTelemetry); null for prom-client. */
export interface SeriesSink {
  record(value: number, attributes: Readonly<Record<string, string>>): void;
}

export interface InstrumentContext {
  readonly clock: Clock;
  readonly reporter: InstrumentReporter;
  readonly exemplarSource: ExemplarSource | undefined;
  readonly defaultMaxSeries: number;
}
