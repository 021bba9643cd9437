import {
  BulkheadRejectedError,
  CircuitOpenError,
  ErrorCode,
  GuardRejectedError,
  IllegalTransitionError,
  InvalidOptionError,
  NotFoundError,
  RetryBudgetExceededError,
  ShutdownError,
  TaskQueueFullError,
  TaskRunnerClosedError,
  TimeoutError,
  ValidationError,
  VersionConflictError,
  isHitchError,
} from '@hitch/core';
import type { Hitch } from '@hitch/core';
import { BAD_REQUEST_CODE, HTTP_STATUS_BY_ERROR_CODE, INTERNAL_ERROR_CODE, answerFor, hitchErrorHandler } from '@hitch/express';
import type { ErrorHandlerOptions, ErrorResponseBody } from '@hitch/express';
import { SpanStatusCode } from '@opentelemetry/api';
import express from 'express';
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Harness, instrument, serverSpans } from './support/server-harness.js';
import type { TestServer } from './support/server-harness.js';

// hitchErrorHandler() answering what handlers throw, over real HTTP: the one table from errors to
// statuses, the body { error: { code, message, traceId } }, and what never leaks.

const harness = new Harness();
afterEach(() => harness.close());

const GENERIC_500 = 'Internal Server Error';

interface Case {
  readonly name: string;
  readonly error: () => unknown;
  readonly status: number;
  readonly code: string;
  /** The message the client sees. */
  readonly message: string;
  readonly retryAfter?: string;
  readonly issues?: readonly { path: string; message: string }[];
}

/** Every row of the table, and the errors around it. Each is created fresh per request. */
const CASES: readonly Case[] = [
  {
    name: 'ValidationError',
    error: () => new ValidationError('the ride request is invalid', [{ path: 'pickup.lat', message: 'should be a number' }]),
    status: 400,
    code: ErrorCode.Validation,
    message: 'the ride request is invalid',
    issues: [{ path: 'pickup.lat', message: 'should be a number' }],
  },
  {
    name: 'ValidationError without issues',
    error: () => new ValidationError('limit should be at most 100'),
    status: 400,
    code: ErrorCode.Validation,
    message: 'limit should be at most 100',
    issues: [{ path: '', message: 'limit should be at most 100' }],
  },
  { name: 'NotFoundError', error: () => new NotFoundError('ride', 42), status: 404, code: ErrorCode.NotFound, message: 'ride 42 was not found' },
  {
    name: 'IllegalTransitionError',
    error: () => new IllegalTransitionError('ride', 'completed', 'cancel'),
    status: 409,
    code: ErrorCode.IllegalTransition,
    message: 'ride: event "cancel" is not allowed in state "completed"',
  },
  {
    name: 'GuardRejectedError',
    error: () => new GuardRejectedError('ride', 'pending', 'match', 'no seats'),
    status: 409,
    code: ErrorCode.GuardRejected,
    message: 'ride: the guard of event "match" refused it in state "pending": no seats',
  },
  {
    name: 'VersionConflictError',
    error: () => new VersionConflictError('ride', 3, 4),
    status: 409,
    code: ErrorCode.VersionConflict,
    message: 'ride: expected version 3, but the entity is at version 4: it changed since it was read; reload it and retry',
  },
  {
    name: 'CircuitOpenError (open)',
    error: () => new CircuitOpenError('payments', 2500),
    status: 503,
    code: ErrorCode.CircuitOpen,
    message: 'circuit breaker "payments" is open: the call was not made; probing again in 2500 ms',
    retryAfter: '3',
  },
  {
    name: 'CircuitOpenError (probing in less than a second)',
    error: () => new CircuitOpenError('payments', 200),
    status: 503,
    code: ErrorCode.CircuitOpen,
    message: 'circuit breaker "payments" is open: the call was not made; probing again in 200 ms',
    retryAfter: '1',
  },
  {
    name: 'CircuitOpenError (half-open)',
    error: () => new CircuitOpenError('payments'),
    status: 503,
    code: ErrorCode.CircuitOpen,
    message: 'circuit breaker "payments" is open: the call was not made',
  },
  {
    name: 'BulkheadRejectedError',
    error: () => new BulkheadRejectedError('db', 10, 5),
    status: 503,
    code: ErrorCode.BulkheadRejected,
    message: 'bulkhead "db" is full (10 running, 5 queued): the call was rejected',
  },
  {
    name: 'RetryBudgetExceededError',
    error: () => new RetryBudgetExceededError('payments', new Error('upstream 502')),
    status: 503,
    code: ErrorCode.RetryBudgetExceeded,
    message: 'retry budget of "payments" is spent: not retrying (the last attempt\'s error is the cause)',
  },
  {
    name: 'TaskQueueFullError',
    error: () => new TaskQueueFullError('emails', 100),
    status: 503,
    code: ErrorCode.TaskQueueFull,
    message: 'task runner "emails" has 100 tasks queued (its queueLimit): the task was rejected',
  },
  {
    name: 'TaskRunnerClosedError',
    error: () => new TaskRunnerClosedError('emails'),
    status: 503,
    code: ErrorCode.TaskRunnerClosed,
    message: 'task runner "emails" is draining or drained: it accepts no new tasks',
  },
  { name: 'TimeoutError', error: () => new TimeoutError(2000, 'payments call'), status: 504, code: ErrorCode.Timeout, message: 'payments call timed out after 2000 ms' },
  // Hitch errors outside the table are the server's fault: 500, their code, nothing else.
  { name: 'InvalidOptionError', error: () => new InvalidOptionError('db.url', 'secret://user:hunter2@db'), status: 500, code: ErrorCode.InvalidOption, message: GENERIC_500 },
  { name: 'ShutdownError', error: () => new ShutdownError('metrics.serve()'), status: 500, code: ErrorCode.Shutdown, message: GENERIC_500 },
  // Errors with a 4xx status of their own (http-errors, body-parser) keep it.
  { name: 'an Error with status 403', error: () => Object.assign(new Error('no access to ride 7'), { status: 403 }), status: 403, code: BAD_REQUEST_CODE, message: 'no access to ride 7' },
  { name: 'an Error with statusCode 422', error: () => Object.assign(new Error('unprocessable'), { statusCode: 422 }), status: 422, code: BAD_REQUEST_CODE, message: 'unprocessable' },
  // Anything else: 500 HITCH_INTERNAL, a generic message, nothing of the error.
  { name: 'an unknown Error', error: () => new Error('password=hunter2 at db.internal:5432'), status: 500, code: INTERNAL_ERROR_CODE, message: GENERIC_500 },
  { name: 'a TypeError', error: () => new TypeError("Cannot read properties of undefined (reading 'hunter2')"), status: 500, code: INTERNAL_ERROR_CODE, message: GENERIC_500 },
  { name: 'an Error with status 500', error: () => Object.assign(new Error('hunter2 pool exhausted'), { status: 500 }), status: 500, code: INTERNAL_ERROR_CODE, message: GENERIC_500 },
  { name: 'an Error with status 302', error: () => Object.assign(new Error('hunter2 moved'), { status: 302 }), status: 500, code: INTERNAL_ERROR_CODE, message: GENERIC_500 },
  { name: 'a thrown string', error: () => 'hunter2', status: 500, code: INTERNAL_ERROR_CODE, message: GENERIC_500 },
  { name: 'a thrown object', error: () => ({ secret: 'hunter2' }), status: 500, code: INTERNAL_ERROR_CODE, message: GENERIC_500 },
];

/** How a handler hands the error to Express. */
const RAISE: readonly { how: string; handler: (make: () => unknown) => RequestHandler }[] = [
  {
    how: 'thrown',
    handler: (make) => () => {
      throw make();
    },
  },
  {
    how: 'rejected by an async handler',
    handler: (make) => async () => {
      await Promise.resolve();
      throw make();
    },
  },
  { how: 'passed to next()', handler: (make) => (_req, _res, next) => next(make()) },
];

interface Started {
  readonly hitch: Hitch;
  readonly server: TestServer;
}

/** An instrumented app: `routes` mounts the routes, then hitchErrorHandler(options) and `after`. */
async function start(routes: (app: Express) => void, options: { handler?: ErrorHandlerOptions; after?: ErrorRequestHandler; instrument?: boolean } = {}): Promise<Started> {
  const hitch = harness.createHitch();
  const app = express();
  if (options.instrument !== false) instrument(app, { hitch });
  routes(app);
  app.use(hitchErrorHandler(options.handler));
  if (options.after !== undefined) app.use(options.after);
  return { hitch, server: await harness.serve(app) };
}

/** The trace id of the one SERVER span, once it has ended. */
async function serverTraceId(hitch: Hitch): Promise<string> {
  await vi.waitFor(() => expect(serverSpans(hitch)).toHaveLength(1));
  return serverSpans(hitch)[0]!.spanContext().traceId;
}

describe.each(RAISE)('an error $how', ({ handler }) => {
  it.each(CASES)('$name: $status $code', async ({ error, status, code, message, retryAfter, issues }) => {
    const { hitch, server } = await start((app) => app.get('/rides/:id', handler(error)));
    const res = await server.send('/rides/7');
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['retry-after']).toBe(retryAfter);
    const traceId = await serverTraceId(hitch);
    const body: ErrorResponseBody = { error: { code, message, traceId, ...(issues !== undefined ? { issues } : {}) } };
    expect(res.json).toEqual(body);
    // Nothing of a hidden error reaches the client: not its message, class or stack.
    if (message === GENERIC_500) {
      expect(res.text).not.toContain('hunter2');
      expect(res.text).not.toMatch(/TypeError|\bat \S+:\d+/);
    }
  });
});

describe('the table', () => {
  it.each(CASES)('answerFor($name) agrees with the response', async ({ error, status, code }) => {
    const made = error();
    expect(answerFor(made)).toMatchObject({ status, code });
    if (isHitchError(made)) expect(HTTP_STATUS_BY_ERROR_CODE[made.code] ?? 500).toBe(status);
  });

  it('every code of HTTP_STATUS_BY_ERROR_CODE is answered above with its status', () => {
    const answered = new Map<string, number>();
    for (const { error, status } of CASES) {
      const made = error();
      if (isHitchError(made)) answered.set(made.code, status);
    }
    for (const [code, status] of Object.entries(HTTP_STATUS_BY_ERROR_CODE)) expect([code, answered.get(code)]).toEqual([code, status]);
  });

  it('maps the codes as documented', () => {
    expect(HTTP_STATUS_BY_ERROR_CODE).toEqual({
      [ErrorCode.Validation]: 400,
      [ErrorCode.NotFound]: 404,
      [ErrorCode.IllegalTransition]: 409,
      [ErrorCode.GuardRejected]: 409,
      [ErrorCode.VersionConflict]: 409,
      [ErrorCode.CircuitOpen]: 503,
      [ErrorCode.BulkheadRejected]: 503,
      [ErrorCode.RetryBudgetExceeded]: 503,
      [ErrorCode.TaskQueueFull]: 503,
      [ErrorCode.TaskRunnerClosed]: 503,
      [ErrorCode.Timeout]: 504,
    });
    expect(Object.isFrozen(HTTP_STATUS_BY_ERROR_CODE)).toBe(true);
  });
});

describe('body-parser errors', () => {
  const routes = (app: Express): void => {
    app.post('/rides', express.json({ limit: '64b' }), (req, res) => void res.status(201).json({ got: req.body as unknown }));
  };

  it('a valid body reaches the route', async () => {
    const { server } = await start(routes);
    const res = await server.send('/rides', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"from":"a"}' });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ got: { from: 'a' } });
  });

  it.each([
    { name: 'invalid JSON', headers: { 'content-type': 'application/json' }, body: '{"from": a', status: 400 },
    { name: 'a body over the limit', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: 'x'.repeat(100) }), status: 413 },
    { name: 'an unsupported charset', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}', status: 415 },
  ])('$name: $status HITCH_BAD_REQUEST', async ({ headers, body, status }) => {
    const { hitch, server } = await start(routes);
    const res = await server.send('/rides', { method: 'POST', headers, body });
    expect(res.status).toBe(status);
    expect(res.json).toEqual({ error: { code: BAD_REQUEST_CODE, message: expect.any(String), traceId: await serverTraceId(hitch) } });
    expect((res.json as ErrorResponseBody).error.message).not.toBe('');
    expect(res.text).not.toMatch(/\bat /);
  });
});

describe('the body', () => {
  it("carries the trace id of the caller's traceparent", async () => {
    const { server } = await start((app) => app.get('/rides/:id', () => {
      throw new NotFoundError('ride', 7);
    }));
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await server.send('/rides/7', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(res.status).toBe(404);
    expect((res.json as ErrorResponseBody).error.traceId).toBe(traceId);
  });

  it('has no traceId when the request has no span (app not instrumented)', async () => {
    const { server } = await start(
      (app) =>
        app.get('/rides/:id', () => {
          throw new NotFoundError('ride', 7);
        }),
      { instrument: false },
    );
    const res = await server.send('/rides/7');
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: { code: ErrorCode.NotFound, message: 'ride 7 was not found' } });
  });

  it('is left out of a HEAD response, with the status kept', async () => {
    const { server } = await start((app) => app.get('/rides/:id', () => {
      throw new NotFoundError('ride', 7);
    }));
    const res = await server.send('/rides/7', { method: 'HEAD' });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.text).toBe('');
  });
});

describe('the span', () => {
  it('records a 5xx error as an exception with ERROR status', async () => {
    const { hitch, server } = await start((app) => app.get('/rides/:id', () => {
      throw new TypeError('boom');
    }));
    expect((await server.send('/rides/7')).status).toBe(500);
    await serverTraceId(hitch);
    const span = serverSpans(hitch)[0]!;
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['http.response.status_code']).toBe(500);
    expect(span.attributes['error.type']).toBe('TypeError');
    expect(span.events.map((event) => event.name)).toContain('exception');
  });

  it('leaves a 4xx (the client’s mistake) without error status or exception', async () => {
    const { hitch, server } = await start((app) => app.get('/rides/:id', () => {
      throw new ValidationError('bad id');
    }));
    expect((await server.send('/rides/7')).status).toBe(400);
    await serverTraceId(hitch);
    const span = serverSpans(hitch)[0]!;
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events.map((event) => event.name)).not.toContain('exception');
  });
});

describe('after the headers were sent', () => {
  it('passes the error on to the next error middleware, which sees the same error', async () => {
    const late = new Error('failed mid-stream');
    const passedOn: unknown[] = [];
    const { server } = await start(
      (app) =>
        app.get('/stream', (_req, res, next) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('partial');
          next(late);
        }),
      {
        after: (error: unknown, _req, _res, next) => {
          passedOn.push(error);
          next(error);
        },
      },
    );
    // Express cannot answer any more: it cuts the connection, so the client sees a broken response.
    await expect(server.send('/stream')).rejects.toThrow();
    expect(passedOn).toEqual([late]);
  });
});

describe('the logger option', () => {
  it.each([
    { name: 'an unknown Error (500)', error: () => new Error('db down'), logged: true },
    { name: 'an InvalidOptionError (500)', error: () => new InvalidOptionError('x', 'y'), logged: true },
    { name: 'a CircuitOpenError (503)', error: () => new CircuitOpenError('payments', 1000), logged: false },
    { name: 'a TimeoutError (504)', error: () => new TimeoutError(10), logged: false },
    { name: 'a NotFoundError (404)', error: () => new NotFoundError('ride', 1), logged: false },
  ])('$name is logged: $logged (with the path, without its query)', async ({ error, logged }) => {
    const logger = { error: vi.fn() };
    const thrown = error();
    const { server } = await start(
      (app) =>
        app.get('/rides/:id', () => {
          throw thrown;
        }),
      { handler: { logger } },
    );
    await server.send('/rides/7?token=hunter2');
    if (logged) expect(logger.error.mock.calls).toEqual([[{ err: thrown }, 'GET /rides/7 failed']]);
    else expect(logger.error).not.toHaveBeenCalled();
  });
});
