/**
 * W3C propagation: Trace Context Level 2 (`traceparent`, `tracestate`) and
 * Baggage, as OpenTelemetry `TextMapPropagator`s and as standalone parsers.
 */
export { HitchPropagator } from './propagator.js';
export { HITCH_TRACE_RANDOM_KEY, HitchTraceContextPropagator } from './trace-context-propagator.js';
export type { TraceRandomFlag } from './trace-context-propagator.js';
export { HitchBaggagePropagator } from './baggage-propagator.js';
export {
  TRACE_FLAG_RANDOM,
  TRACE_FLAG_SAMPLED,
  TRACE_FLAGS_DEFINED,
  formatTraceparent,
  parseTraceparent,
} from './traceparent.js';
export type { TraceparentFields, TraceparentOutput } from './traceparent.js';
export {
  HitchTraceState,
  TRACESTATE_MAX_MEMBERS,
  isValidTracestateKey,
  isValidTracestateValue,
  parseTracestate,
  serializeTracestate,
  tracestateHeaderOf,
} from './tracestate.js';
export type { TracestateMember } from './tracestate.js';
export {
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  decodeBaggageValue,
  encodeBaggageValue,
  isBaggageKey,
  parseBaggage,
  parseBaggageProperties,
  serializeBaggage,
  serializeBaggageProperties,
} from './baggage.js';
export type { BaggageMember, BaggageProperty } from './baggage.js';
