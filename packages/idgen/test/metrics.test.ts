import type { Hitch } from '@hitch/core';
import { createHitch, isMetricRegistrationError } from '@hitch/core';
import { checkMetricName } from '@hitch/core/naming';
import { afterEach, describe, expect, it } from 'vitest';
import { createSnowflake } from '../src/index.js';
import { ManualClock, T0 } from './support/manual-clock.js';

const hitches: Hitch[] = [];
function newHitch(backend: 'prom-client' | 'otel' = 'prom-client'): Hitch {
  const hitch = createHitch({ service: { name: 'idgen-test' }, metrics: { backend, runtimeMetrics: false }, tracing: { exporter: 'none' }, logging: { level: 'silent' } });
  hitches.push(hitch);
  return hitch;
}
afterEach(async () => {
  await Promise.all(hitches.splice(0).map((h) => h.shutdown()));
});

/** The value of one series in the Prometheus text, or undefined. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const NAMES = [
  ['hitch_idgen_ids_total', 'counter'],
  ['hitch_idgen_clock_rollbacks_total', 'counter'],
  ['hitch_idgen_clock_rollback_max_seconds', 'gauge'],
  ['hitch_idgen_sequence_waits_total', 'counter'],
] as const;

describe('metrics', () => {
  it.each(NAMES)('%s passes the naming rules', (name, type) => {
    expect(checkMetricName(name, type)).toEqual([]);
  });

  describe.each(['prom-client', 'otel'] as const)('through hitch.metrics.render() (%s)', (backend) => {
    it('counts ids, rollbacks, the largest rollback and waits', async () => {
      const hitch = newHitch(backend);
      const clock = new ManualClock(T0);
      const layout = { timestampBits: 51, datacenterBits: 4, workerBits: 6, sequenceBits: 2 };
      const snowflake = createSnowflake({ workerId: 1, clock, hitch, layout, maxRollbackMs: 2, name: 'orders' });

      let body = (await hitch.metrics.render()).body;
      // Every series exists from the start, at zero.
      expect(sample(body, 'hitch_idgen_ids_total{generator="orders"}')).toBe(0);
      expect(sample(body, 'hitch_idgen_clock_rollbacks_total{generator="orders"}')).toBe(0);
      expect(sample(body, 'hitch_idgen_clock_rollback_max_seconds{generator="orders"}')).toBe(0);
      expect(sample(body, 'hitch_idgen_sequence_waits_total{generator="orders"}')).toBe(0);

      for (let i = 0; i < 5; i++) snowflake.next();
      clock.advance(-1); // within maxRollbackMs: continues
      for (let i = 0; i < 2; i++) snowflake.next();
      clock.advance(-30); // beyond: refused, counted once however often next() is called
      expect(() => snowflake.next()).toThrow(/clock moved backwards/);
      clock.advance(1);
      expect(() => snowflake.next()).toThrow(/clock moved backwards/);
      clock.set(T0 + 10);
      // 4 ids per ms, up to 2 ms ahead: 12 ids, then the 13th waits for the clock's next millisecond.
      for (let i = 0; i < 12; i++) snowflake.next();
      clock.advancePerRead = 0.5;
      snowflake.next();

      body = (await hitch.metrics.render()).body;
      expect(sample(body, 'hitch_idgen_ids_total{generator="orders"}')).toBe(20);
      expect(sample(body, 'hitch_idgen_clock_rollbacks_total{generator="orders"}')).toBe(2);
      expect(sample(body, 'hitch_idgen_clock_rollback_max_seconds{generator="orders"}')).toBe(0.03);
      expect(sample(body, 'hitch_idgen_sequence_waits_total{generator="orders"}')).toBe(1);

      // Only the ids issued since the last collection are added.
      snowflake.next();
      body = (await hitch.metrics.render()).body;
      expect(sample(body, 'hitch_idgen_ids_total{generator="orders"}')).toBe(21);
    });
  });

  it('generators of one registry share the metrics, one series per name', async () => {
    const hitch = newHitch();
    const clock = new ManualClock(T0);
    const a = createSnowflake({ workerId: 1, clock, hitch, name: 'a' });
    const b1 = createSnowflake({ workerId: 2, clock, hitch, name: 'b' });
    const b2 = createSnowflake({ workerId: 3, clock, hitch, name: 'b' });
    a.next();
    for (let i = 0; i < 3; i++) b1.next();
    for (let i = 0; i < 4; i++) b2.next();
    const { body } = await hitch.metrics.render();
    expect(sample(body, 'hitch_idgen_ids_total{generator="a"}')).toBe(1);
    expect(sample(body, 'hitch_idgen_ids_total{generator="b"}')).toBe(7);
  });

  it('separate Hitch instances keep separate counts', async () => {
    const one = newHitch();
    const two = newHitch();
    const clock = new ManualClock(T0);
    createSnowflake({ workerId: 1, clock, hitch: one }).next();
    const second = createSnowflake({ workerId: 1, clock, hitch: two });
    second.next();
    second.next();
    expect(sample((await one.metrics.render()).body, 'hitch_idgen_ids_total{generator="default"}')).toBe(1);
    expect(sample((await two.metrics.render()).body, 'hitch_idgen_ids_total{generator="default"}')).toBe(2);
  });

  it('uses the clock of the Hitch instance when none is given', () => {
    const clock = new ManualClock(T0);
    const hitch = createHitch({ service: { name: 'idgen-test' }, clock, metrics: { runtimeMetrics: false }, tracing: { exporter: 'none' }, logging: { level: 'silent' } });
    hitches.push(hitch);
    const snowflake = createSnowflake({ workerId: 1, hitch });
    expect(snowflake.decode(snowflake.next()).timestamp).toBe(T0);
  });

  it('a name clash with an existing metric fails at construction, not in next()', () => {
    const hitch = newHitch();
    hitch.metrics.counter({ name: 'hitch_idgen_ids_total', help: 'someone else', labels: { kind: { maxValues: 2 } } });
    let error: unknown;
    try {
      createSnowflake({ workerId: 1, hitch, env: {} });
    } catch (e) {
      error = e;
    }
    expect(isMetricRegistrationError(error)).toBe(true);
  });

  it('makes no metrics call per id: ids are added to the counter once per collection', () => {
    const calls: { metric: string; value: number | undefined }[] = [];
    const collects: (() => void)[] = [];
    const instrument = (options: { name: string; collect?: () => void }) => {
      if (options.collect !== undefined) collects.push(options.collect);
      const record = (value?: number) => calls.push({ metric: options.name, value });
      return { bind: () => ({ inc: record, set: record }) };
    };
    const recording = { counter: instrument, gauge: instrument } as unknown as Hitch['metrics'];
    const clock = new ManualClock(T0, 0.001);
    const snowflake = createSnowflake({ workerId: 1, clock, hitch: { metrics: recording, clock }, env: {} });
    calls.length = 0;
    for (let i = 0; i < 10_000; i++) snowflake.next();
    expect(calls).toEqual([]);
    expect(collects).toHaveLength(1);
    collects[0]?.();
    expect(calls).toEqual([{ metric: 'hitch_idgen_ids_total', value: 10_000 }]);
    collects[0]?.();
    expect(calls).toHaveLength(1);
  });
});
