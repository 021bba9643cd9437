import type { ExpositionFormat } from './content-negotiation.js';
import type { Instrument } from './instrument.js';
import type { RenderedMetrics } from './types.js';

/** Where series are exposed or exported: prom-client's registry or the OpenTelemetry SDK. */
export interface MetricsBackend {
  readonly kind: 'prom-client' | 'otel';
  /** Whether OpenMetrics output carries exemplars. */
  readonly supportsExemplars: boolean;
  register(instrument: Instrument): void;
  render(format: ExpositionFormat): Promise<RenderedMetrics>;
  shutdown(): Promise<void>;
}
