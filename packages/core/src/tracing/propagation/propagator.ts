import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { HitchBaggagePropagator } from './baggage-propagator.js';
import { HitchTraceContextPropagator } from './trace-context-propagator.js';

/**
 * W3C Trace Context Level 2 and W3C Baggage in one OpenTelemetry
 * `TextMapPropagator`, for `propagation.setGlobalPropagator(new HitchPropagator())`.
 * The two formats are independent: an invalid `traceparent` does not stop
 * `baggage` from being read, nor the other way round.
 */
export class HitchPropagator implements TextMapPropagator<unknown> {
  private readonly traceContext = new HitchTraceContextPropagator();
  private readonly baggage = new HitchBaggagePropagator();

  /** Writes `traceparent`, `tracestate` and `baggage` for `context`. */
  inject(context: Context, carrier: unknown, setter: TextMapSetter<unknown>): void {
    this.traceContext.inject(context, carrier, setter);
    this.baggage.inject(context, carrier, setter);
  }

  /** Reads `traceparent`, `tracestate` and `baggage` into a new context. */
  extract(context: Context, carrier: unknown, getter: TextMapGetter<unknown>): Context {
    return this.baggage.extract(this.traceContext.extract(context, carrier, getter), carrier, getter);
  }

  /** The headers this propagator reads and writes. */
  fields(): string[] {
    return ['traceparent', 'tracestate', 'baggage'];
  }
}
