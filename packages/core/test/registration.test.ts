import { afterEach, describe, expect, it } from 'vitest';
import type { Hitch } from '../src/index.js';
import {
  InvalidOptionError,
  MetricNameError,
  MetricRegistrationError,
  buckets,
  createHitch,
  exponentialBuckets,
  isHitchError,
  isInvalidOptionError,
  isMetricNameError,
  isMetricRegistrationError,
  linearBuckets,
} from '../src/index.js';

let hitch: Hitch | undefined;
afterEach(async () => {
  await hitch?.shutdown();
  hitch = undefined;
});

function metrics() {
  hitch = createHitch({ service: { name: 'registration' }, metrics: { runtimeMetrics: false } });
  return hitch.metrics;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('metric registration', () => {
  it('rejects a bad name with the naming problems and their fixes', () => {
    const error = thrown(() => metrics().counter({ name: 'rideCount', help: 'Rides' }));
    expect(error).toBeInstanceOf(MetricNameError);
    expect(isMetricNameError(error)).toBe(true);
    expect(isHitchError(error)).toBe(true);
    expect((error as MetricNameError).code).toBe('HITCH_METRIC_NAME');
    expect(error.message).toContain('"rideCount" must be snake_case: try "ride_count_total"');
  });

  it('rejects a counter without _total and a gauge with it', () => {
    const registry = metrics();
    expect(() => registry.counter({ name: 'rides', help: 'Rides' })).toThrow(MetricNameError);
    expect(() => registry.gauge({ name: 'rides_total', help: 'Rides' })).toThrow(MetricNameError);
  });

  it('requires help', () => {
    const error = thrown(() => metrics().counter({ name: 'rides_total', help: ' ' }));
    expect(error).toBeInstanceOf(MetricRegistrationError);
    expect(isMetricRegistrationError(error)).toBe(true);
    expect(error.message).toBe('metric "rides_total": help is required: one line saying what is measured, e.g. help: "Ride requests received"');
  });

  it('rejects labels declared without a bound, with the fix', () => {
    const registry = metrics();
    const unbounded = thrown(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { city: {} as never } }));
    expect(unbounded.message).toBe(
      `metric "rides_total": label "city" is not bounded: declare it as city: { values: ['a', 'b'] } (an allow-list) or city: { maxValues: 50 } (a bound)`,
    );
    const asList = thrown(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: ['city'] as never }));
    expect(asList.message).toContain('labels must be declared with bounds, not as a list');
    expect(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { city: { values: ['sh'], maxValues: 3 } as never } })).toThrow(
      /declares both values and maxValues/,
    );
    expect(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { city: { maxValues: 0 } } })).toThrow(
      'label "city": maxValues should be an integer in 1..10000, got 0',
    );
    expect(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { city: { values: [] } } })).toThrow(/non-empty array/);
    expect(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { city: { values: ['sh', 'sh'] } } })).toThrow(/listed twice/);
  });

  it('rejects bad and reserved label names', () => {
    const registry = metrics();
    expect(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { vehicleType: { maxValues: 3 } } })).toThrow(MetricNameError);
    expect(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { __name: { maxValues: 3 } } })).toThrow(MetricNameError);
    expect(() => registry.histogram({ name: 'x_seconds', help: 'X', labels: { le: { maxValues: 3 } } })).toThrow(MetricNameError);
    expect(() => registry.gauge({ name: 'x', help: 'X', labels: { quantile: { maxValues: 3 } } })).toThrow(MetricNameError);
  });

  it('rejects a label that duplicates a default label', () => {
    hitch = createHitch({ service: { name: 'r' }, metrics: { runtimeMetrics: false, defaultLabels: { region: 'sh' } } });
    expect(() => hitch!.metrics.counter({ name: 'rides_total', help: 'Rides', labels: { region: { maxValues: 3 } } })).toThrow(
      /label "region" is also a default label/,
    );
  });

  it('rejects the same name with a different definition', () => {
    const registry = metrics();
    registry.counter({ name: 'rides_total', help: 'Rides' });
    expect(() => registry.counter({ name: 'rides_total', help: 'Rides', labels: { city: { maxValues: 3 } } })).toThrow(
      'metric "rides_total": is already registered as a counter with a different definition; register it once and share it, or pick another name',
    );
  });

  it('validates maxSeries and expireAfterMs', () => {
    const registry = metrics();
    expect(() => registry.counter({ name: 'a_total', help: 'A', maxSeries: 0 })).toThrow('maxSeries should be a positive integer, got 0');
    expect(() => registry.counter({ name: 'a_total', help: 'A', expireAfterMs: -1 })).toThrow(/expireAfterMs should be a positive number/);
  });
});

describe('histogram buckets', () => {
  it('defaults by unit and requires buckets otherwise', () => {
    const registry = metrics();
    expect(registry.histogram({ name: 'a_seconds', help: 'A' }).buckets).toEqual(buckets.httpLatencySeconds);
    expect(registry.histogram({ name: 'a_bytes', help: 'A' }).buckets).toEqual(buckets.bytes);
    expect(() => registry.histogram({ name: 'passengers', help: 'A' })).toThrow(/buckets are required/);
    expect(registry.histogram({ name: 'passengers', help: 'A', buckets: [1, 2, 4] }).buckets).toEqual([1, 2, 4]);
  });

  it('is the OpenTelemetry HTTP recommendation for latency', () => {
    expect(buckets.httpLatencySeconds).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
  });

  it.each([
    [[], 'buckets must not be empty'],
    [[0.1, 0.05], 'buckets must be strictly ascending, but 0.05 follows 0.1'],
    [[0.1, 0.1], 'buckets must be strictly ascending, but 0.1 follows 0.1'],
    [[0.1, Number.NaN], 'bucket 1 is NaN; buckets must be finite numbers (+Inf is added for you)'],
    [[0.1, Infinity], 'bucket 1 is Infinity; buckets must be finite numbers (+Inf is added for you)'],
    [[-1, 1], 'a _seconds histogram cannot have a negative bucket (-1)'],
  ])('rejects %j', (bounds, message) => {
    expect(() => metrics().histogram({ name: 'a_seconds', help: 'A', buckets: bounds })).toThrow(`metric "a_seconds": ${message}`);
  });

  it('rejects milliseconds in a _seconds histogram and suggests the conversion', () => {
    const error = thrown(() => metrics().histogram({ name: 'ride_match_duration_seconds', help: 'A', buckets: [5, 10, 50, 100, 500] }));
    expect(error).toBeInstanceOf(MetricRegistrationError);
    expect(error.message).toContain('look like milliseconds but the name says seconds: divide by 1000 (e.g. 0.5 instead of 500)');
    // Long durations in seconds are fine when the buckets start below a second.
    expect(() => metrics().histogram({ name: 'batch_duration_seconds', help: 'A', buckets: [0.5, 60, 600, 3600] })).not.toThrow();
  });

  it('rejects fractional bytes and ratios above 1', () => {
    expect(() => metrics().histogram({ name: 'body_bytes', help: 'A', buckets: [0.5, 1, 2] })).toThrow(/whole-byte buckets/);
    expect(() => metrics().histogram({ name: 'load_ratio', help: 'A', buckets: [10, 50, 90] })).toThrow(/divide percentages by 100/);
  });

  it('generates exponential and linear buckets and validates their arguments', () => {
    expect(exponentialBuckets(1, 2, 4)).toEqual([1, 2, 4, 8]);
    expect(linearBuckets(0, 5, 3)).toEqual([0, 5, 10]);
    expect(() => exponentialBuckets(0, 2, 3)).toThrow(InvalidOptionError);
    expect(() => linearBuckets(0, 1, 0)).toThrow('linearBuckets.count: must be a positive integer, got 0');
  });
});

describe('createHitch options', () => {
  it('requires a service name unless OTEL_SERVICE_NAME is set', () => {
    const previous = process.env.OTEL_SERVICE_NAME;
    delete process.env.OTEL_SERVICE_NAME;
    try {
      const error = thrown(() => createHitch({ metrics: { runtimeMetrics: false } }));
      expect(isInvalidOptionError(error)).toBe(true);
      expect(error.message).toBe('service.name: is required: pass createHitch({ service: { name: "orders" } }) or set OTEL_SERVICE_NAME');
      process.env.OTEL_SERVICE_NAME = 'from-env';
      hitch = createHitch({ metrics: { runtimeMetrics: false } });
      expect(hitch.service.name).toBe('from-env');
      expect(hitch.resource.attributes['service.name']).toBe('from-env');
    } finally {
      if (previous === undefined) delete process.env.OTEL_SERVICE_NAME;
      else process.env.OTEL_SERVICE_NAME = previous;
    }
  });

  it('lets explicit options win over OTEL_* variables', () => {
    const previous = process.env.OTEL_SERVICE_NAME;
    process.env.OTEL_SERVICE_NAME = 'from-env';
    try {
      hitch = createHitch({ service: { name: 'explicit', version: '1.4.0', environment: 'prod' }, metrics: { runtimeMetrics: false } });
      expect(hitch.resource.attributes['service.name']).toBe('explicit');
      expect(hitch.resource.attributes['service.version']).toBe('1.4.0');
      expect(hitch.resource.attributes['deployment.environment.name']).toBe('prod');
    } finally {
      if (previous === undefined) delete process.env.OTEL_SERVICE_NAME;
      else process.env.OTEL_SERVICE_NAME = previous;
    }
  });

  it.each([
    [{ metrics: { backend: 'statsd' } }, `metrics.backend: should be 'prom-client' or 'otel', got "statsd"`],
    [{ metrics: { maxSeriesPerMetric: 0 } }, 'metrics.maxSeriesPerMetric: should be a positive integer, got 0'],
    [{ metrics: { readers: [] } }, "metrics.readers: OpenTelemetry readers need backend: 'otel'"],
    [{ metrics: { defaultLabels: { region: 3 } } }, 'metrics.defaultLabels.region: should be a string, got number'],
  ])('rejects %j', (options, message) => {
    expect(() => createHitch({ service: { name: 's' }, ...(options as object) })).toThrow(message);
  });

  it('refuses to register or render after shutdown', async () => {
    const registry = metrics();
    await hitch!.shutdown();
    expect(() => registry.counter({ name: 'a_total', help: 'A' })).toThrow(/after shutdown/);
    await expect(registry.render()).rejects.toThrow(/after shutdown/);
    await hitch!.shutdown(); // idempotent
  });
});

describe('createHitch validates before it starts anything', () => {
  it('a bad lifecycle option throws before tracing registers its globals', async () => {
    const { trace } = await import('@opentelemetry/api');
    const { vi } = await import('vitest');
    const register = vi.spyOn(trace, 'setGlobalTracerProvider');
    try {
      expect(() => createHitch({ service: { name: 's' }, logging: { level: 'silent' }, lifecycle: { preStopDelayMs: -1 } })).toThrow(/preStopDelayMs/);
      expect(register).not.toHaveBeenCalled();
    } finally {
      register.mockRestore();
    }
  });
});
