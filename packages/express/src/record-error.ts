import { SpanStatusCode } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import { answerFor } from './error-status.js';
import { stateOf } from './request-state.js';

/** The name of an error's class, for `error.type` (low cardinality, unlike messages). */
function errorType(error: unknown): string {
  if (error instanceof Error) return error.name === 'Error' ? (error.constructor?.name ?? 'Error') : error.name;
  return '_OTHER';
}

/**
 * Records an error a handler threw or passed to `next` on the request's span, once: an
 * exception event and ERROR status when it answers 5xx (server-span rules: a 4xx is the
 * client's, not the server's failure).
 */
export function recordRequestError(req: IncomingMessage, error: unknown): void {
  const state = stateOf(req);
  if (state === undefined || state.errorRecorded) return;
  state.error = error;
  if (answerFor(error).status < 500) return;
  state.errorRecorded = true;
  const span = state.span;
  span.recordException(error instanceof Error ? error : String(error));
  span.setAttribute('error.type', errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
}
