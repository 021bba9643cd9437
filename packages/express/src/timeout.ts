import type { Clock } from '@hitch/core';
import { InvalidOptionError, TimeoutError, systemClock } from '@hitch/core';
import { trace } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
      const error = new TimeoutError(ms, `${req.method ?? 'request'} ${stateOf(req)?.route ?? req.url ?? ''}`);
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
