import type { Clock } from '@hitch/core';
import { InvalidOptionError, TimeoutError, systemClock } from '@hitch/core';
import { trace } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from './http-attributes.js';
import { stateOf } from './request-state.js';

declare module 'node:http' {
  interface IncomingMessage {
    /**
     * Set by `timeout(ms)`: aborts when the route's time is up (reason: a `TimeoutError`) or the
     * client disconnects. Pass it to every call the handler makes.
     */
    signal?: AbortSignal;
  }
}

/** Options of {@link timeout}. */
export interface TimeoutMiddlewareOptions {
  /** Clock for the timer (tests inject a fake one). Defaults to the system clock. */
  readonly clock?: Clock;
}

/** Thrown as `req.signal.reason` when the client disconnects before the response. */
export class ClientDisconnectedError extends Error {
  readonly isClientDisconnectedError = true;
  constructor() {
    super('the client disconnected before the response was sent');
    this.name = 'ClientDisconnectedError';
  }
}

const noop = function (this: ServerResponse): ServerResponse {
  return this;
};

/** After the timeout answered: a handler's late writes are dropped instead of throwing "headers already sent". */
function silence(res: ServerResponse): void {
  // `res.status(200)` only sets `statusCode`; the 503 is already written, but the span, metrics and
  // request log read `statusCode` at 'finish', which may come after the handler's late call.
  const statusCode = res.statusCode;
  const statusMessage = res.statusMessage;
  Object.defineProperty(res, 'statusCode', { get: () => statusCode, set: () => undefined, configurable: true, enumerable: true });
  Object.defineProperty(res, 'statusMessage', { get: () => statusMessage, set: () => undefined, configurable: true, enumerable: true });
  const r = res as unknown as Record<string, unknown>;
  r.setHeader = noop;
  r.writeHead = noop;
  r.removeHeader = noop;
  r.write = () => true;
  r.end = noop;
}

/**
 * Per-route time limit: sets `req.signal`, which aborts after `ms` (reason: `TimeoutError`) or
 * when the client disconnects; if the handler has not started its response by then, answers
 * 503 `{ error: { code: 'HITCH_TIMEOUT', message, traceId } }`. What the handler writes later is
 * dropped, without an error.
 *
 * ```ts
 * app.get('/rides/:id', timeout(2_000), async (req, res) => res.json(await rides.get(req.params.id, { signal: req.signal })));
 * ```
 */
export function timeout(ms: number, options: TimeoutMiddlewareOptions = {}): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  if (typeof ms !== 'number' || !(ms > 0) || !Number.isFinite(ms)) {
    throw new InvalidOptionError('timeout(ms)', `should be a positive finite number of milliseconds, got ${String(ms)}`);
  }
  const clock = options.clock ?? systemClock;
  return function hitchTimeout(req, res, next) {
    const controller = new AbortController();
    req.signal = controller.signal;
    const onTimeout = (): void => {
      timer = undefined;
      res.off('close', onClose);
      // The path without its query (which may carry a token): this message reaches the client, spans and logs.
      const path = stateOf(req)?.route ?? stateOf(req)?.path ?? pathOf((req as { originalUrl?: string }).originalUrl ?? req.url);
      const error = new TimeoutError(ms, `${req.method ?? 'request'} ${path}`);
      if (!res.headersSent && !res.writableEnded) {
        const traceId = (stateOf(req)?.span ?? trace.getActiveSpan())?.spanContext().traceId;
        const body = JSON.stringify({ error: { code: error.code, message: error.message, ...(traceId !== undefined ? { traceId } : {}) } });
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
        res.end(body);
        silence(res);
      }
      controller.abort(error);
    };
    const onClose = (): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      if (!res.writableFinished) controller.abort(new ClientDisconnectedError());
    };
    let timer: unknown = clock.setTimeout(onTimeout, ms);
    res.once('close', onClose);
    next();
  };
}
