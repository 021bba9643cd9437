import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { SumMetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createHitch } from '../src/index.js';

describe('otel backend with the user’s own reader', () => {
  it('exports the same bounded series to every reader', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const hitch = createHitch({
      service: { name: 'readers', version: '2.0.0' },
      metrics: { backend: 'otel', readers: [reader], runtimeMetrics: false, onWarning: () => undefined, defaultLabels: { region: 'sh' } },
    });
    try {
      const rides = hitch.metrics.counter({ name: 'rides_total', help: 'Rides', labels: { vehicle_type: { maxValues: 1 } } });
      rides.inc({ vehicle_type: 'van' }, 2);
      rides.inc({ vehicle_type: 'bike' });
      hitch.metrics.histogram({ name: 'match_duration_seconds', help: 'Latency', buckets: [0.1, 1] }).observe(0.5);
      await reader.forceFlush();
      const exported = exporter.getMetrics().at(-1)!;
      expect(exported.resource.attributes['service.name']).toBe('readers');
      expect(exported.resource.attributes['service.version']).toBe('2.0.0');
      const metrics = exported.scopeMetrics.flatMap((scope) => scope.metrics);
      const counter = metrics.find((m) => m.descriptor.name === 'rides_total') as SumMetricData;
      expect(counter.isMonotonic).toBe(true);
      const points = counter.dataPoints.map((p) => [p.attributes, p.value]);
      expect(points).toEqual(
        expect.arrayContaining([
          [{ region: 'sh', vehicle_type: 'van' }, 2],
          [{ region: 'sh', vehicle_type: '__overflow__' }, 1],
        ]),
      );
      expect(points).toHaveLength(2);
      const histogram = metrics.find((m) => m.descriptor.name === 'match_duration_seconds')!;
      expect(histogram.dataPoints).toHaveLength(1);
    } finally {
      await hitch.shutdown();
    }
  });
});
