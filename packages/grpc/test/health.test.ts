import { ShutdownPriority, isInvalidOptionError } from '@hitch/core';
import { ServingStatus, addHealthService } from '@hitch/grpc';
import type { HealthServiceOptions } from '@hitch/grpc';
import { Server, status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CountingClock, ECHO_SERVICE, GrpcHarness, check, gate, watch } from './support/policy-harness.js';
import type { HealthClient } from './support/policy-harness.js';

// grpc.health.v1.Health as createServer and addHealthService serve it, checked by an independent
// plain grpc-js client built from the standard health proto that grpc-health-check ships
// (https://github.com/grpc/grpc/blob/master/doc/health-checking.md).

const harness = new GrpcHarness();
afterEach(() => harness.dispose());

/** Echo on createServer, and a health client of it. */
async function served(options: { health?: boolean } = {}): Promise<{ health: HealthClient; server: Awaited<ReturnType<GrpcHarness['serveHitch']>>['server'] }> {
  harness.createHitch();
  const { server, address } = await harness.serveHitch(harness.backend(), options);
  return { server, health: harness.healthClient(address) };
}

/** `addHealthService` on a plain grpc-js server, with a Watch re-evaluation of a few milliseconds. */
async function servedDirectly(options: Omit<HealthServiceOptions, 'hitch'> = {}): Promise<{ health: HealthClient; service: ReturnType<typeof addHealthService> }> {
  const server = new Server();
  const service = addHealthService(server, { hitch: harness.hitch, watchIntervalMs: 5, ...options });
  const { address } = await harness.bind(server);
  return { service, health: harness.healthClient(address) };
}

const failing = (): never => {
  throw new Error('database unreachable');
};

describe('Check', () => {
  it("answers SERVING for '' (the whole server) while readiness passes", async () => {
    const { health } = await served();
    expect(await check(health, '')).toMatchObject({ code: Status.OK, reply: { status: 'SERVING' } });
  });

  it('knows the services added through createServer', async () => {
    const { health } = await served();
    expect(await check(health, ECHO_SERVICE)).toMatchObject({ code: Status.OK, reply: { status: 'SERVING' } });
  });

  it('answers NOT_FOUND for a service it does not know', async () => {
    const { health } = await served();
    const result = await check(health, 'unknown.Service');
    expect(result.code).toBe(Status.NOT_FOUND);
    expect(result.details).toContain('unknown.Service');
  });

  it('answers NOT_SERVING while a critical readiness check fails, SERVING again once it passes', async () => {
    const { health } = await served();
    const unregister = harness.hitch.lifecycle.health.register('database', failing);
    expect(await check(health, '')).toMatchObject({ code: Status.OK, reply: { status: 'NOT_SERVING' } });
    expect(await check(health, ECHO_SERVICE)).toMatchObject({ code: Status.OK, reply: { status: 'NOT_SERVING' } });
    unregister();
    expect(await check(health, '')).toMatchObject({ reply: { status: 'SERVING' } });
  });

  it('stays SERVING when only a non-critical check fails', async () => {
    const { health } = await served();
    harness.hitch.lifecycle.health.register('cache', failing, { critical: false });
    expect(await check(health, '')).toMatchObject({ reply: { status: 'SERVING' } });
  });

  it('ignores liveness-only checks', async () => {
    const { health } = await served();
    harness.hitch.lifecycle.health.register('event loop', failing, { kind: 'liveness' });
    expect(await check(health, '')).toMatchObject({ reply: { status: 'SERVING' } });
  });

  it('answers NOT_SERVING after setReady(false)', async () => {
    const { health } = await served();
    harness.hitch.lifecycle.health.setReady(false);
    expect(await check(health, '')).toMatchObject({ reply: { status: 'NOT_SERVING' } });
    harness.hitch.lifecycle.health.setReady(true);
    expect(await check(health, '')).toMatchObject({ reply: { status: 'SERVING' } });
  });

  it('answers NOT_SERVING while draining, before the server stops accepting calls', async () => {
    const { health } = await served();
    // Holds the shutdown before the servers close, as a wait for the load balancer would.
    const held = gate();
    harness.hitch.lifecycle.onShutdown('hold', () => held.promise, { priority: ShutdownPriority.StopAccepting - 5 });
    const report = harness.hitch.lifecycle.shutdown();
    expect(harness.hitch.lifecycle.state).toBe('draining');
    expect(await check(health, '')).toMatchObject({ code: Status.OK, reply: { status: 'NOT_SERVING' } });
    expect(await check(health, ECHO_SERVICE)).toMatchObject({ code: Status.OK, reply: { status: 'NOT_SERVING' } });
    held.open();
    expect((await report).ok).toBe(true);
  });

  it('is not served with health: false', async () => {
    const { health } = await served({ health: false });
    expect((await check(health, '')).code).toBe(Status.UNIMPLEMENTED);
  });
});

describe('Watch', () => {
  it('sends the current status first, then each change', async () => {
    harness.createHitch();
    const { health } = await servedDirectly();
    const watcher = watch(health, '');
    expect(await watcher.status(1)).toBe('SERVING');
    const unregister = harness.hitch.lifecycle.health.register('database', failing);
    expect(await watcher.status(2)).toBe('NOT_SERVING');
    unregister();
    expect(await watcher.status(3)).toBe('SERVING');
    watcher.cancel();
    expect((await watcher.ended).code).toBe(Status.CANCELLED);
    // Only changes are sent, never the same status twice in a row.
    expect(watcher.statuses).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
  });

  it('starts with NOT_SERVING when readiness already fails', async () => {
    harness.createHitch();
    harness.hitch.lifecycle.health.register('database', failing);
    const { health } = await servedDirectly();
    const watcher = watch(health, '');
    expect(await watcher.status(1)).toBe('NOT_SERVING');
    watcher.cancel();
    await watcher.ended;
  });

  it('tells every watcher NOT_SERVING when stopServing() is called, then ends the streams', async () => {
    const { health, server } = await served();
    const whole = watch(health, '');
    const echo = watch(health, ECHO_SERVICE);
    expect(await whole.status(1)).toBe('SERVING');
    expect(await echo.status(1)).toBe('SERVING');
    server.health!.stopServing();
    expect(await whole.status(2)).toBe('NOT_SERVING');
    expect(await echo.status(2)).toBe('NOT_SERVING');
    // Ended (OK), so that a graceful shutdown of the server does not wait for them.
    expect((await whole.ended).code).toBe(Status.OK);
    expect((await echo.ended).code).toBe(Status.OK);
    expect(whole.statuses).toEqual(['SERVING', 'NOT_SERVING']);
    expect(await server.health!.status()).toBe(ServingStatus.NOT_SERVING);
    expect(await check(health, '')).toMatchObject({ reply: { status: 'NOT_SERVING' } });

    // A Watch made later gets NOT_SERVING and ends at once.
    const late = watch(health, '');
    expect((await late.ended).code).toBe(Status.OK);
    expect(late.statuses).toEqual(['NOT_SERVING']);
  });

  it('answers SERVICE_UNKNOWN for a service it does not know, and keeps the stream open', async () => {
    harness.createHitch();
    const { health, service } = await servedDirectly();
    const watcher = watch(health, 'unknown.Service');
    expect(await watcher.status(1)).toBe('SERVICE_UNKNOWN');
    // The spec: once the service becomes known, the watcher gets its status.
    service.addService('unknown.Service');
    expect(await watcher.status(2)).toBe('SERVING');
    watcher.cancel();
    expect((await watcher.ended).code).toBe(Status.CANCELLED);
  });

  it('clears its re-evaluation timer when the client cancels the stream', async () => {
    const clock = new CountingClock();
    harness.createHitch({ clock });
    // A delay no other timer of Hitch uses, to find the Watch's timers among them.
    const intervalMs = 7_919;
    const { health } = await servedDirectly({ watchIntervalMs: intervalMs });
    const first = watch(health, '');
    const second = watch(health, '');
    expect(await first.status(1)).toBe('SERVING');
    expect(await second.status(1)).toBe('SERVING');
    expect(clock.pendingFor(intervalMs)).toBe(2);

    first.cancel();
    await first.ended;
    await vi.waitFor(() => expect(clock.pendingFor(intervalMs)).toBe(1), { timeout: 5_000, interval: 5 });
    second.cancel();
    await second.ended;
    await vi.waitFor(() => expect(clock.pendingFor(intervalMs)).toBe(0), { timeout: 5_000, interval: 5 });
  });
});

describe('addHealthService', () => {
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses watchIntervalMs %s', (watchIntervalMs) => {
    harness.createHitch();
    const error: unknown = (() => {
      try {
        addHealthService(new Server(), { hitch: harness.hitch, watchIntervalMs });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isInvalidOptionError(error)).toBe(true);
    expect(String(error)).toContain('addHealthService.watchIntervalMs: should be a positive number of milliseconds');
  });

  it('refuses a missing hitch', () => {
    expect(() => addHealthService(new Server(), {} as HealthServiceOptions)).toThrow(/addHealthService\.hitch/);
  });

  it('answers for the services it was given', async () => {
    harness.createHitch();
    const { health } = await servedDirectly({ services: ['a.Service'] });
    expect(await check(health, 'a.Service')).toMatchObject({ reply: { status: 'SERVING' } });
    expect((await check(health, 'b.Service')).code).toBe(Status.NOT_FOUND);
  });
});
