import { describe, expect, expectTypeOf, it } from 'vitest';
import type { BoundCounter, Counter, Histogram } from '../src/index.js';
import { createHitch } from '../src/index.js';

// Label names are inferred from the declaration: a typo or a missing label does not compile.
// `npm test` typechecks this file; the @ts-expect-error lines fail the build if they stop erroring.
describe('typed labels', () => {
  it('infers label names and rejects undeclared or missing ones at compile time', async () => {
    const hitch = createHitch({ service: { name: 'types' }, metrics: { runtimeMetrics: false, onWarning: () => undefined } });
    try {
      const rides = hitch.metrics.counter({
        name: 'rides_total',
        help: 'Rides',
        labels: { city: { values: ['sh'] }, vehicle_type: { maxValues: 10 } },
      });
      expectTypeOf(rides).toEqualTypeOf<Counter<'city' | 'vehicle_type'>>();
      rides.inc({ city: 'sh', vehicle_type: 'van' });
      rides.inc({ city: 'sh', vehicle_type: 'van' }, 2);
      // @ts-expect-error vehicle_type is missing
      rides.inc({ city: 'sh' });
      // @ts-expect-error user_id is not declared
      rides.inc({ city: 'sh', vehicle_type: 'van', user_id: '1' });
      // @ts-expect-error a labelled counter needs its labels
      rides.inc(1);
      expectTypeOf(rides.bind({ city: 'sh', vehicle_type: 'van' })).toEqualTypeOf<BoundCounter>();

      const plain = hitch.metrics.counter({ name: 'jobs_total', help: 'Jobs' });
      plain.inc();
      plain.inc(3);
      // @ts-expect-error no labels were declared
      plain.inc({ city: 'sh' });

      const latency: Histogram<'route'> = hitch.metrics.histogram({ name: 'x_seconds', help: 'X', labels: { route: { maxValues: 5 } } });
      latency.observe({ route: '/a' }, 0.1);
      // @ts-expect-error observe needs a value
      latency.observe({ route: '/a' });
      expect(rides.seriesCount).toBe(1);
    } finally {
      await hitch.shutdown();
    }
  });
});
