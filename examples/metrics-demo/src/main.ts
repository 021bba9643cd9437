import { parseArgs } from 'node:util';
import { startDemo } from './demo.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'prom-client' },
    port: { type: 'string', default: '0' },
    serve: { type: 'boolean', default: false },
  },
});
const backend = values.backend === 'otel' ? 'otel' : 'prom-client';
const demo = await startDemo({ backend, port: Number(values.port) });

const show = async (accept: string) => {
  const response = await fetch(demo.server.url, { headers: { accept } });
  return { contentType: response.headers.get('content-type') ?? '', body: await response.text() };
};

const ours = (body: string) =>
  body
    .split('\n')
    .filter((line) => /^(# (HELP|TYPE) )?(rides_|ride_|drivers_|hitch_)/.test(line))
    .join('\n');

console.log(`Hitch metrics demo (${backend} backend): serving ${demo.server.url}\n`);
const text = await show('text/plain');
console.log(`--- GET /metrics (Accept: text/plain) -> ${text.contentType}`);
console.log(ours(text.body));
const openMetrics = await show('application/openmetrics-text;version=1.0.0,text/plain;q=0.5');
console.log(`\n--- GET /metrics (Accept: application/openmetrics-text) -> ${openMetrics.contentType}`);
console.log('Latency buckets with exemplars (the trace behind a spike):');
console.log(
  openMetrics.body
    .split('\n')
    .filter((line) => line.startsWith('ride_match_duration_seconds_bucket') && line.includes(' # {'))
    .slice(0, 5)
    .join('\n') || '(none: the otel backend renders Prometheus text without exemplars)',
);
const all = text.body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
console.log(`\n${all.length} samples in all, including process and Node.js runtime metrics.`);

if (values.serve) {
  console.log(`\nServing ${demo.server.url} until Ctrl-C.`);
  const stop = () => void demo.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  await demo.stop();
}
