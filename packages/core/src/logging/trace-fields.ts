import { context, isSpanContextValid, trace } from '@opentelemetry/api';

/** `trace_flags` as OpenTelemetry's pino instrumentation writes it: two lowercase hex digits, e.g. `'01'`. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Returned outside a valid span; recognized by {@link mergeTraceFields}, never written to. */
const NO_TRACE: object = Object.freeze({});

/**
 * pino `mixin`: `trace_id`, `span_id` and `trace_flags` of the active span, sampled or not. Outside a span
 * (or with an invalid span context) it returns a shared empty object: no allocation.
 */
export function traceFields(): object {
  const span = trace.getSpan(context.active());
  if (span === undefined) return NO_TRACE;
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return NO_TRACE;
  return {
    trace_id: spanContext.traceId,
    span_id: spanContext.spanId,
    trace_flags: HEX_BYTE[spanContext.traceFlags & 0xff],
  };
}

/**
 * pino `mixinMergeStrategy`. Outside a span the logged object is used as is (pino's default would copy it
 * into the mixin object); inside one the logged object's own keys are copied over the trace fields, as pino's
 * default does, so an explicitly logged `trace_id` wins.
 */
export function mergeTraceFields(mergeObject: object, mixinObject: object): object {
  return mixinObject === NO_TRACE ? mergeObject : Object.assign(mixinObject, mergeObject);
}
