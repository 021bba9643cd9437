import { isInvalidOptionError, isTimeoutError } from '@hitch/core';
import type { Hitch, TimeoutError } from '@hitch/core';
import { ClientDisconnectedError, hitchErrorHandler, timeout } from '@hitch/express';
import { trace } from '@opentelemetry/api';
import express from 'express';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from './support/fake-clock.js';
import { Harness, gate, instrument, serverSpans } from './support/server-harness.js';
import type { Reply, TestServer } from './support/server-harness.js';

// timeout(ms, { clock }) on real requests; time moves only when a test advances the fake clock.

const harness = new Harness();
afterEach(() => harness.close());

const LIMIT_MS = 1000;

/** What the handler saw of one request. */
interface Seen {
  readonly req: Request;
  readonly res: Response;
  /** The trace id of the active span inside the handler. */
  readonly traceId: string | undefined;
}

interface Setup {
  readonly clock: FakeClock;
  readonly server: TestServer;
  readonly hitch: Hitch | undefined;
  /** Resolves with each request as its handler starts (in order). */
  reached(): Promise<Seen>;
}

/**
 * Serves GET /slow behind timeout(LIMIT_MS) on a fake clock; `handler` runs after the handler
 * reported that it started. With `instrument`, the app is instrumented by hitchExpress.
 */
async function setup(handler: (seen: Seen) => unknown, options: { instrument?: boolean; configure?: (app: Express) => void } = {}): Promise<Setup> {
  const clock = new FakeClock();
  const hitch = options.instrument === false ? undefined : harness.createHitch();
  const app = express();
  if (hitch !== undefined) instrument(app, { hitch });
  const waiting: ((seen: Seen) => void)[] = [];
  const arrived: Seen[] = [];
  const route: RequestHandler = async (req, res) => {
    const seen: Seen = { req, res, traceId: trace.getActiveSpan()?.spanContext().traceId };
    const next = waiting.shift();
    if (next !== undefined) next(seen);
    else arrived.push(seen);
    await handler(seen);
  };
  app.get('/slow', timeout(LIMIT_MS, { clock }), route);
  options.configure?.(app);
  const server = await harness.serve(app);
  return {
    clock,
    server,
    hitch,
    reached: () => {
      const first = arrived.shift();
      return first !== undefined ? Promise.resolve(first) : new Promise<Seen>((resolve) => waiting.push(resolve));
    },
  };
}

/** Resolves with the signal's reason once it aborts. */
function aborted(signal: AbortSignal | undefined): Promise<unknown> {
  if (signal === undefined) return Promise.reject(new Error('req.signal is not set'));
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

/** A body like the timeout's answer. */
interface ErrorBody {
  error: { code: string; message: string; traceId?: string };
}

const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('when the handler has not responded in time', () => {
  it('answers 503 HITCH_TIMEOUT with the request span trace id, exactly at the limit', async () => {
    const { clock, server, hitch, reached } = await setup(never);
    const reply = server.send('/slow?token=hunter2');
    const seen = await reached();
    clock.advance(LIMIT_MS - 1);
    expect(seen.req.signal?.aborted).toBe(false);
    expect(seen.res.headersSent).toBe(false);
    clock.advance(1);
    const res = await reply;
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    // The connection is not reused: the handler may still be running on it.
    expect(res.headers.connection).toBe('close');
    const body = res.json as ErrorBody;
    // The message names the path, never the query (which may carry a token).
    expect(body).toEqual({ error: { code: 'HITCH_TIMEOUT', message: `GET /slow timed out after ${LIMIT_MS} ms`, traceId: seen.traceId } });
    expect(body.error.traceId).toMatch(/^[0-9a-f]{32}$/);
    await vi.waitFor(() => expect(serverSpans(hitch!)).toHaveLength(1));
    expect(serverSpans(hitch!)[0]!.spanContext().traceId).toBe(body.error.traceId);
  });

  it('aborts req.signal with a TimeoutError', async () => {
    const { clock, server, reached } = await setup(never);
    const reply = server.send('/slow');
    const seen = await reached();
    const reason = aborted(seen.req.signal);
    clock.advance(LIMIT_MS);
    const error = (await reason) as TimeoutError;
    expect(isTimeoutError(error)).toBe(true);
    expect(error.code).toBe('HITCH_TIMEOUT');
    expect(error.timeoutMs).toBe(LIMIT_MS);
    expect((await reply).status).toBe(503);
  });

  it('times out each request on its own timer', async () => {
    const { clock, server, reached } = await setup(never);
    const first = server.send('/slow');
    await reached();
    clock.advance(LIMIT_MS / 2);
    const second = server.send('/slow');
    const late = await reached();
    clock.advance(LIMIT_MS / 2);
    expect((await first).status).toBe(503);
    expect(late.req.signal?.aborted).toBe(false);
    clock.advance(LIMIT_MS / 2);
    expect((await second).status).toBe(503);
  });

  it("drops the handler's later res.json() without an error and without changing the response", async () => {
    const answerLater = gate();
    const outcome: { threw?: unknown; returned?: boolean } = {};
    const { clock, server, reached } = await setup(async ({ res }) => {
      await answerLater.promise;
      try {
        res.setHeader('x-late', 'yes');
        res.status(200).json({ late: true });
        res.write('more');
        res.end();
        outcome.returned = true;
      } catch (error) {
        outcome.threw = error;
      }
    });
    const reply = server.send('/slow');
    await reached();
    clock.advance(LIMIT_MS);
    const res = await reply;
    answerLater.open();
    await vi.waitFor(() => expect(outcome).toEqual({ returned: true }));
    expect(res.status).toBe(503);
    expect(res.headers['x-late']).toBeUndefined();
    expect((res.json as ErrorBody).error.code).toBe('HITCH_TIMEOUT');
    expect(res.text).not.toContain('late');
  });

  it('drops an answer written in the abort listener itself', async () => {
    const outcome: { threw?: unknown; returned?: boolean } = {};
    const { clock, server, reached } = await setup(async ({ req, res }) => {
      await aborted(req.signal);
      try {
        res.status(200).json({ late: true });
        outcome.returned = true;
      } catch (error) {
        outcome.threw = error;
      }
    });
    const reply = server.send('/slow');
    await reached();
    clock.advance(LIMIT_MS);
    const res = await reply;
    await vi.waitFor(() => expect(outcome).toEqual({ returned: true }));
    expect(res.status).toBe(503);
    expect((res.json as ErrorBody).error.code).toBe('HITCH_TIMEOUT');
  });

  it('records the 503 that was sent, not the status a late handler set, on the span and in the request log', async () => {
    const { clock, server, hitch, reached } = await setup(async ({ req, res }) => {
      await aborted(req.signal);
      // Synchronously in the abort listener: before the 503's 'finish' event.
      res.status(200).json({ late: true });
    });
    const reply = server.send('/slow');
    await reached();
    clock.advance(LIMIT_MS);
    expect((await reply).status).toBe(503);
    await vi.waitFor(() => expect(serverSpans(hitch!)).toHaveLength(1));
    expect(serverSpans(hitch!)[0]!.attributes['http.response.status_code']).toBe(503);
    expect(harness.requestLogs().map((line) => line.http?.status_code)).toEqual([503]);
  });

  it('keeps the 503 when the handler then rejects with the abort reason (error handler mounted)', async () => {
    const { clock, server, reached } = await setup(
      async ({ req }) => {
        // What a call given req.signal does: reject with its reason.
        throw await aborted(req.signal);
      },
      { configure: (app) => app.use(hitchErrorHandler()) },
    );
    const reply = server.send('/slow');
    await reached();
    clock.advance(LIMIT_MS);
    const res = await reply;
    expect(res.status).toBe(503);
    expect((res.json as ErrorBody).error.code).toBe('HITCH_TIMEOUT');
  });

  it('works without hitchExpress, without a traceId', async () => {
    const { clock, server, reached } = await setup(never, { instrument: false });
    const reply = server.send('/slow?token=hunter2');
    await reached();
    clock.advance(LIMIT_MS);
    const res = await reply;
    expect(res.status).toBe(503);
    expect(res.json).toEqual({ error: { code: 'HITCH_TIMEOUT', message: `GET /slow timed out after ${LIMIT_MS} ms` } });
  });
});

describe('when the handler has started its response', () => {
  it('does not answer, still aborts req.signal, and lets the handler finish', async () => {
    const { clock, server, reached } = await setup(async ({ req, res }) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial ');
      const reason = await aborted(req.signal);
      res.end(isTimeoutError(reason) ? 'then timed out' : 'then something else');
    });
    const reply = server.send('/slow');
    const seen = await reached();
    await vi.waitFor(() => expect(seen.res.headersSent).toBe(true));
    clock.advance(LIMIT_MS);
    const res = await reply;
    expect(res.status).toBe(200);
    expect(res.text).toBe('partial then timed out');
  });
});

describe('when the client disconnects', () => {
  it('aborts req.signal with ClientDisconnectedError and clears the timer', async () => {
    const { clock, server, reached } = await setup(never);
    let socket: Socket | undefined;
    // Settled as soon as the socket is gone: keep its outcome, not an unhandled rejection.
    const reply = server.send('/slow', { onSocket: (s) => (socket = s) }).then(
      () => 'answered',
      () => 'connection lost',
    );
    const seen = await reached();
    expect(clock.pendingTimers).toBe(1);
    const reason = aborted(seen.req.signal);
    socket!.destroy();
    const error = await reason;
    expect(error).toBeInstanceOf(ClientDisconnectedError);
    expect(error).toMatchObject({ name: 'ClientDisconnectedError', isClientDisconnectedError: true });
    expect(clock.pendingTimers).toBe(0);
    expect(await reply).toBe('connection lost');
    // Nothing left to fire: the limit passing later does nothing.
    clock.advance(LIMIT_MS);
    expect(seen.req.signal!.reason).toBe(error);
  });
});

describe('when the handler answers in time', () => {
  it('leaves the response untouched, clears the timer and never aborts the signal', async () => {
    const { clock, server, reached } = await setup(({ res }) => {
      res.json({ ok: true });
    });
    const agent = harness.agent();
    let reply: Reply | undefined;
    for (let i = 0; i < 3; i++) {
      const pending = server.send('/slow', { agent });
      const seen = await reached();
      reply = await pending;
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ ok: true });
      expect(reply.headers.connection).toBe('keep-alive');
      await vi.waitFor(() => expect(clock.pendingTimers).toBe(0));
      clock.advance(LIMIT_MS * 10);
      expect(seen.req.signal?.aborted).toBe(false);
    }
  });

  it('sets req.signal before the handler runs', async () => {
    const { server, reached } = await setup(({ req, res }) => {
      res.json({ signal: req.signal instanceof AbortSignal });
    });
    const reply = server.send('/slow');
    await reached();
    expect((await reply).json).toEqual({ signal: true });
  });
});

describe('timeout(ms)', () => {
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1000' as unknown as number])('throws InvalidOptionError for ms = %s', (ms) => {
    expect(() => timeout(ms)).toThrow(/timeout\(ms\): should be a positive finite number of milliseconds/);
    try {
      timeout(ms);
    } catch (error) {
      expect(isInvalidOptionError(error)).toBe(true);
    }
  });
});
