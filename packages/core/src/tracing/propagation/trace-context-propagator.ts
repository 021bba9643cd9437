import type {
  Context,
  SpanContext,
  TextMapGetter,
  TextMapPropagator,
  TextMapSetter,
} from '@opentelemetry/api';
import { createContextKey, isSpanContextValid, trace } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import {
  TRACE_FLAG_RANDOM,
  TRACE_FLAG_SAMPLED,
  TRACE_FLAGS_DEFINED,
  parseTraceparent,
  writeTraceparent,
} from './traceparent.js';
import { HitchTraceState, tracestateHeaderOf } from './tracestate.js';

/** Header names, lowercase as the spec asks senders to write them. */
const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';

/**
 * What extract learned about the random-trace-id flag of a received trace id.
 * Stored under {@link HITCH_TRACE_RANDOM_KEY}.
 */
export interface TraceRandomFlag {
  /** The trace id the flag was received with. */
  readonly traceId: string;
  /** Whether the received `traceparent` had the random-trace-id flag set. */
  readonly random: boolean;
}

/**
 * Context key under which {@link HitchTraceContextPropagator.extract} records the
 * received random-trace-id flag, so that inject can repeat it for child spans: the
 * OpenTelemetry SDK gives child spans only the sampled flag, and Level 2 requires
 * the flag be kept for the trace id it came with (#random-trace-id-flag).
 */
export const HITCH_TRACE_RANDOM_KEY: symbol = createContextKey('hitch.trace.random');

/**
 * W3C Trace Context Level 2 (`traceparent`, `tracestate`) as an OpenTelemetry
 * `TextMapPropagator`: `propagation.setGlobalPropagator(new HitchTraceContextPropagator())`.
 *
 * Extract:
 * - an invalid `traceparent` (or more than one) leaves the context unchanged, so a
 *   new trace starts, and `tracestate` is not read (#tracestate-header: "If the
 *   vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate");
 * - an invalid `tracestate` is dropped whole and the `traceparent` kept ("failure
 *   to parse tracestate MUST NOT affect the parsing of traceparent");
 * - the remote span context carries the sampled and random-trace-id flags as
 *   received; other bits are reserved and not propagated (#other-flags).
 *
 * Inject writes version `00` from the context's span context, with the
 * random-trace-id flag decided as {@link HitchTraceContextPropagator.inject} says.
 */
export class HitchTraceContextPropagator implements TextMapPropagator<unknown> {
  /**
   * Writes `traceparent` (and `tracestate` when non-empty) for the span context in
   * `context`. Nothing is written when there is none, when it is invalid, or when
   * tracing is suppressed (OpenTelemetry exporters suppress their own requests).
   *
   * Random-trace-id flag (#random-trace-id-flag):
   * 1. set when the span context's flags have it;
   * 2. otherwise, when extract recorded a flag for this same trace id, that flag:
   *    "If the flag is unset in the incoming traceparent header, it MUST also be
   *    unset in any outgoing traceparent headers which use the same trace-id";
   * 3. otherwise, for a local span context, set: the trace id was generated here
   *    by the SDK's random id generator, and "when at least the right-most 7 bytes
   *    of the trace-id are randomly (or pseudo-randomly) generated, the
   *    random-trace-id flag SHOULD be set";
   * 4. otherwise (a remote span context another propagator extracted) unset: we
   *    cannot vouch for an id we neither generated nor received with the flag.
   */
  inject(context: Context, carrier: unknown, setter: TextMapSetter<unknown>): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext === undefined || !isSpanContextValid(spanContext) || isTracingSuppressed(context)) {
      return;
    }
    const traceFlags = (spanContext.traceFlags & TRACE_FLAG_SAMPLED) | randomFlagFor(context, spanContext);
    setter.set(carrier, TRACEPARENT, writeTraceparent(spanContext.traceId, spanContext.spanId, traceFlags));
    if (spanContext.traceState !== undefined) {
      const tracestate = tracestateHeaderOf(spanContext.traceState);
      if (tracestate.length > 0) setter.set(carrier, TRACESTATE, tracestate);
    }
  }

  /**
   * Reads `traceparent` and `tracestate` into a remote span context set on the
   * returned context, with the received random-trace-id flag recorded under
   * {@link HITCH_TRACE_RANDOM_KEY}. Returns `context` unchanged when there is no
   * valid `traceparent`. Several `tracestate` values (an array) are one list.
   */
  extract(context: Context, carrier: unknown, getter: TextMapGetter<unknown>): Context {
    const traceparent = singleValue(getter.get(carrier, TRACEPARENT));
    if (traceparent === undefined) return context;
    const fields = parseTraceparent(traceparent);
    if (fields === undefined) return context;

    const traceFlags = fields.traceFlags & TRACE_FLAGS_DEFINED;
    const spanContext: SpanContext = {
      traceId: fields.traceId,
      spanId: fields.parentId,
      traceFlags,
      isRemote: true,
    };
    const tracestate = getter.get(carrier, TRACESTATE);
    if (tracestate !== undefined) {
      const traceState = HitchTraceState.fromHeader(tracestate);
      if (traceState !== undefined && traceState.size > 0) spanContext.traceState = traceState;
    }
    const withSpan = trace.setSpanContext(context, spanContext);
    // Only a received 0 needs remembering: a child span of this trace is local, and inject sets
    // the flag for local span contexts anyway, so a received 1 comes out the same without the
    // extra context copy.
    if ((traceFlags & TRACE_FLAG_RANDOM) !== 0) return withSpan;
    const randomFlag: TraceRandomFlag = { traceId: fields.traceId, random: false };
    return withSpan.setValue(HITCH_TRACE_RANDOM_KEY, randomFlag);
  }

  /** The headers this propagator reads and writes. */
  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}

/**
 * The header value when the getter found exactly one; `undefined` when it found
 * none, or several: "a traceparent with more than one value is invalid" (the test
 * suite's `test_traceparent_duplicated` expects a restart).
 */
function singleValue(value: string | string[] | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length === 1) {
    const only: unknown = value[0];
    return typeof only === 'string' ? only : undefined;
  }
  return undefined;
}

function randomFlagFor(context: Context, spanContext: SpanContext): number {
  if ((spanContext.traceFlags & TRACE_FLAG_RANDOM) !== 0) return TRACE_FLAG_RANDOM;
  const recorded = context.getValue(HITCH_TRACE_RANDOM_KEY);
  if (isTraceRandomFlag(recorded) && recorded.traceId === spanContext.traceId) {
    return recorded.random ? TRACE_FLAG_RANDOM : 0;
  }
  return spanContext.isRemote === true ? 0 : TRACE_FLAG_RANDOM;
}

function isTraceRandomFlag(value: unknown): value is TraceRandomFlag {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof TraceRandomFlag, unknown>>;
  return typeof candidate.traceId === 'string' && typeof candidate.random === 'boolean';
}
