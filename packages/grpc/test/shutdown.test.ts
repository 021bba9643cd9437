import type { ShutdownReport } from '@hitch/core';
import { shutdownGracefully } from '@hitch/grpc';
import { status as Status } from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcHarness, check, echo, hold, startEcho, watch } from './support/policy-harness.js';
import type { Outcome } from './support/policy-harness.js';

// createServer under hitch.lifecycle.shutdown(): health goes NOT_SERVING first, calls in flight
// finish, new calls are refused, then the server is down; a call that never finishes is cut off
// by forceShutdown, and the report says so. Then a real process that receives SIGTERM with calls
// in flight.

const harness = new GrpcHarness();
afterEach(() => harness.dispose());

const GRPC_SERVER_HOOK = expect.stringMatching(/^grpc server \d+$/);

/** The hook createServer registered, as the report tells it. */
function serverHook(hooks: ShutdownReport['hooks']): ShutdownReport['hooks'][number] | undefined {
  return hooks.find((hook) => /^grpc server \d+$/.test(hook.name));
}

describe('lifecycle.shutdown() with a server from createServer', () => {
  it('goes NOT_SERVING first, lets the calls in flight finish, refuses new calls, then the server is down', async () => {
    harness.createHitch();
    const backend = harness.backend().always('Echo', hold);
    const { address } = await harness.serveHitch(backend);
    const client = harness.plainClient(address);
    const events: string[] = [];

    // A load balancer watching the health of the server.
    const watcher = watch(harness.healthClient(address), '');
    expect(await watcher.status(1)).toBe('SERVING');
    const inFlight = Array.from({ length: 3 }, (_, i) => echo(client, { message: `call ${i}` }));
    await backend.whenHeld(3);

    const report = harness.hitch.lifecycle.shutdown();
    void report.then(() => events.push('shutdown done'));
    expect(await watcher.status(2)).toBe('NOT_SERVING');
    events.push('health NOT_SERVING');
    // Its stream ends: the graceful shutdown does not wait for it.
    expect((await watcher.ended).code).toBe(Status.OK);

    // A new client is refused (nothing listens any more); the calls in flight go on.
    const refused = await echo(harness.plainClient(address), { message: 'late' });
    expect(refused.code).toBe(Status.UNAVAILABLE);
    events.push('new call refused');
    expect(backend.calls('Echo')).toBe(3);

    backend.releaseAll();
    const answers = await Promise.all(inFlight);
    events.push('in-flight answered');
    expect(answers).toMatchObject([0, 1, 2].map((i) => ({ code: Status.OK, reply: { message: `call ${i}` } })));

    const done = await report;
    expect(done.ok).toBe(true);
    expect(done.hooks).toContainEqual(expect.objectContaining({ name: GRPC_SERVER_HOOK, priority: 10, status: 'ok' }));
    expect(events).toEqual(['health NOT_SERVING', 'new call refused', 'in-flight answered', 'shutdown done']);
    // Down: even the client whose calls were answered is refused now.
    expect((await echo(client, { message: 'after' })).code).toBe(Status.UNAVAILABLE);
    expect((await check(harness.healthClient(address), '')).code).toBe(Status.UNAVAILABLE);
  });

  it('refuses new calls on a connection that was open before the shutdown, while one is in flight', async () => {
    harness.createHitch();
    const backend = harness.backend().script('Echo', hold);
    const { address } = await harness.serveHitch(backend);
    const client = harness.plainClient(address);
    const inFlight = echo(client, { message: 'first' });
    await backend.whenHeld(1);
    const report = harness.hitch.lifecycle.shutdown();
    expect((await echo(client, { message: 'second' })).code).toBe(Status.UNAVAILABLE);
    expect(backend.calls('Echo')).toBe(1);
    backend.releaseAll();
    expect((await inFlight).code).toBe(Status.OK);
    expect((await report).ok).toBe(true);
  });

  it('cuts a call that never finishes at shutdownTimeoutMs (forceShutdown), and the report says so', async () => {
    harness.createHitch();
    const backend = harness.backend().script('Echo', hold);
    const { address } = await harness.serveHitch(backend, { shutdownTimeoutMs: 100 });
    const stuck = echo(harness.plainClient(address));
    await backend.whenHeld(1);

    const done = await harness.hitch.lifecycle.shutdown();
    const cut: Outcome<unknown> = await stuck;
    expect(cut.code).not.toBe(Status.OK);
    expect(done.ok).toBe(false);
    const hook = serverHook(done.hooks);
    expect(hook).toMatchObject({ status: 'failed' });
    expect(hook?.error).toContain('forceShutdown');
    expect(hook?.error).toContain('100 ms');
    expect(backend.answered).toBe(0);
  });

  it("forces the server down at once when the hook's own time is up", async () => {
    harness.createHitch({ lifecycle: { hookTimeoutMs: 100 } });
    const backend = harness.backend().script('Echo', hold);
    const { address } = await harness.serveHitch(backend, { shutdownTimeoutMs: 600_000 });
    const stuck = echo(harness.plainClient(address));
    await backend.whenHeld(1);

    const done = await harness.hitch.lifecycle.shutdown();
    expect((await stuck).code).not.toBe(Status.OK);
    expect(done.ok).toBe(false);
    expect(serverHook(done.hooks)).toMatchObject({ status: 'timed-out' });
  });

  it('shuts down at once with nothing in flight', async () => {
    harness.createHitch();
    const { address } = await harness.serveHitch(harness.backend());
    const client = harness.plainClient(address);
    expect((await echo(client)).code).toBe(Status.OK);
    const done = await harness.hitch.lifecycle.shutdown();
    expect(done.ok).toBe(true);
    expect(done.hooks).toContainEqual(expect.objectContaining({ name: GRPC_SERVER_HOOK, priority: 10, status: 'ok' }));
    expect((await echo(client)).code).toBe(Status.UNAVAILABLE);
  });

  it('lets a client of a Hitch client with a policy see the in-flight answer', async () => {
    harness.createHitch();
    const backend = harness.backend().script('Echo', hold);
    const { address } = await harness.serveHitch(backend);
    const client = harness.client(address, { retry: { backoff: { kind: 'constant', delayMs: 1 }, budget: false } });
    const { outcome } = startEcho(client, { message: 'kept' });
    await backend.whenHeld(1);
    const report = harness.hitch.lifecycle.shutdown();
    backend.releaseAll();
    expect(await outcome).toMatchObject({ code: Status.OK, reply: { message: 'kept' } });
    expect((await report).ok).toBe(true);
  });
});

describe('shutdownGracefully(server)', () => {
  it('resolves true once the calls in flight finished', async () => {
    harness.createHitch();
    const backend = harness.backend().script('Echo', hold);
    const { server, address } = await harness.servePlain(backend);
    const call = echo(harness.plainClient(address));
    await backend.whenHeld(1);
    const closing = shutdownGracefully(server, { timeoutMs: 600_000 });
    backend.releaseAll();
    expect((await call).code).toBe(Status.OK);
    await expect(closing).resolves.toBe(true);
  });

  it('forces the server down and resolves false when its signal aborts', async () => {
    harness.createHitch();
    const backend = harness.backend().script('Echo', hold);
    const { server, address } = await harness.servePlain(backend);
    const call = echo(harness.plainClient(address));
    await backend.whenHeld(1);
    const controller = new AbortController();
    const closing = shutdownGracefully(server, { timeoutMs: 600_000, signal: controller.signal });
    controller.abort();
    await expect(closing).resolves.toBe(false);
    expect((await call).code).not.toBe(Status.OK);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses timeoutMs %s', async (timeoutMs) => {
    harness.createHitch();
    const { server } = await harness.servePlain(harness.backend());
    expect(() => shutdownGracefully(server, { timeoutMs })).toThrow(/shutdownGracefully\.timeoutMs: should be a positive number of milliseconds/);
  });
});

describe('a real process on SIGTERM with 20 calls in flight', () => {
  const CALLS = 20;
  const fixture = fileURLToPath(new URL('./fixtures/grpc-server.mjs', import.meta.url));

  it('goes NOT_SERVING, answers every call, and exits 0 by itself', async () => {
    const run = harness.runFixture(fixture, [String(CALLS)]);
    const port = Number((await run.line((line) => line.startsWith('listening '))).split(' ')[1]);
    const address = `127.0.0.1:${port}`;

    const watcher = watch(harness.healthClient(address), '');
    expect(await watcher.status(1)).toBe('SERVING');
    const client = harness.plainClient(address);
    const calls = Array.from({ length: CALLS }, (_, i) => echo(client, { message: `call ${i}` }));
    await run.line((line) => line === `inflight ${CALLS}`);

    run.child.kill('SIGTERM');
    expect(await watcher.status(2)).toBe('NOT_SERVING');
    const answers = await Promise.all(calls);
    expect(answers).toMatchObject(Array.from({ length: CALLS }, (_, i) => ({ code: Status.OK, reply: { message: `call ${i}` } })));
    expect((await watcher.ended).code).toBe(Status.OK);

    const exit = await run.exited;
    expect(exit).toEqual({ code: 0, signal: null, hung: false });
    expect(run.lines).toEqual([`listening ${port}`, `inflight ${CALLS}`, 'draining', 'sigterm', `answered ${CALLS}`, 'exit 0']);
    const logs = run
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(logs.filter((log) => log.level >= 40)).toEqual([]);
    expect(logs.map((log) => log.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^shutdown hook "grpc server \d+" done$/), 'shutdown complete', 'exiting with code 0']));
  }, 30_000);
});
