import type { Context, TextMapGetter } from '@opentelemetry/api';
import { context as contextApi, propagation } from '@opentelemetry/api';

/** Reads only string values: a carrier arrives from another thread and is not trusted to be well-formed. */
const carrierGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = Object.prototype.hasOwnProperty.call(carrier, key) ? carrier[key] : undefined;
    return typeof value === 'string' ? value : undefined;
  },
};

/**
 * Serializes `ctx` (defaults to the active context) into a plain object with the global
 * propagator (W3C `traceparent`/`tracestate`, and baggage when configured), to send with a
 * `worker_threads` message, a job record or anything else that crosses a thread or process:
 * `worker.postMessage({ carrier: injectContext(), payload })`. Empty when no span is active or no
 * propagator is registered.
 */
export function injectContext(ctx: Context = contextApi.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/**
 * Runs `fn` in the context extracted from `carrier` (made by {@link injectContext}) on top of the
 * active one, so that spans started inside continue the sender's trace. With no carrier, or one
 * that is not an object, `fn` simply runs in the active context. Returns what `fn` returns.
 */
export function runWithExtractedContext<T>(carrier: Record<string, string> | undefined, fn: () => T): T {
  const active = contextApi.active();
  if (typeof carrier !== 'object' || carrier === null) return contextApi.with(active, fn);
  return contextApi.with(propagation.extract(active, carrier as Record<string, unknown>, carrierGetter), fn);
}
