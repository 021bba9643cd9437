// Proof that every server does what its configuration says, before the rounds and after them. A
// configuration that silently does nothing (an instrumentation that did not patch, a middleware
// that records nothing) fails the run: its throughput would be meaningless.
//
// Counts must match exactly: every request the route served is one observation in the metrics,
// one SERVER span named by the route, and (OpenTelemetry) one express request-handler span.

import { isDeepStrictEqual } from 'node:util';
import { parsePrometheusText, ROUTE_TEMPLATE, rideOf } from './fixtures.mjs';

const PROBE_ID = '424242';

/** Hitch's duration histogram for the route (see @hitch/express README: metrics). */
const HITCH_SERIES = { name: 'http_server_request_duration_seconds_count', labels: { method: 'GET', route: ROUTE_TEMPLATE, status_code: '200' } };
/** express-prom-bundle's histogram; its default normalizePath turns the numeric id into `#val`. */
const PROM_BUNDLE_SERIES = { name: 'http_request_duration_seconds_count', labels: { method: 'GET', path: '/rides/#val', status_code: '200' } };
/** Span names, `${kind} ${name}`, one per served request (instrumentation-express names Express 5 handlers without their path). */
const HITCH_SERVER_SPAN = `SERVER GET ${ROUTE_TEMPLATE}`;
const OTEL_HANDLER_SPAN = 'INTERNAL request handler';

function seriesValue(samples, { name, labels }) {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.length === 1 ? found[0].value : undefined;
}

async function metricsOf(url) {
  const response = await fetch(`${url}/metrics`);
  const text = await response.text();
  return { status: response.status, samples: response.status === 200 ? parsePrometheusText(text) : [] };
}

/**
 * Problems with `server` (empty when it works): a probe request answers the expected JSON, and
 * the server's metrics and spans count exactly the requests its route served.
 * @returns {{ problems: string[], evidence: object }}
 */
export async function checkServer(server) {
  const { config, url } = server;
  const problems = [];
  const problem = (text) => problems.push(`${config.id}: ${text}`);

  const probe = await fetch(`${url}/rides/${PROBE_ID}`);
  const body = await probe.text();
  if (probe.status !== 200) problem(`GET /rides/${PROBE_ID} answered ${probe.status}`);
  else if (!isDeepStrictEqual(JSON.parse(body), rideOf(PROBE_ID))) problem(`GET /rides/${PROBE_ID} answered ${body}`);

  const metrics = await metricsOf(url);
  const stats = await server.stats(true);
  const evidence = { served: stats.served };

  if (config.hitch || config.prom) {
    if (metrics.status !== 200) problem(`GET /metrics answered ${metrics.status}`);
    const series = config.hitch ? HITCH_SERIES : PROM_BUNDLE_SERIES;
    const value = seriesValue(metrics.samples, series);
    evidence.metricSeries = `${series.name}{${Object.entries(series.labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    evidence.metricCount = value;
    if (value !== stats.served) problem(`${evidence.metricSeries} is ${value ?? 'absent'}, the route served ${stats.served} requests`);
  } else if (metrics.status !== 404) {
    problem(`GET /metrics answered ${metrics.status}: this configuration should have no metrics route`);
  }

  if (config.hitch || config.otel) {
    const spans = stats.spans;
    if (spans === null) {
      problem('no span exporter in the server');
    } else {
      evidence.spansExported = spans.exported;
      evidence.serverRouteSpans = spans.serverRouteSpans;
      if (spans.serverRouteSpans !== stats.served) problem(`${spans.serverRouteSpans} SERVER spans with http.route=${ROUTE_TEMPLATE} exported, the route served ${stats.served} requests`);
      const expected = config.hitch ? HITCH_SERVER_SPAN : OTEL_HANDLER_SPAN;
      evidence.namedSpan = expected;
      evidence.namedSpans = spans.byName[expected] ?? 0;
      if (evidence.namedSpans !== stats.served) problem(`${evidence.namedSpans} spans '${expected}' exported, the route served ${stats.served} requests (seen: ${JSON.stringify(spans.byName)})`);
    }
  } else if (stats.spans !== null) {
    problem('a span exporter is installed in a configuration without tracing');
  }
  if (stats.served === 0) problem('the route served no request');
  return { problems, evidence };
}
