import type { Context, Span } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What Hitch keeps about one request, on `req` and `res` under {@link kState}. */
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

export const kState: unique symbol = Symbol('hitch.express.request');

type WithState = { [kState]?: RequestState };

export function stateOf(carrier: IncomingMessage | ServerResponse): RequestState | undefined {
  return (carrier as WithState)[kState];
}

export function attachState(state: RequestState): void {
  (state.req as WithState)[kState] = state;
  (state.res as WithState)[kState] = state;
}
