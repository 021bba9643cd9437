import { isCircuitOpenError, isValidationError } from '@hitch/core';
import { trace } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerFor } from './error-status.js';
import { pathOf } from './http-attributes.js';
import { recordRequestError } from './record-error.js';
import { stateOf } from './request-state.js';

/** The JSON body of an error response. */
export interface ErrorResponseBody {
  readonly error: {
    /** Stable code: a Hitch `ErrorCode`, `HITCH_BAD_REQUEST` or `HITCH_INTERNAL`. */
    readonly code: string;
    /** The error's message for 4xx, 503 and 504; a generic text for other 5xx (nothing internal leaks). */
    readonly message: string;
    /** Trace id of the request's span, to quote in a support ticket; absent without tracing. */
    readonly traceId?: string;
    /** `ValidationError` only: each field at fault. */
    readonly issues?: readonly { readonly path: string; readonly message: string }[];
  };
}

/** Options of {@link hitchErrorHandler}. */
export interface ErrorHandlerOptions {
  /**
   * Log 5xx errors (with their stack) through this logger, e.g. `hitch.logger`. Defaults to none:
   * the span already records the exception.
   */
  readonly logger?: { error(object: object, message: string): void };
}

type ErrorMiddleware = (error: unknown, req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Express error middleware, mounted after the routes: answers Hitch's typed errors with the
 * status of one table (see `HTTP_STATUS_BY_ERROR_CODE`) and a JSON body
 * `{ error: { code, message, traceId } }`; other errors with their 4xx `status` (body-parser)
 * or 500, without leaking their message. Records the exception on the request's span.
 *
 * ```ts
 * app.use(hitchErrorHandler());
 * ```
 */
export function hitchErrorHandler(options: ErrorHandlerOptions = {}): ErrorMiddleware {
  const logger = options.logger;
  const handler: ErrorMiddleware = (error, req, res, next) => {
    // Headers already out: nothing can be answered; Express closes the connection.
    if (res.headersSent) {
      recordRequestError(req, error);
      next(error);
      return;
    }
    recordRequestError(req, error);
    const { status, code, expose } = answerFor(error);
    const span = stateOf(req)?.span ?? trace.getActiveSpan();
    const traceId = span?.spanContext().traceId;
    const message = expose && error instanceof Error ? error.message : status >= 500 ? 'Internal Server Error' : 'Bad Request';
    const body: ErrorResponseBody = {
      error: {
        code,
        message,
        ...(traceId !== undefined && traceId !== '00000000000000000000000000000000' ? { traceId } : {}),
        ...(isValidationError(error) ? { issues: error.issues } : {}),
      },
    };
    if (status >= 500 && status !== 503 && status !== 504 && logger !== undefined) {
      // The path without its query: a query string may carry a token, and messages are not redacted.
      const path = stateOf(req)?.path ?? pathOf((req as { originalUrl?: string }).originalUrl ?? req.url);
      logger.error({ err: error as Error }, `${req.method ?? '-'} ${path} failed`);
    }
    const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8' };
    if (isCircuitOpenError(error) && error.retryAfterMs !== undefined) headers['retry-after'] = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    const text = JSON.stringify(body);
    headers['content-length'] = Buffer.byteLength(text);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  return handler;
}
