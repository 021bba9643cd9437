/** The four Prometheus metric types a registry can declare. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Every {@link MetricType}. */
export const METRIC_TYPES: readonly MetricType[] = Object.freeze([
  'counter',
  'gauge',
  'histogram',
  'summary',
] as const);
