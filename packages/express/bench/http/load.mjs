// The load generator: autocannon in a process of its own (never the server's, never run.mjs's),
// started once by run.mjs and driven over IPC, so its JIT is warm for every measurement.
//
//   { type: 'run', id, url, paths, seconds, connections, pipelining }
//     -> { type: 'result', id, result: { seconds, ok, non2xx, errors, timeouts, latencyMs } }
//
// Each connection cycles through the same seeded list of paths, from its start (autocannon's
// `requests`, prebuilt: no per-request setup cost in the generator).

import autocannon from 'autocannon';

if (typeof process.send !== 'function') throw new Error('load.mjs runs as a child of run.mjs or profile.mjs (it needs an IPC channel)');

async function run({ url, paths, seconds, connections, pipelining }) {
  const result = await autocannon({
    url,
    duration: seconds,
    connections,
    pipelining,
    timeout: 10,
    requests: paths.map((path) => ({ method: 'GET', path })),
  });
  return {
    seconds: result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean, max: result.latency.max },
  };
}

process.on('message', (message) => {
  if (message?.type === 'exit') process.exit(0);
  if (message?.type !== 'run') return;
  run(message).then(
    (result) => process.send({ type: 'result', id: message.id, result }),
    (error) => process.send({ type: 'error', id: message.id, message: String(error?.stack ?? error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', pid: process.pid, autocannon: true });
