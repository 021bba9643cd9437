import type { Hitch, MetricsServer } from '@hitch/core';
import { buckets, createHitch } from '@hitch/core';

export interface DemoOptions {
  /** Which metrics backend to run. Defaults to `'prom-client'`. */
  readonly backend?: 'prom-client' | 'otel';
  /** Port for /metrics on 127.0.0.1; 0 picks a free one. Defaults to `0`. */
  readonly port?: number;
  /** Ride requests to simulate. Defaults to `5000`. */
  readonly requests?: number;
  /** Log level of the demo's Hitch logger. Defaults to `'warn'` (shows the overflow warning). */
  readonly logLevel?: 'silent' | 'warn' | 'info';
}

export interface Demo {
  readonly hitch: Hitch;
  readonly server: MetricsServer;
  stop(): Promise<void>;
}

const cities = ['sh', 'sz', 'bj'] as const;
const vehicleTypes = ['economy', 'comfort', 'electric', 'van'];

/** A deterministic PRNG (mulberry32) so every run shows the same numbers. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Registers a few dispatch metrics, simulates ride requests (some inside sampled spans, so
 * latency buckets carry exemplars, and some with a flood of unexpected label values, so the
 * overflow guard shows), and serves /metrics on 127.0.0.1.
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const hitch = createHitch({
    service: { name: 'metrics-demo', version: '0.1.0', environment: 'local' },
    metrics: { backend: options.backend ?? 'prom-client', defaultLabels: { region: 'local' } },
    // Spans are sampled (so exemplars point at them) but not exported: no collector is needed.
    tracing: { exporter: 'none' },
    logging: { level: options.logLevel ?? 'warn' },
  });
  const { metrics } = hitch;

  const requested = metrics.counter({
    name: 'rides_requested_total',
    help: 'Ride requests received.',
    labels: { city: { values: [...cities] }, vehicle_type: { maxValues: 4 } },
  });
  const matchDuration = metrics.histogram({
    name: 'ride_match_duration_seconds',
    help: 'Time to find a driver for a ride request.',
    labels: { city: { values: [...cities] } },
    buckets: buckets.httpLatencySeconds,
  });
  const driversOnline = metrics.gauge({
    name: 'drivers_online',
    help: 'Drivers currently online.',
    labels: { city: { values: [...cities] } },
  });
  const payload = metrics.histogram({ name: 'ride_request_size_bytes', help: 'Size of ride request bodies.' });

  const random = seeded(42);
  const shanghai = requested.bind({ city: 'sh', vehicle_type: 'economy' });
  const total = options.requests ?? 5000;
  for (let i = 0; i < total; i++) {
    const city = cities[Math.floor(random() * cities.length)] as (typeof cities)[number];
    // One request in ten names a vehicle type nobody declared: it lands in __overflow__.
    const vehicle = random() < 0.1 ? `promo-${i}` : (vehicleTypes[Math.floor(random() * vehicleTypes.length)] as string);
    if (city === 'sh' && vehicle === 'economy') shanghai.inc();
    else requested.inc({ city, vehicle_type: vehicle });
    const seconds = 0.002 + random() * random() * 2;
    if (i % 100 === 0) {
      hitch.withSpan('match ride', () => matchDuration.observe({ city }, seconds));
    } else {
      matchDuration.observe({ city }, seconds);
    }
    payload.observe(Math.floor(200 + random() * 4000));
  }
  for (const city of cities) driversOnline.set({ city }, Math.floor(50 + random() * 500));

  const server = await metrics.serve({ host: '127.0.0.1', port: options.port ?? 0 });
  return {
    hitch,
    server,
    async stop() {
      await hitch.shutdown();
    },
  };
}
