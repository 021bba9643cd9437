import type { Hitch } from '@hitch/core';
import { UNMATCHED_ROUTE, hitchErrorHandler } from '@hitch/express';
import type { HitchExpressOptions } from '@hitch/express';
import express from 'express';
import type { Express } from 'express';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Harness, gate, instrument, serverSpans } from './support/server-harness.js';
import type { FinishedSpan, LogLine, TestHitchOptions, TestServer } from './support/server-harness.js';

// The request log: one line per request through hitch.logger (captured with createHitch's
// `logging.destination`), with the request span's trace_id and span_id.

const harness = new Harness();
afterEach(() => harness.close());

const INFO = 30;
const DEBUG = 20;

interface Started {
  readonly hitch: Hitch;
  readonly server: TestServer;
}

/** An instrumented app with a few routes, served on loopback. */
async function start(options: Omit<HitchExpressOptions, 'hitch'> = {}, hitchOptions: TestHitchOptions = {}, routes: (app: Express, hitch: Hitch) => void = () => undefined): Promise<Started> {
  const hitch = harness.createHitch(hitchOptions);
  const app = express();
  instrument(app, { hitch, ...options });
  app.get('/rides/:id', (req, res) => {
    hitch.logger.info({ ride: req.params.id }, 'looking the ride up');
    res.json({ id: req.params.id });
  });
  app.post('/rides', (_req, res) => void res.status(201).json({ id: 1 }));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  const v1 = express.Router();
  v1.get('/drivers/:driverId', (req, res) => void res.json({ id: req.params.driverId }));
  app.use('/v1', v1);
  routes(app, hitch);
  app.use(hitchErrorHandler());
  return { hitch, server: await harness.serve(app) };
}

/** Waits until `count` request lines were written (they are written as the response finishes). */
async function requestLines(count: number): Promise<LogLine[]> {
  await vi.waitFor(() => expect(harness.requestLogs()).toHaveLength(count));
  return harness.requestLogs();
}

async function spans(hitch: Hitch, count: number): Promise<FinishedSpan[]> {
  await vi.waitFor(() => expect(serverSpans(hitch)).toHaveLength(count));
  return serverSpans(hitch);
}

describe('by default', () => {
  it('writes one info line for a request: method, route, status, duration and the request span ids', async () => {
    const { hitch, server } = await start();
    expect((await server.send('/rides/42')).status).toBe(200);
    const [line] = await requestLines(1);
    const [span] = await spans(hitch, 1);
    expect(line).toEqual({
      level: INFO,
      time: expect.any(Number),
      service: 'express-test',
      msg: 'GET /rides/:id 200',
      http: { method: 'GET', route: '/rides/:id', status_code: 200, duration_ms: expect.any(Number) },
      trace_id: span!.spanContext().traceId,
      span_id: span!.spanContext().spanId,
      trace_flags: '01',
    });
    expect(line!.http!.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it.each([
    { name: 'a POST answered 201', method: 'POST', path: '/rides', route: '/rides', status: 201 },
    { name: 'a route of a mounted router', method: 'GET', path: '/v1/drivers/9', route: '/v1/drivers/:driverId', status: 200 },
    { name: 'a request no route matched', method: 'GET', path: '/nowhere/at/all', route: UNMATCHED_ROUTE, status: 404 },
    { name: 'a handler that threw', method: 'GET', path: '/boom', route: '/boom', status: 500 },
  ])('names $name by its route template and status', async ({ method, path, route, status }) => {
    const { hitch, server } = await start();
    expect((await server.send(path, { method })).status).toBe(status);
    const [line] = await requestLines(1);
    const [span] = await spans(hitch, 1);
    expect(line).toMatchObject({ level: INFO, msg: `${method} ${route} ${status}`, http: { method, route, status_code: status } });
    expect(line).toMatchObject({ trace_id: span!.spanContext().traceId, span_id: span!.spanContext().spanId });
  });

  it('writes one line per request, each with its own span', async () => {
    const { hitch, server } = await start();
    const agent = harness.agent();
    for (let i = 0; i < 5; i++) expect((await server.send(`/rides/${i}`, { agent })).status).toBe(200);
    const lines = await requestLines(5);
    const ended = await spans(hitch, 5);
    expect(new Set(lines.map((line) => line.span_id)).size).toBe(5);
    expect(lines.map((line) => `${line.trace_id}/${line.span_id}`).sort()).toEqual(ended.map((span) => `${span.spanContext().traceId}/${span.spanContext().spanId}`).sort());
  });

  it("shares trace_id and span_id with the handler's own log lines", async () => {
    const { server } = await start();
    await server.send('/rides/42');
    const [request] = await requestLines(1);
    const own = harness.logs.find((line) => line.msg === 'looking the ride up');
    expect(own).toMatchObject({ ride: '42', trace_id: request!.trace_id, span_id: request!.span_id });
  });

  it("continues the caller's trace: its trace id, the server span's own span id", async () => {
    const { hitch, server } = await start();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpanId = '00f067aa0ba902b7';
    await server.send('/rides/1', { headers: { traceparent: `00-${traceId}-${parentSpanId}-01` } });
    const [line] = await requestLines(1);
    const [span] = await spans(hitch, 1);
    expect(line!.trace_id).toBe(traceId);
    expect(line!.span_id).toBe(span!.spanContext().spanId);
    expect(line!.span_id).not.toBe(parentSpanId);
  });

  it('logs a client that went away before the response as 499', async () => {
    const held = gate();
    const arrived = gate();
    const { server } = await start({}, {}, (app) =>
      app.get('/slow', async (_req, res) => {
        arrived.open();
        await held.promise;
        res.json({ late: true });
      }),
    );
    let socket: Socket | undefined;
    const reply = server.send('/slow', { onSocket: (s) => (socket = s) }).then(
      () => 'answered',
      () => 'connection lost',
    );
    await arrived.promise;
    socket!.destroy();
    expect(await reply).toBe('connection lost');
    const [line] = await requestLines(1);
    expect(line).toMatchObject({ msg: 'GET /slow 499', http: { route: '/slow', status_code: 499 } });
    held.open();
  });

  it('leaves out the probes and /metrics', async () => {
    const { server } = await start();
    await server.send('/healthz');
    await server.send('/readyz');
    await server.send('/metrics');
    await server.send('/rides/1');
    const lines = await requestLines(1);
    expect(lines.map((line) => line.http?.route)).toEqual(['/rides/:id']);
  });
});

describe('options', () => {
  it("requestLog: 'debug' writes the line at debug", async () => {
    const { server } = await start({ requestLog: 'debug' }, { logging: { level: 'debug' } });
    await server.send('/rides/1');
    const [line] = await requestLines(1);
    expect(line).toMatchObject({ level: DEBUG, msg: 'GET /rides/:id 200' });
  });

  it("requestLog: 'debug' writes nothing when the logger is at info", async () => {
    const { hitch, server } = await start({ requestLog: 'debug' }, { logging: { level: 'info' } });
    await server.send('/rides/1');
    // The span ends in the same step as the line would have been written.
    await spans(hitch, 1);
    expect(harness.requestLogs()).toEqual([]);
    expect(harness.logs.map((line) => line.msg)).toEqual(['looking the ride up']);
  });

  it('requestLog: false writes no request line, even at debug', async () => {
    const { hitch, server } = await start({ requestLog: false }, { logging: { level: 'debug' } });
    await server.send('/rides/1');
    await server.send('/nowhere');
    await spans(hitch, 2);
    expect(harness.requestLogs()).toEqual([]);
  });

  it('instrumentHealthRoutes: true logs the probes and /metrics too', async () => {
    const { server } = await start({ instrumentHealthRoutes: true });
    await server.send('/healthz');
    await server.send('/readyz');
    await server.send('/metrics');
    const lines = await requestLines(3);
    expect(lines.map((line) => line.msg).sort()).toEqual(['GET /healthz 200', 'GET /metrics 200', 'GET /readyz 200']);
  });

  it('ignorePaths are not logged', async () => {
    const { hitch, server } = await start({ ignorePaths: ['/lb-check'] }, {}, (app) => app.get('/lb-check', (_req, res) => void res.send('ok')));
    expect((await server.send('/lb-check')).text).toBe('ok');
    await server.send('/rides/1');
    const lines = await requestLines(1);
    expect(lines.map((line) => line.http?.route)).toEqual(['/rides/:id']);
    expect(serverSpans(hitch).map((span) => span.name)).toEqual(['GET /rides/:id']);
  });
});
