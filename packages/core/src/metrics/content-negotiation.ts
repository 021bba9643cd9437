export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

/**
 * Picks the exposition format for an `Accept` header (RFC 9110 §12.5.1 quality values).
 * OpenMetrics is chosen only when it is acceptable in version 1.0.0 (or unversioned) and
 * ranked at least as high as the Prometheus text format; anything else gets text 0.0.4,
 * which every Prometheus-compatible scraper reads.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || accept === '') return 'prometheus';
  let openMetricsQ = 0;
  let textQ = 0;
  for (const range of accept.split(',')) {
    const parts = range.split(';');
    const mediaType = (parts[0] ?? '').trim().toLowerCase();
    let q = 1;
    let version: string | undefined;
    for (let i = 1; i < parts.length; i++) {
      const [rawKey, rawValue] = (parts[i] as string).split('=');
      const key = (rawKey ?? '').trim().toLowerCase();
      const value = (rawValue ?? '').trim().replace(/^"|"$/g, '');
      if (key === 'q') {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      } else if (key === 'version') {
        version = value;
      }
    }
    if (mediaType === 'application/openmetrics-text') {
      if (version === undefined || version === '1.0.0') openMetricsQ = Math.max(openMetricsQ, q);
    } else if (mediaType === 'text/plain' || mediaType === 'text/*' || mediaType === '*/*') {
      if (mediaType !== 'text/plain' || version === undefined || version === '0.0.4') textQ = Math.max(textQ, q);
    }
  }
  return openMetricsQ > 0 && openMetricsQ >= textQ ? 'openmetrics' : 'prometheus';
}
