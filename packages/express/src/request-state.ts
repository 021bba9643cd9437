import type { Context, Span } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What Hitch keeps about one request (see {@link stateOf}). */
export interface RequestState {
  readonly span: Span;
  /** The context the rest of the chain runs in: the request's span is active in it. */
  readonly ctx: Context;
  /** Whether Hitch started the span (else it enriches one another instrumentation started). */
  readonly ownsSpan: boolean;
  /** `http.request.method`: a known method or `_OTHER`. */
  readonly method: string;
  /** Request path without the query, as received. */
  readonly path: string;
  readonly startMs: number;
  /** The route template, once known; the health and metrics routes set it up front. */
  route: string | undefined;
  /** Set once the span name and `http.route` were applied (at the first header write). */
  routeApplied: boolean;
  /** The error a handler threw or passed on, recorded once. */
  error: unknown;
  errorRecorded: boolean;
  ended: boolean;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

// A WeakMap rather than a property on `req`: Express changes the prototype of `req` and `res`,
// and adding a property to such an object took microseconds per request in profiles.
const states = new WeakMap<IncomingMessage, RequestState>();

export function stateOf(req: IncomingMessage): RequestState | undefined {
  return states.get(req);
}

export function attachState(state: RequestState): void {
  states.set(state.req, state);
}
