import { afterEach, describe, expect, it } from 'vitest';
import type { Hitch, MetricsWarning } from '../src/index.js';
import { OVERFLOW_VALUE, createHitch } from '../src/index.js';
import { samplesOf, valueOf } from './support/exposition.js';
import { FakeClock } from './support/fake-clock.js';

// One contract, two backends: the same API must give the same numbers, bounds and overflow.
describe.each(['prom-client', 'otel'] as const)('metrics contract (%s backend)', (backend) => {
  let hitch: Hitch;
  let warnings: MetricsWarning[];
  let clock: FakeClock;

  function make(extra: { defaultLabels?: Record<string, string>; maxSeriesPerMetric?: number } = {}): Hitch {
    warnings = [];
    clock = new FakeClock();
    hitch = createHitch({
      service: { name: 'contract' },
      clock,
      metrics: { backend, runtimeMetrics: false, onWarning: (w) => warnings.push(w), ...extra },
    });
    return hitch;
  }

  afterEach(async () => {
    await hitch?.shutdown();
  });

  async function text(): Promise<string> {
    return (await hitch.metrics.render('text/plain')).body;
  }

  it('counts increments per label set', async () => {
    const { metrics } = make();
    const rides = metrics.counter({
      name: 'rides_requested_total',
      help: 'Ride requests received',
      labels: { city: { values: ['sh', 'sz'] }, vehicle_type: { maxValues: 10 } },
    });
    rides.inc({ city: 'sh', vehicle_type: 'electric' });
    rides.inc({ city: 'sh', vehicle_type: 'electric' }, 2.5);
    rides.inc({ city: 'sz', vehicle_type: 'van' });
    const body = await text();
    expect(valueOf(body, 'rides_requested_total', { city: 'sh', vehicle_type: 'electric' })).toBe(3.5);
    expect(valueOf(body, 'rides_requested_total', { city: 'sz', vehicle_type: 'van' })).toBe(1);
    expect(rides.seriesCount).toBe(2);
  });

  it('exposes a label-less metric at zero before its first write', async () => {
    const { metrics } = make();
    metrics.counter({ name: 'jobs_started_total', help: 'Jobs started' });
    metrics.gauge({ name: 'queue_depth', help: 'Jobs waiting' });
    const body = await text();
    expect(valueOf(body, 'jobs_started_total')).toBe(0);
    expect(valueOf(body, 'queue_depth')).toBe(0);
  });

  it('bind() writes to the same series as inc(labels)', async () => {
    const { metrics } = make();
    const rides = metrics.counter({ name: 'rides_total', help: 'Rides', labels: { city: { values: ['sh'] } } });
    const hot = rides.bind({ city: 'sh' });
    hot.inc();
    hot.inc(4);
    rides.inc({ city: 'sh' });
    expect(valueOf(await text(), 'rides_total', { city: 'sh' })).toBe(6);
  });

  it('gauges set, inc and dec, bound or not', async () => {
    const { metrics } = make();
    const online = metrics.gauge({ name: 'drivers_online', help: 'Drivers online', labels: { city: { values: ['sh'] } } });
    online.set({ city: 'sh' }, 10);
    online.inc({ city: 'sh' });
    online.dec({ city: 'sh' }, 3);
    const bound = online.bind({ city: 'sh' });
    bound.inc(2);
    bound.dec();
    expect(valueOf(await text(), 'drivers_online', { city: 'sh' })).toBe(9);
    bound.set(-4.5);
    expect(valueOf(await text(), 'drivers_online', { city: 'sh' })).toBe(-4.5);
  });

  it('histograms bucket inclusively (le) and sum and count', async () => {
    const { metrics } = make();
    const latency = metrics.histogram({
      name: 'match_duration_seconds',
      help: 'Match latency',
      labels: { city: { values: ['sh'] } },
      buckets: [0.1, 0.5, 1],
    });
    for (const v of [0.05, 0.1, 0.3, 0.5, 2]) latency.observe({ city: 'sh' }, v);
    latency.bind({ city: 'sh' }).observe(0.7);
    const body = await text();
    const bucket = (le: string) => valueOf(body, 'match_duration_seconds_bucket', { city: 'sh', le });
    expect([bucket('0.1'), bucket('0.5'), bucket('1'), bucket('+Inf')]).toEqual([2, 4, 5, 6]);
    expect(valueOf(body, 'match_duration_seconds_count', { city: 'sh' })).toBe(6);
    expect(valueOf(body, 'match_duration_seconds_sum', { city: 'sh' })).toBeCloseTo(3.65, 10);
  });

  it('startTimer observes elapsed seconds on the injected clock', async () => {
    const { metrics } = make();
    const latency = metrics.histogram({ name: 'job_duration_seconds', help: 'Job time', buckets: [1, 2, 5].map((b) => b / 10) });
    const end = latency.startTimer();
    clock.advance(150);
    expect(end()).toBe(0.15);
    expect(valueOf(await text(), 'job_duration_seconds_bucket', { le: '0.2' })).toBe(1);
  });

  it('records values beyond a maxValues bound under __overflow__ and counts them', async () => {
    const { metrics } = make();
    const rides = metrics.counter({ name: 'rides_total', help: 'Rides', labels: { vehicle_type: { maxValues: 2 } } });
    for (const v of ['a', 'b', 'c', 'd', 'a', 'e']) rides.inc({ vehicle_type: v });
    const body = await text();
    expect(valueOf(body, 'rides_total', { vehicle_type: 'a' })).toBe(2);
    expect(valueOf(body, 'rides_total', { vehicle_type: 'b' })).toBe(1);
    expect(valueOf(body, 'rides_total', { vehicle_type: OVERFLOW_VALUE })).toBe(3);
    expect(valueOf(body, 'hitch_metric_label_overflow_total', { metric: 'rides_total', label: 'vehicle_type' })).toBe(3);
    expect(warnings.filter((w) => w.code === 'HITCH_METRIC_LABEL_OVERFLOW')).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/label "vehicle_type" exceeded its bound/);
  });

  it('records values outside an allow-list under __overflow__', async () => {
    const { metrics } = make();
    const rides = metrics.counter({ name: 'rides_total', help: 'Rides', labels: { city: { values: ['sh', 'sz', 'bj'] } } });
    rides.inc({ city: 'paris' });
    rides.inc({ city: 'sh' });
    const body = await text();
    expect(valueOf(body, 'rides_total', { city: OVERFLOW_VALUE })).toBe(1);
    expect(valueOf(body, 'rides_total', { city: 'paris' })).toBeUndefined();
  });

  it('treats label values longer than 256 characters as overflow', async () => {
    const { metrics } = make();
    const c = metrics.counter({ name: 'requests_total', help: 'Requests', labels: { route: { maxValues: 100 } } });
    c.inc({ route: 'x'.repeat(300) });
    expect(valueOf(await text(), 'requests_total', { route: OVERFLOW_VALUE })).toBe(1);
  });

  it('routes new label combinations to one all-overflow series once maxSeries is reached', async () => {
    const { metrics } = make();
    const c = metrics.counter({
      name: 'requests_total',
      help: 'Requests',
      labels: { a: { maxValues: 10 }, b: { maxValues: 10 } },
      maxSeries: 3,
    });
    for (let i = 0; i < 5; i++) c.inc({ a: `a${i}`, b: `b${i}` });
    const body = await text();
    expect(samplesOf(body, 'requests_total')).toHaveLength(4);
    expect(valueOf(body, 'requests_total', { a: OVERFLOW_VALUE, b: OVERFLOW_VALUE })).toBe(2);
    expect(valueOf(body, 'hitch_metric_label_overflow_total', { metric: 'requests_total', label: '__series__' })).toBe(2);
    expect(warnings.some((w) => w.code === 'HITCH_METRIC_SERIES_OVERFLOW')).toBe(true);
  });

  it.each([
    ['a missing label', { city: 'sh' }, 1, 'missing_label'],
    ['an extra label', { city: 'sh', vehicle_type: 'van', user_id: '42' }, 1, 'unknown_label'],
    ['an object label value', { city: 'sh', vehicle_type: { a: 1 } }, 1, 'invalid_label_value'],
    ['a NaN increment', { city: 'sh', vehicle_type: 'van' }, Number.NaN, 'nan'],
    ['a negative increment', { city: 'sh', vehicle_type: 'van' }, -1, 'negative'],
    ['an infinite increment', { city: 'sh', vehicle_type: 'van' }, Infinity, 'non_finite'],
    ['a string increment', { city: 'sh', vehicle_type: 'van' }, '3', 'nan'],
    ['no labels at all', undefined, 1, 'missing_label'],
  ])('drops %s, counts it by reason and warns once', async (_case, labels, value, reason) => {
    const { metrics } = make();
    const rides = metrics.counter({
      name: 'rides_total',
      help: 'Rides',
      labels: { city: { values: ['sh'] }, vehicle_type: { maxValues: 5 } },
    });
    const inc = rides.inc as (labels: unknown, value?: unknown) => void;
    expect(() => inc.call(rides, labels, value)).not.toThrow();
    expect(() => inc.call(rides, labels, value)).not.toThrow();
    const body = await text();
    expect(samplesOf(body, 'rides_total')).toHaveLength(0);
    expect(valueOf(body, 'hitch_metric_invalid_observations_total', { metric: 'rides_total', reason })).toBe(2);
    expect(warnings.filter((w) => w.code === 'HITCH_METRIC_INVALID_OBSERVATION')).toHaveLength(1);
  });

  it('counts every write through a handle bound to invalid labels', async () => {
    const { metrics } = make();
    const rides = metrics.counter({ name: 'rides_total', help: 'Rides', labels: { city: { values: ['sh'] } } });
    const broken = (rides.bind as (labels: unknown) => { inc(): void })({ town: 'sh' });
    broken.inc();
    broken.inc();
    const gauge = metrics.gauge({ name: 'depth', help: 'Depth', labels: { city: { values: ['sh'] } } });
    (gauge.bind as (labels: unknown) => { set(v: number): void })({}).set(1);
    const body = await text();
    expect(valueOf(body, 'hitch_metric_invalid_observations_total', { metric: 'rides_total', reason: 'missing_label' })).toBe(2);
    expect(valueOf(body, 'hitch_metric_invalid_observations_total', { metric: 'depth', reason: 'missing_label' })).toBe(1);
    expect(samplesOf(body, 'rides_total')).toHaveLength(0);
  });

  it('drops NaN gauge values and NaN or infinite observations', async () => {
    const { metrics } = make();
    const g = metrics.gauge({ name: 'queue_depth', help: 'Depth' });
    const h = metrics.histogram({ name: 'job_duration_seconds', help: 'Job time' });
    g.set(3);
    g.set(Number.NaN);
    h.observe(Number.NaN);
    h.observe(Infinity);
    h.bind().observe(-Infinity);
    const body = await text();
    expect(valueOf(body, 'queue_depth')).toBe(3);
    // The otel backend's synchronous histogram has no point before its first valid observation.
    expect(valueOf(body, 'job_duration_seconds_count') ?? 0).toBe(0);
    expect(valueOf(body, 'hitch_metric_invalid_observations_total', { metric: 'queue_depth', reason: 'nan' })).toBe(1);
    expect(valueOf(body, 'hitch_metric_invalid_observations_total', { metric: 'job_duration_seconds', reason: 'non_finite' })).toBe(2);
  });

  it('accepts numbers and booleans as label values', async () => {
    const { metrics } = make();
    const c = metrics.counter({ name: 'responses_total', help: 'Responses', labels: { status_code: { maxValues: 50 }, cached: { values: ['true', 'false'] } } });
    c.inc({ status_code: 200, cached: true });
    c.inc({ status_code: '200', cached: 'true' });
    expect(valueOf(await text(), 'responses_total', { status_code: '200', cached: 'true' })).toBe(2);
  });

  it('adds default labels to every series', async () => {
    const { metrics } = make({ defaultLabels: { region: 'sh' } });
    metrics.counter({ name: 'rides_total', help: 'Rides', labels: { city: { values: ['sh'] } } }).inc({ city: 'sh' });
    expect(valueOf(await text(), 'rides_total', { city: 'sh', region: 'sh' })).toBe(1);
  });

  it('expires series not updated for expireAfterMs and frees their label values', async () => {
    const { metrics } = make();
    const c = metrics.counter({
      name: 'driver_pings_total',
      help: 'Pings',
      labels: { driver: { maxValues: 2 } },
      expireAfterMs: 60_000,
    });
    c.inc({ driver: 'd1' });
    c.inc({ driver: 'd2' });
    clock.advance(30_000);
    c.inc({ driver: 'd2' });
    clock.advance(40_000); // d1 idle 70 s, d2 idle 40 s
    let body = await text();
    expect(valueOf(body, 'driver_pings_total', { driver: 'd1' })).toBeUndefined();
    expect(valueOf(body, 'driver_pings_total', { driver: 'd2' })).toBe(2);
    // d1's slot is free again: d3 fits without overflowing.
    c.inc({ driver: 'd3' });
    body = await text();
    expect(valueOf(body, 'driver_pings_total', { driver: 'd3' })).toBe(1);
    expect(valueOf(body, 'driver_pings_total', { driver: OVERFLOW_VALUE })).toBeUndefined();
  });

  it('expires on a timer even when nobody scrapes', () => {
    const { metrics } = make();
    const g = metrics.gauge({ name: 'driver_speed_meters', help: 'Speed', labels: { driver: { maxValues: 10 } }, expireAfterMs: 10_000 });
    g.set({ driver: 'd1' }, 5);
    expect(g.seriesCount).toBe(1);
    clock.advance(20_000);
    expect(g.seriesCount).toBe(0);
  });

  it('a bound handle keeps writing after its series expired', async () => {
    const { metrics } = make();
    const c = metrics.counter({ name: 'pings_total', help: 'Pings', labels: { driver: { maxValues: 10 } }, expireAfterMs: 1000 });
    const bound = c.bind({ driver: 'd1' });
    bound.inc();
    clock.advance(5000);
    expect(c.seriesCount).toBe(0);
    bound.inc(2);
    expect(valueOf(await text(), 'pings_total', { driver: 'd1' })).toBe(2);
  });

  it('returns the same metric for an identical registration', () => {
    const { metrics } = make();
    const options = { name: 'rides_total', help: 'Rides', labels: { city: { values: ['sh'] } } };
    expect(metrics.counter(options)).toBe(metrics.counter({ ...options }));
  });

  it('keeps two instances apart (no global registry)', async () => {
    const { metrics } = make();
    const other = createHitch({ service: { name: 'other' }, metrics: { backend, runtimeMetrics: false } });
    try {
      metrics.counter({ name: 'rides_total', help: 'Rides' }).inc(2);
      other.metrics.counter({ name: 'rides_total', help: 'Rides' }).inc(5);
      expect(valueOf(await text(), 'rides_total')).toBe(2);
      expect(valueOf((await other.metrics.render()).body, 'rides_total')).toBe(5);
    } finally {
      await other.shutdown();
    }
  });

  it('never throws on the hot path whatever it is given', () => {
    const { metrics } = make();
    const c = metrics.counter({ name: 'x_total', help: 'X', labels: { a: { maxValues: 3 } } });
    const g = metrics.gauge({ name: 'y', help: 'Y' });
    const h = metrics.histogram({ name: 'z_seconds', help: 'Z', labels: { a: { values: ['1'] } } });
    const junk: unknown[] = [undefined, null, 0, -1, NaN, 'str', {}, [], { a: null }, { a: Symbol('s') }, { a: 1n }, () => 1, { toString: 5 }];
    for (const x of junk) {
      for (const y of junk) {
        expect(() => (c.inc as (a: unknown, b: unknown) => void)(x, y)).not.toThrow();
        expect(() => (g.set as (a: unknown, b: unknown) => void)(x, y)).not.toThrow();
        expect(() => (h.observe as (a: unknown, b: unknown) => void)(x, y)).not.toThrow();
        expect(() => (c.bind as (a: unknown) => { inc(v: unknown): void })(x).inc(y)).not.toThrow();
      }
    }
  });
});
