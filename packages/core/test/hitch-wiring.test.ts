import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hitch } from '../src/index.js';
import { CircuitOpenError, TimeoutError, createHitch, isBulkheadRejectedError } from '../src/index.js';
import { valueOf } from './support/exposition.js';
import { FakeClock } from './support/fake-clock.js';

let hitch: Hitch | undefined;
afterEach(async () => {
  await hitch?.shutdown();
  hitch = undefined;
});

function make(clock = new FakeClock()): { hitch: Hitch; clock: FakeClock; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  hitch = createHitch({
    service: { name: 'wiring' },
    clock,
    tracing: { exporter: 'memory' },
    metrics: { runtimeMetrics: false },
    logging: { level: 'info', destination },
    lifecycle: { preStopDelayMs: 0 },
  });
  return { hitch, clock, lines };
}

const fail = () => Promise.reject(new Error('downstream down'));
const ok = () => Promise.resolve(1);

describe('hitch.resilience reports through the instance', () => {
  it('breaker transitions: state gauge, transition counter, span event, log line', async () => {
    const { hitch, clock, lines } = make();
    const breaker = hitch.resilience.circuitBreaker({ name: 'pricing', minimumCalls: 2, openDurationMs: 1000 });
    await hitch.withSpan('request', async () => {
      for (let i = 0; i < 2; i++) await breaker.execute(fail).catch(() => undefined);
      await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    });
    clock.advance(1000);
    expect(await breaker.execute(ok)).toBe(1);

    const { body } = await hitch.metrics.render();
    expect(valueOf(body, 'hitch_circuit_breaker_state', { breaker: 'pricing' })).toBe(0);
    expect(valueOf(body, 'hitch_circuit_breaker_transitions_total', { breaker: 'pricing', from: 'closed', to: 'open' })).toBe(1);
    expect(valueOf(body, 'hitch_circuit_breaker_transitions_total', { breaker: 'pricing', from: 'open', to: 'half_open' })).toBe(1);
    expect(valueOf(body, 'hitch_circuit_breaker_transitions_total', { breaker: 'pricing', from: 'half_open', to: 'closed' })).toBe(1);
    expect(valueOf(body, 'hitch_circuit_breaker_rejections_total', { breaker: 'pricing', state: 'open' })).toBe(1);

    const span = hitch.tracing.finishedSpans().find((s) => s.name === 'request')!;
    expect(span.events.map((e) => e.name)).toEqual(['hitch.circuit_breaker.state_change', 'hitch.circuit_breaker.rejected']);
    expect(span.events[0]!.attributes).toMatchObject({ 'hitch.breaker': 'pricing', 'hitch.breaker.from': 'closed', 'hitch.breaker.to': 'open' });

    const transitions = lines.filter((l) => l.breaker === 'pricing').map((l) => [l.level, l.from, l.to]);
    expect(transitions).toEqual([
      [40, 'closed', 'open'],
      [30, 'open', 'half_open'],
      [30, 'half_open', 'closed'],
    ]);
  });

  it('retries, timeouts and bulkhead rejections are counted and become span events', async () => {
    const { hitch, clock } = make();
    const retry = hitch.resilience.retry({ name: 'quote', maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 }, budget: false });
    const timeout = hitch.resilience.timeout({ name: 'quote-timeout', timeoutMs: 50 });
    const bulkhead = hitch.resilience.bulkhead({ name: 'quote-bulkhead', maxConcurrent: 1 });

    await hitch.withSpan('request', async () => {
      const retried = retry.execute(fail);
      await Promise.resolve();
      clock.advance(10);
      await expect(retried).rejects.toThrow('downstream down');

      const hung = timeout.execute(() => new Promise(() => undefined));
      clock.advance(50);
      await expect(hung).rejects.toBeInstanceOf(TimeoutError);

      let release!: () => void;
      const running = bulkhead.execute(() => new Promise<void>((resolve) => (release = resolve)));
      await expect(bulkhead.execute(ok)).rejects.toSatisfy(isBulkheadRejectedError);
      release();
      await running;
    });

    const { body } = await hitch.metrics.render();
    expect(valueOf(body, 'hitch_retry_attempts_total', { policy: 'quote', outcome: 'retry' })).toBe(1);
    expect(valueOf(body, 'hitch_retry_attempts_total', { policy: 'quote', outcome: 'exhausted' })).toBe(1);
    expect(valueOf(body, 'hitch_timeouts_total', { policy: 'quote-timeout' })).toBe(1);
    expect(valueOf(body, 'hitch_bulkhead_rejections_total', { policy: 'quote-bulkhead' })).toBe(1);
    const span = hitch.tracing.finishedSpans().find((s) => s.name === 'request')!;
    expect(span.events.map((e) => e.name)).toEqual(['hitch.retry', 'hitch.retry', 'hitch.timeout', 'hitch.bulkhead.rejected']);
  });

  it('hitch.fetch through a breaker: 5xx opens it, the caller still gets responses until it is open', async () => {
    const { hitch } = make(undefined);
    const server = createServer((_req, res) => res.writeHead(503).end('busy'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const policy = hitch.resilience.circuitBreaker({ name: 'busy', minimumCalls: 3 });
      for (let i = 0; i < 3; i++) {
        const response = await hitch.fetch(`http://127.0.0.1:${port}/`, { policy });
        expect(response.status).toBe(503);
        expect(await response.text()).toBe('busy');
      }
      await expect(hitch.fetch(`http://127.0.0.1:${port}/`, { policy })).rejects.toBeInstanceOf(CircuitOpenError);
      expect(policy.state).toBe('open');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('hitch.tasks reports through the instance', () => {
  it('measures tasks and keeps the gauges current', async () => {
    const { hitch } = make();
    const runner = hitch.tasks.createRunner({ name: 'matcher', concurrency: 1 });
    await Promise.all([runner.submit('a', () => 1), runner.submit('b', () => 2)]);
    await expect(runner.submit('c', () => Promise.reject(new Error('no driver')))).rejects.toThrow('no driver');
    const { body } = await hitch.metrics.render();
    expect(valueOf(body, 'hitch_task_duration_seconds_count', { runner: 'matcher', outcome: 'success' })).toBe(2);
    expect(valueOf(body, 'hitch_task_duration_seconds_count', { runner: 'matcher', outcome: 'error' })).toBe(1);
    expect(valueOf(body, 'hitch_tasks_in_flight', { runner: 'matcher' })).toBe(0);
    expect(valueOf(body, 'hitch_tasks_queued', { runner: 'matcher' })).toBe(0);
    expect(hitch.tracing.finishedSpans().map((s) => s.name)).toEqual(['task a', 'task b', 'task c']);
  });

  it('logs and counts a failed detached task', async () => {
    const { hitch, lines } = make();
    const runner = hitch.tasks.createRunner({ name: 'emails' });
    runner.runDetached('send receipt', () => Promise.reject(new Error('smtp down')));
    await runner.drain();
    const { body } = await hitch.metrics.render();
    expect(valueOf(body, 'hitch_task_detached_failures_total', { runner: 'emails' })).toBe(1);
    const line = lines.find((l) => l.task === 'send receipt')!;
    expect(line.level).toBe(50);
    expect((line.err as { message: string }).message).toBe('smtp down');
  });

  it('hitch.shutdown() drains runners before flushing telemetry', async () => {
    const { hitch } = make(new FakeClock());
    const runner = hitch.tasks.createRunner({ name: 'late' });
    let finished = false;
    void runner.submit('slow', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      finished = true;
    });
    expect((await hitch.lifecycle.health.readiness()).status).toBe('pass');
    await hitch.shutdown();
    expect(finished).toBe(true);
    expect((await hitch.lifecycle.health.readiness()).status).toBe('fail');
    await expect(runner.submit('after', () => 1)).rejects.toThrow(/draining or drained/);
  });
});

describe('hitch.lifecycle', () => {
  it('a lifecycle shutdown runs the user hooks, drains tasks, then flushes telemetry', async () => {
    const { hitch } = make();
    const order: string[] = [];
    hitch.lifecycle.onShutdown('close server', () => void order.push('close server'), { priority: 10 });
    const runner = hitch.tasks.createRunner({ name: 'jobs' });
    void runner.submit('job', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push('job done');
    });
    const report = await hitch.lifecycle.shutdown('test');
    expect(report.ok).toBe(true);
    expect(report.hooks.map((h) => h.name)).toEqual(['close server', 'drain tasks', 'flush telemetry']);
    expect(order).toEqual(['close server', 'job done']);
    await expect(hitch.metrics.render()).rejects.toThrow(/after shutdown/);
    expect((await hitch.lifecycle.health.readiness()).status).toBe('fail');
  });
});
