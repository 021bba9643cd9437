import { afterEach, describe, expect, it } from 'vitest';
import type { Hitch } from '../src/index.js';
import { OVERFLOW_VALUE, createHitch } from '../src/index.js';
import { valueOf } from './support/exposition.js';

function heapUsedAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

describe.each(['prom-client', 'otel'] as const)('a flood of distinct label values (%s)', (backend) => {
  let hitch: Hitch;
  afterEach(async () => {
    await hitch.shutdown();
  });

  it('keeps series count and heap flat for 1,000,000 distinct user ids', async () => {
    hitch = createHitch({ service: { name: 'flood' }, metrics: { backend, runtimeMetrics: false, onWarning: () => undefined } });
    const logins = hitch.metrics.counter({
      name: 'logins_total',
      help: 'Logins',
      labels: { user: { maxValues: 100 }, method: { values: ['password', 'sso'] } },
    });
    const latency = hitch.metrics.histogram({ name: 'login_duration_seconds', help: 'Login time', labels: { user: { maxValues: 100 } } });

    for (let i = 0; i < 10_000; i++) logins.inc({ user: `user-${i}`, method: 'sso' });
    const baseline = heapUsedAfterGc();
    for (let i = 10_000; i < 1_000_000; i++) {
      const user = `user-${i}`;
      logins.inc({ user, method: i % 2 === 0 ? 'sso' : 'password' });
      if (i % 10 === 0) latency.observe({ user }, 0.01);
    }
    const grown = heapUsedAfterGc() - baseline;

    // 100 admitted users x 2 methods, plus one overflow series per method.
    expect(logins.seriesCount).toBeLessThanOrEqual(202);
    expect(latency.seriesCount).toBeLessThanOrEqual(101);
    // Bounded: a leak of even 8 bytes per value would be 8 MB; allow GC noise only.
    expect(grown).toBeLessThan(4 * 1024 * 1024);

    const { body } = await hitch.metrics.render();
    const overflowed = valueOf(body, 'logins_total', { user: OVERFLOW_VALUE, method: 'sso' })! + valueOf(body, 'logins_total', { user: OVERFLOW_VALUE, method: 'password' })!;
    expect(overflowed).toBe(1_000_000 - 100);
    expect(valueOf(body, 'hitch_metric_label_overflow_total', { metric: 'logins_total', label: 'user' })).toBe(1_000_000 - 100);
    expect(body.length).toBeLessThan(200_000);
  });
});
