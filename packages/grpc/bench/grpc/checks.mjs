// Proof that both processes of every configuration do what it says, before the rounds and after
// them. A configuration that silently does nothing (an instrumentation that did not patch, an
// interceptor that records nothing) fails the run: its throughput would be meaningless.
//
// Counts must match exactly: every call the client completed was served once by the handler, and
// is one observation in each side's duration histogram (Hitch), one SERVER span whose parent is
// the client's span (the context went through the metadata), and one CLIENT span.

import { isDeepStrictEqual } from 'node:util';
import { FULL_METHOD, METHOD_NAME, parsePrometheusText, replyOf, SERVICE_NAME } from './fixtures.mjs';

const PROBE_REQUEST = Object.freeze({ message: 'probe: every configuration answers the same', sequence: 424242 });

/** Hitch's duration histograms (see the @hitch/grpc README: metrics), OK calls of the method under test. */
const LABELS = { rpc_service: SERVICE_NAME, rpc_method: METHOD_NAME, rpc_status_code: 'OK' };
const HITCH_SERVER_SERIES = { name: 'rpc_server_call_duration_seconds_count', labels: LABELS };
const HITCH_CLIENT_SERIES = { name: 'rpc_client_call_duration_seconds_count', labels: LABELS };

/** Span names, `${kind} ${name}`: Hitch names spans `package.Service/Method`, instrumentation-grpc `grpc.package.Service/Method`. */
const SPAN_NAMES = {
  hitch: { server: `SERVER ${FULL_METHOD}`, client: `CLIENT ${FULL_METHOD}` },
  otel: { server: `SERVER grpc.${FULL_METHOD}`, client: `CLIENT grpc.${FULL_METHOD}` },
};

function seriesValue(samples, { name, labels }) {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.length === 1 ? found[0].value : undefined;
}

const seriesText = ({ name, labels }) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;

/**
 * Problems with the configuration of `server` and `client` (empty when it works): a probe call
 * answers the expected reply, and each side's metrics and spans count exactly the calls made.
 * @returns {Promise<{ problems: string[], evidence: object }>}
 */
export async function checkPair(server, client) {
  const { config } = server;
  const problems = [];
  const problem = (text) => problems.push(`${config.id}: ${text}`);

  const probe = await client.probe(PROBE_REQUEST);
  if (probe.error !== undefined) problem(`the probe call failed: ${probe.error}`);
  else if (!isDeepStrictEqual(probe.reply, replyOf(PROBE_REQUEST))) problem(`the probe call answered ${JSON.stringify(probe.reply)}`);

  const serverStats = await server.stats(true);
  const clientStats = await client.stats(true);
  const served = serverStats.served;
  const calls = clientStats.calls;
  const evidence = { served, calls };
  if (served === 0) problem('the handler served no call');
  if (served !== calls) problem(`the client completed ${calls} calls, the handler served ${served}`);

  const sides = [
    { side: 'server', stats: serverStats, count: served, series: HITCH_SERVER_SERIES },
    { side: 'client', stats: clientStats, count: calls, series: HITCH_CLIENT_SERIES },
  ];
  for (const { side, stats, count, series } of sides) {
    if (config.hitch) {
      const value = stats.metricsText === null ? undefined : seriesValue(parsePrometheusText(stats.metricsText), series);
      evidence[`${side}Series`] = seriesText(series);
      evidence[`${side}SeriesValue`] = value;
      if (value !== count) problem(`${side}: ${seriesText(series)} is ${value ?? 'absent'}, ${count} calls`);
    } else if (stats.metricsText !== null) {
      problem(`${side}: Hitch metrics in a configuration without Hitch`);
    }

    const names = config.hitch ? SPAN_NAMES.hitch : config.otel ? SPAN_NAMES.otel : undefined;
    if (names !== undefined) {
      const spans = stats.spans;
      if (spans === null) {
        problem(`${side}: no span exporter`);
        continue;
      }
      const name = names[side];
      const spanCount = spans.byName[name] ?? 0;
      evidence[`${side}Span`] = name;
      evidence[`${side}Spans`] = spanCount;
      evidence[`${side}Exported`] = spans.exported;
      if (spanCount !== count) problem(`${side}: ${spanCount} spans '${name}' exported, ${count} calls (seen: ${JSON.stringify(spans.byName)})`);
      if (side === 'server') {
        const parented = spans.withParentByName[name] ?? 0;
        evidence.serverSpansWithParent = parented;
        if (parented !== count) problem(`server: ${parented} of the spans '${name}' have the client's span as parent, ${count} calls`);
      }
    } else if (stats.spans !== null) {
      problem(`${side}: a span exporter in a configuration without tracing`);
    }
  }
  return { problems, evidence };
}
