// The server under test, one process per configuration, started by run.mjs (or profile.mjs)
// with an IPC channel:
//
//   node bench/grpc/server.mjs --config=bare|hitch|otel
//
// A grpc-js server on 127.0.0.1, a free port (0), serving `bench.Echo/Echo` (echo.proto): the
// request's fields back. Bare and OpenTelemetry: `new grpc.Server()`; Hitch: `createServer({ hitch })`.
// Tells the parent `{ type: 'ready', port }`; answers `{ type: 'stats', flush }` with the calls the
// handler served and this process's CPU time (with `flush`: also its spans, after a flush, and
// Hitch's metrics text); exits on `{ type: 'exit' }` or when the parent goes away.

import { configById, replyOf } from './fixtures.mjs';
import { instrument } from './instrumentation.mjs';

const config = configById(process.argv.slice(2).find((a) => a.startsWith('--config='))?.slice('--config='.length));
if (typeof process.send !== 'function') throw new Error('server.mjs runs as a child of run.mjs or profile.mjs (it needs an IPC channel)');

const { grpc, Echo, hitch, hitchGrpc, telemetry } = await instrument(config);

let served = 0;
const implementation = {
  Echo(call, callback) {
    served++;
    callback(null, replyOf(call.request));
  },
};

const server = config.hitch ? hitchGrpc.createServer({ hitch }) : new grpc.Server();
server.addService(Echo.service, implementation);
// bindAsync starts serving once bound (grpc-js ≥ 1.10).
const port = await new Promise((resolve, reject) => {
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
});

async function stats(flush) {
  const cpu = process.cpuUsage();
  return {
    served,
    cpuMicros: cpu.user + cpu.system,
    hrtimeMicros: Number(process.hrtime.bigint() / 1000n),
    rssBytes: process.memoryUsage.rss(),
    // Spans and metrics for the checks only, never around a measurement: rendering costs CPU.
    ...(flush ? await telemetry(true) : {}),
  };
}

process.on('message', (message) => {
  if (message?.type === 'stats') {
    stats(message.flush === true).then(
      (s) => process.send({ type: 'stats', id: message.id, ...s }),
      (error) => process.send({ type: 'error', id: message.id, message: String(error?.stack ?? error) }),
    );
  } else if (message?.type === 'exit') {
    // process.exit, not a graceful shutdown: --cpu-prof writes its profile on any normal exit.
    server.forceShutdown();
    process.exit(0);
  }
});
// The parent is gone (even killed): never outlive it.
process.on('disconnect', () => process.exit(0));

process.send({ type: 'ready', port, pid: process.pid, config: config.id, hitch: hitch !== undefined });
