// The load generator: a grpc-js client in a process of its own, one per configuration and
// instrumented like its server (a client interceptor is part of what is measured), started once by
// run.mjs (or profile.mjs) and driven over IPC, so its JIT is warm for every measurement.
//
//   node bench/grpc/load.mjs --config=bare|hitch|otel --target=127.0.0.1:<port>
//
//   { type: 'run', id, seconds, inFlight, requestCount }
//     -> { type: 'result', id, result: { seconds, ok, failed, mismatched, latencyMs, cpuMicros, ... } }
//   { type: 'probe', id, request } -> { type: 'probe', id, reply | error }
//   { type: 'stats', id, flush }   -> { type: 'stats', id, calls, cpuMicros[, spans, metricsText] }
//
// A run keeps `inFlight` unary calls outstanding on one channel: each completion starts the next
// call until `seconds` have passed, then the calls in flight finish. Requests cycle through the
// same seeded list. Bare and OpenTelemetry: `new Echo(target, insecure)`; Hitch:
// `createClient(Echo, target, { hitch })`, no policy.

import { createHistogram, performance } from 'node:perf_hooks';
import { configById, echoRequests } from './fixtures.mjs';
import { CHANNEL_OPTIONS, instrument } from './instrumentation.mjs';

const args = process.argv.slice(2);
const config = configById(args.find((a) => a.startsWith('--config='))?.slice('--config='.length));
const target = args.find((a) => a.startsWith('--target='))?.slice('--target='.length);
if (target === undefined) throw new Error('--target=host:port is required');
if (typeof process.send !== 'function') throw new Error('load.mjs runs as a child of run.mjs or profile.mjs (it needs an IPC channel)');

const { grpc, Echo, hitch, hitchGrpc, telemetry } = await instrument(config);
const client = config.hitch
  ? hitchGrpc.createClient(Echo, target, { hitch, channelOptions: CHANNEL_OPTIONS })
  : new Echo(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())));

/** OK calls this process completed since it started (probes included): what the checks compare. */
let calls = 0;
const statusNames = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

function run({ seconds, inFlight, requestCount }) {
  const requests = echoRequests(requestCount);
  const latency = createHistogram();
  const failed = {};
  let ok = 0;
  let mismatched = 0;
  let next = 0;
  let running = 0;
  return new Promise((resolve) => {
    const cpuBefore = process.cpuUsage();
    const startMicros = Number(process.hrtime.bigint() / 1000n);
    const start = performance.now();
    const stopAt = start + seconds * 1000;
    const finish = (end) => {
      const cpu = process.cpuUsage(cpuBefore);
      const ms = (ns) => ns / 1e6;
      resolve({
        seconds: (end - start) / 1000,
        ok,
        failed,
        mismatched,
        latencyMs: { p50: ms(latency.percentile(50)), p99: ms(latency.percentile(99)), mean: ms(latency.mean), max: ms(latency.max) },
        cpuMicros: cpu.user + cpu.system,
        startMicros,
        endMicros: Number(process.hrtime.bigint() / 1000n),
      });
    };
    const issue = () => {
      const request = requests[next++ % requests.length];
      const sent = performance.now();
      running++;
      client.Echo(request, (error, reply) => {
        const received = performance.now();
        running--;
        if (error) {
          const name = statusNames[error.code] ?? String(error.code);
          failed[name] = (failed[name] ?? 0) + 1;
        } else if (reply.sequence !== request.sequence || reply.message !== request.message) {
          mismatched++;
        } else {
          ok++;
          calls++;
          latency.record(Math.max(1, Math.round((received - sent) * 1e6)));
        }
        if (received < stopAt) issue();
        else if (running === 0) finish(received);
      });
    };
    for (let i = 0; i < inFlight; i++) issue();
  });
}

function probe(request) {
  return new Promise((resolve) => {
    client.Echo(request, (error, reply) => {
      if (error) resolve({ error: `${statusNames[error.code] ?? error.code}: ${error.details}` });
      else {
        calls++;
        resolve({ reply });
      }
    });
  });
}

async function stats(flush) {
  const cpu = process.cpuUsage();
  // Spans and metrics for the checks only (`flush`), never around a measurement: rendering costs CPU.
  return { calls, cpuMicros: cpu.user + cpu.system, hrtimeMicros: Number(process.hrtime.bigint() / 1000n), ...(flush ? await telemetry(true) : {}) };
}

const handlers = {
  run: async (message) => ({ type: 'result', result: await run(message) }),
  probe: async (message) => ({ type: 'probe', ...(await probe(message.request)) }),
  stats: async (message) => ({ type: 'stats', ...(await stats(message.flush === true)) }),
};

process.on('message', (message) => {
  if (message?.type === 'exit') {
    // process.exit: --cpu-prof writes its profile on any normal exit.
    client.close();
    process.exit(0);
  }
  const handler = handlers[message?.type];
  if (handler === undefined) return;
  handler(message).then(
    (answer) => process.send({ ...answer, id: message.id }),
    (error) => process.send({ type: 'error', id: message.id, message: String(error?.stack ?? error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', pid: process.pid, config: config.id });
