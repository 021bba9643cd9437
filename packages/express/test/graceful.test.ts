import { isInvalidOptionError } from '@hitch/core';
import type { Hitch, ShutdownReport } from '@hitch/core';
import { closeGracefully, hitchExpress } from '@hitch/express';
import type { CloseReport } from '@hitch/express';
import express from 'express';
import type { Express } from 'express';
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from './support/fake-clock.js';
import { Harness, gate, instrument, runFixture, send, testServer } from './support/server-harness.js';
import type { Gate, Reply, TestServer, TestHitchOptions } from './support/server-harness.js';

// Graceful close: hitchExpress.listen() under the Hitch lifecycle, closeGracefully(), and a real
// process that receives SIGTERM with 100 requests in flight.

const harness = new Harness();
afterEach(() => harness.close());

/** Lets pending I/O callbacks and promise jobs run (not a wait for a condition). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Watches a promise without awaiting it. */
function track<T>(promise: Promise<T>): { settled: boolean; value?: T } {
  const state: { settled: boolean; value?: T } = { settled: false };
  void promise.then((value) => Object.assign(state, { settled: true, value }), () => Object.assign(state, { settled: true }));
  return state;
}

/** A request that is expected to fail: its outcome, never an unhandled rejection. */
const outcome = (reply: Promise<Reply>): Promise<string> =>
  reply.then(
    (res) => `answered ${res.status}`,
    () => 'connection lost',
  );

interface App {
  readonly hitch: Hitch;
  readonly app: Express;
  /** Gates of the /work requests, in arrival order: a request answers once its gate opens. */
  readonly gates: Gate[];
  /** Resolves when the `n`th /work request (1-based) is in its handler. */
  arrived(n: number): Promise<void>;
}

/** An instrumented app: /ping answers at once, /work/:id when the test opens its gate. */
function makeApp(hitchOptions: TestHitchOptions = {}): App {
  const hitch = harness.createHitch(hitchOptions);
  const app = express();
  instrument(app, { hitch });
  const gates: Gate[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  app.get('/ping', (_req, res) => void res.send('pong'));
  app.get('/work/:id', async (req, res) => {
    const mine = gate();
    gates.push(mine);
    for (const waiter of waiters.filter((w) => w.n <= gates.length)) waiter.resolve();
    await mine.promise;
    res.json({ id: req.params.id, done: true });
  });
  return {
    hitch,
    app,
    gates,
    arrived: (n) => (gates.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  };
}

/** `hitchExpress.listen` on loopback; the harness closes the server if the test did not. */
async function listen(app: Express, options: { closeTimeoutMs?: number } = {}): Promise<TestServer> {
  const server = await hitchExpress.listen(app, 0, { host: '127.0.0.1', ...options });
  harness.closeServer(server);
  return testServer(server);
}

/** Sends a request through a keep-alive agent and resolves with its socket once the response is back (idle in the agent's pool). */
async function idleConnection(port: number): Promise<Socket> {
  const agent = harness.agent();
  let socket: Socket | undefined;
  const res = await send(port, '/ping', { agent, onSocket: (s) => (socket = s) });
  expect(res.headers.connection).toBe('keep-alive');
  return socket!;
}

describe('hitchExpress.listen', () => {
  it('listens on the host given and registers a "stop accepting" shutdown hook named after the port', async () => {
    const { hitch, app } = makeApp();
    const server = await listen(app);
    expect(server.server.address()).toMatchObject({ address: '127.0.0.1' });
    expect((await server.send('/ping')).text).toBe('pong');
    const closed = once(server.server, 'close');
    const report = await hitch.lifecycle.shutdown();
    await closed;
    expect(report.ok).toBe(true);
    expect(report.hooks).toContainEqual(expect.objectContaining({ name: `http server :${server.port}`, priority: 10, status: 'ok' }));
    expect(server.server.listening).toBe(false);
  });

  it('unregisters the hook when the app closes the server itself', async () => {
    const { hitch, app } = makeApp();
    const server = await listen(app);
    await new Promise<void>((resolve) => server.server.close(() => resolve()));
    const report = await hitch.lifecycle.shutdown();
    expect(report.hooks.map((hook) => hook.name)).not.toContain(`http server :${server.port}`);
  });

  it('rejects when the port is taken, and registers no hook', async () => {
    const { hitch, app } = makeApp();
    const taken = await harness.serve((_req, res) => res.end());
    await expect(hitchExpress.listen(app, taken.port, { host: '127.0.0.1' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const report = await hitch.lifecycle.shutdown();
    expect(report.hooks.map((hook) => hook.name)).not.toContain(`http server :${taken.port}`);
  });

  it('refuses an app that hitchExpress was not installed on', async () => {
    const error: unknown = await hitchExpress.listen(express(), 0).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
    expect(String(error)).toContain('call hitchExpress(app, { hitch }) on this app first');
  });

  it.each([-1, 65_536, 1.5, Number.NaN])('refuses port %s', async (port) => {
    const { app } = makeApp();
    const error: unknown = await hitchExpress.listen(app, port).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
  });

  it.each([0, -5, Number.NaN, Number.POSITIVE_INFINITY])('refuses closeTimeoutMs %s up front, before listening', async (closeTimeoutMs) => {
    const { app } = makeApp();
    const error: unknown = await hitchExpress.listen(app, 0, { host: '127.0.0.1', closeTimeoutMs }).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
    expect(String(error)).toContain('closeTimeoutMs');
  });
});

describe('lifecycle.shutdown() with a server from listen()', () => {
  const PRE_STOP_MS = 1000;

  /** Hitch on a fake clock, so the pre-stop delay passes only when the test says. */
  function setup(options: { hookTimeoutMs?: number } = {}): App & { clock: FakeClock } {
    const clock = new FakeClock();
    const app = makeApp({ clock, lifecycle: { preStopDelayMs: PRE_STOP_MS, ...options } });
    // Whatever a failing test left pending: let the shutdown run to its end before Hitch is shut down.
    harness.defer(() => clock.advance(60_000));
    return { ...app, clock };
  }

  it('fails readiness first, then closes idle connections, lets in-flight requests finish, then closes', async () => {
    const { hitch, app, clock, gates, arrived } = setup();
    const server = await listen(app);
    // Events as the server sees them (the client may read a response after the server closed).
    const events: string[] = [];
    server.server.once('close', () => events.push('server closed'));
    server.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/work/') === true) res.once('finish', () => events.push('in-flight answered'));
    });

    const idle = await idleConnection(server.port);
    const idleClosed = once(idle, 'close').then(() => events.push('idle connection closed'));
    const inFlight = server.send('/work/1', { agent: harness.agent() });
    await arrived(1);

    const report = hitch.lifecycle.shutdown();
    // During the pre-stop delay: still serving, but readiness fails.
    const probe = await server.send('/readyz');
    events.push(`readiness ${probe.status}`);
    expect(probe.json).toEqual({ status: 'fail', reason: 'draining', checks: {} });
    expect(server.server.listening).toBe(true);
    expect(idle.destroyed).toBe(false);
    expect((await server.send('/healthz')).status).toBe(200);

    clock.advance(PRE_STOP_MS);
    await idleClosed;
    // The server no longer accepts connections, but waits for the request in flight.
    expect(server.server.listening).toBe(false);
    await expect(server.send('/ping')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(events).toEqual(['readiness 503', 'idle connection closed']);

    gates[0]!.open();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: '1', done: true });
    // Its connection is not kept: the server is going away.
    expect(res.headers.connection).toBe('close');
    const done: ShutdownReport = await report;
    expect(done.ok).toBe(true);
    expect(events).toEqual(['readiness 503', 'idle connection closed', 'in-flight answered', 'server closed']);
  });

  it('forces the connections still busy after closeTimeoutMs (on the Hitch clock)', async () => {
    const { hitch, app, clock, arrived } = setup();
    const server = await listen(app, { closeTimeoutMs: 500 });
    const stuck = outcome(server.send('/work/1'));
    await arrived(1);
    const report = track(hitch.lifecycle.shutdown());
    clock.advance(PRE_STOP_MS);
    await turn();
    expect(server.server.listening).toBe(false);
    clock.advance(499);
    await turn();
    expect(report.settled).toBe(false);
    clock.advance(1);
    expect(await stuck).toBe('connection lost');
    // A request was cut off: the hook fails, so the report (and a signal-driven exit code) says so.
    const done: ShutdownReport = await hitch.lifecycle.shutdown();
    expect(done.ok).toBe(false);
    expect(done.hooks).toContainEqual(expect.objectContaining({ name: `http server :${server.port}`, status: 'failed' }));
  });

  it("forces them when the hook's own time is up (its signal aborts)", async () => {
    const { hitch, app, clock, arrived } = setup({ hookTimeoutMs: 300 });
    const server = await listen(app, { closeTimeoutMs: 60_000 });
    const stuck = outcome(server.send('/work/1'));
    await arrived(1);
    const report = hitch.lifecycle.shutdown();
    clock.advance(PRE_STOP_MS);
    await turn();
    clock.advance(300);
    expect(await stuck).toBe('connection lost');
    const done = await report;
    expect(done.ok).toBe(false);
    expect(done.hooks).toContainEqual(expect.objectContaining({ name: `http server :${server.port}`, status: 'timed-out' }));
  });
});

describe('closeGracefully(server)', () => {
  it('reports the requests in flight, forced 0 once they all finished', async () => {
    const { app, gates, arrived } = makeApp();
    const server = await listen(app);
    const replies = [server.send('/work/1', { agent: harness.agent() }), server.send('/work/2', { agent: harness.agent() })];
    await arrived(2);
    const closing = closeGracefully(server.server);
    const report = track(closing);
    expect(server.server.listening).toBe(false);
    gates[0]!.open();
    expect((await replies[0]!).status).toBe(200);
    await turn();
    expect(report.settled).toBe(false);
    gates[1]!.open();
    const res = await replies[1]!;
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe('close');
    await expect(closing).resolves.toEqual({ inFlight: 2, forced: 0 } satisfies CloseReport);
  });

  it('forces what is left after timeoutMs and reports it', async () => {
    const clock = new FakeClock();
    const { app, gates, arrived } = makeApp();
    const server = await listen(app);
    const quick = server.send('/work/1');
    const stuck = outcome(server.send('/work/2'));
    await arrived(2);
    const closing = closeGracefully(server.server, { timeoutMs: 500, clock });
    const report = track(closing);
    gates[0]!.open();
    expect((await quick).status).toBe(200);
    clock.advance(499);
    await turn();
    expect(report.settled).toBe(false);
    clock.advance(1);
    await expect(closing).resolves.toEqual({ inFlight: 2, forced: 1 });
    expect(await stuck).toBe('connection lost');
    expect(clock.pendingTimers).toBe(0);
  });

  it('forces at once when its signal aborts', async () => {
    const clock = new FakeClock();
    const { app, arrived } = makeApp();
    const server = await listen(app);
    const stuck = outcome(server.send('/work/1'));
    await arrived(1);
    const controller = new AbortController();
    const closing = closeGracefully(server.server, { signal: controller.signal, clock });
    controller.abort();
    await expect(closing).resolves.toEqual({ inFlight: 1, forced: 1 });
    expect(await stuck).toBe('connection lost');
    expect(clock.pendingTimers).toBe(0);
  });

  it('forces at once with a signal already aborted', async () => {
    const { app, arrived } = makeApp();
    const server = await listen(app);
    const stuck = outcome(server.send('/work/1'));
    await arrived(1);
    await expect(closeGracefully(server.server, { signal: AbortSignal.abort() })).resolves.toEqual({ inFlight: 1, forced: 1 });
    expect(await stuck).toBe('connection lost');
  });

  it('closes idle keep-alive connections at once, also on a server it did not start', async () => {
    const server = await harness.serve((_req, res) => res.end('ok'));
    const idle = await idleConnection(server.port);
    const idleClosed = once(idle, 'close');
    const closing = closeGracefully(server.server);
    await idleClosed;
    await expect(closing).resolves.toMatchObject({ forced: 0 });
  });

  it('is idempotent: a second call returns the same promise', async () => {
    const { app } = makeApp();
    const server = await listen(app);
    const first = closeGracefully(server.server);
    expect(closeGracefully(server.server, { timeoutMs: 1 })).toBe(first);
    await first;
  });

  it('resolves at once for a server that is not listening, and clears its timer', async () => {
    const clock = new FakeClock();
    const { app } = makeApp();
    const server = await listen(app);
    await new Promise<void>((resolve) => server.server.close(() => resolve()));
    await expect(closeGracefully(server.server, { clock })).resolves.toEqual({ inFlight: 0, forced: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('throws InvalidOptionError for timeoutMs %s', async (timeoutMs) => {
    const { app } = makeApp();
    const server: Server = (await listen(app)).server;
    expect(() => closeGracefully(server, { timeoutMs })).toThrow(/closeGracefully\.timeoutMs: should be a positive number of milliseconds/);
  });
});

describe('a real process on SIGTERM with 100 requests in flight', () => {
  const REQUESTS = 100;
  const fixture = fileURLToPath(new URL('./fixtures/graceful-server.mjs', import.meta.url));

  it('fails readiness, finishes every request, closes, and exits 0 by itself', async () => {
    const run = runFixture(harness, fixture, [String(REQUESTS)]);
    const port = Number((await run.line((line) => line.startsWith('listening '))).split(' ')[1]);

    // An idle keep-alive connection, and 100 concurrent requests over four keep-alive agents.
    const idle = await idleConnection(port);
    const idleClosed = once(idle, 'close');
    const agents = Array.from({ length: 4 }, () => harness.agent({ maxSockets: REQUESTS / 4 }));
    const replies = Array.from({ length: REQUESTS }, (_, i) => send(port, `/work/${i}`, { agent: agents[i % agents.length] }));
    await run.line((line) => line === `inflight ${REQUESTS}`);

    run.child.kill('SIGTERM');
    await run.line((line) => line === 'sigterm');
    // The server still accepts connections, and says it is not ready.
    const probe = await send(port, '/readyz');
    expect(probe.status).toBe(503);
    expect(probe.json).toEqual({ status: 'fail', reason: 'draining', checks: {} });

    const responses = await Promise.all(replies);
    expect(responses.map((res) => res.status)).toEqual(Array.from({ length: REQUESTS }, () => 200));
    responses.forEach((res, i) => {
      expect(res.json).toEqual({ id: i, padding: 'x'.repeat(4096) });
      expect(res.headers.connection).toBe('close');
    });
    await idleClosed;

    const exit = await run.exited;
    expect(exit).toEqual({ code: 0, signal: null, hung: false });
    // The child's view, in order: readiness failed (and was seen) before the servers started
    // closing; every request was answered before the server closed.
    expect(run.lines).toEqual([
      expect.stringMatching(/^listening \d+$/),
      `inflight ${REQUESTS}`,
      'sigterm',
      'readiness 503',
      'draining',
      `answered ${REQUESTS}`,
      'server closed',
      'exit 0',
    ]);
    const logs = run
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(logs.filter((log) => log.level >= 40)).toEqual([]);
    expect(logs.map((log) => log.msg)).toEqual(
      expect.arrayContaining([`shutdown hook "http server :${port}" done`, 'shutdown complete', 'exiting with code 0']),
    );
  }, 30_000);
});
