// The server under test, one process per configuration, started by run.mjs (or profile.mjs)
// with an IPC channel:
//
//   node bench/http/server.mjs --config=bare|hitch|otel|prom|otel-prom
//
// Express 5 on 127.0.0.1, a free port (0), one route `GET /rides/:id` answering a small JSON
// object. Tells the parent `{ type: 'ready', port }`; answers `{ type: 'stats', flush }` with the
// requests the route served, this process's CPU time and (tracing configurations) the spans
// exported; exits on `{ type: 'exit' }` or when the parent goes away.

import { createRequire } from 'node:module';
import { CONFIGS, DroppingSpanExporter, ROUTE_TEMPLATE, rideOf } from './fixtures.mjs';

const arg = process.argv.slice(2).find((a) => a.startsWith('--config='));
const config = CONFIGS.find((c) => c.id === arg?.slice('--config='.length));
if (config === undefined) throw new Error(`--config must be one of ${CONFIGS.map((c) => c.id).join(', ')}`);
if (typeof process.send !== 'function') throw new Error('server.mjs runs as a child of run.mjs or profile.mjs (it needs an IPC channel)');

// The SDK starts before express is loaded (it patches modules as they are required).
const otel = config.otel ? await import('./otel-sdk.mjs') : undefined;

// express and express-prom-bundle are CommonJS and are loaded with require() in every
// configuration: OpenTelemetry patches CommonJS modules through require-in-the-middle, which sees
// require() calls, not ESM imports of CommonJS. (ESM services use import-in-the-middle's loader
// hook instead; it patches the same functions, so the per-request work is the same.)
const require = createRequire(import.meta.url);
const express = require('express');

const app = express();
let hitch;
let hitchExporter;
let hitchProcessor;
if (config.hitch) {
  const { createHitch } = await import('@hitch/core');
  const { hitchExpress } = await import('../../dist/index.js');
  // The same BatchSpanProcessor class as the NodeSDK's (sdk-trace-base 2.x, through sdk-node).
  const { tracing } = await import('@opentelemetry/sdk-node');
  hitchExporter = new DroppingSpanExporter();
  hitchProcessor = new tracing.BatchSpanProcessor(hitchExporter);
  hitch = createHitch({
    service: { name: 'bench' },
    tracing: { exporter: 'none', spanProcessors: [hitchProcessor] },
    metrics: { runtimeMetrics: false },
    // The request log line is written at info: dropped at warn, as in a service that logs warnings only.
    logging: { level: 'warn' },
  });
  hitchExpress(app, { hitch });
}
if (config.prom) {
  const promBundle = require('express-prom-bundle');
  app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
}

let served = 0;
app.get(ROUTE_TEMPLATE, (req, res) => {
  served++;
  res.json(rideOf(req.params.id));
});

const server = await new Promise((resolve, reject) => {
  const s = app.listen(0, '127.0.0.1', (error) => (error === undefined ? resolve(s) : reject(error)));
});

const exporter = otel?.exporter ?? hitchExporter;
const processor = otel?.processor ?? hitchProcessor;

async function stats(flush) {
  // Spans still in the batch processor's queue are exported first, so the count is complete.
  if (flush && processor !== undefined) await processor.forceFlush();
  const cpu = process.cpuUsage();
  return {
    served,
    cpuMicros: cpu.user + cpu.system,
    hrtimeMicros: Number(process.hrtime.bigint() / 1000n),
    rssBytes: process.memoryUsage.rss(),
    spans: exporter === undefined ? null : exporter.snapshot(),
  };
}

process.on('message', (message) => {
  if (message?.type === 'stats') {
    stats(message.flush === true).then(
      (s) => process.send({ type: 'stats', id: message.id, ...s }),
      (error) => process.send({ type: 'error', id: message.id, message: String(error?.stack ?? error) }),
    );
  } else if (message?.type === 'exit') {
    // process.exit, not a graceful close: --cpu-prof writes its profile on any normal exit.
    server.closeAllConnections();
    process.exit(0);
  }
});
// The parent is gone (even killed): never outlive it.
process.on('disconnect', () => process.exit(0));

process.send({ type: 'ready', port: server.address().port, pid: process.pid, config: config.id, hitch: hitch !== undefined });
