// The child processes of the gRPC benchmark (a server and a load generator per configuration), on the shared helpers of
// bench/child-processes.mjs (tracked, killed on exit), which also give the round statistics.

import { fileURLToPath, URL } from 'node:url';
import { Child, killChildren, median, shuffle, summary } from '../../../../bench/child-processes.mjs';
import { childEnv } from './fixtures.mjs';

export { killChildren, median, shuffle, summary };

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.mjs', import.meta.url));

export async function startServer(config, { nodeArgs = [], timeoutMs = 30_000 } = {}) {
  const child = new Child(`server ${config.id}`, SERVER, [`--config=${config.id}`], nodeArgs, childEnv());
  const ready = await child.waitFor('ready', timeoutMs);
  return {
    config,
    child,
    pid: ready.pid,
    target: `127.0.0.1:${ready.port}`,
    /** Served count and CPU time; with `flush`, also spans (queued ones exported first) and metrics. */
    stats: (flush = false) => child.request({ type: 'stats', flush }, 'stats', 10_000),
    stop: () => child.stop(),
  };
}

/** The load generator (grpc-js client) of `config`, connected to `target`. `run(options)` resolves with one measurement. */
export async function startLoadGenerator(config, target, { nodeArgs = [], timeoutMs = 30_000 } = {}) {
  const child = new Child(`client ${config.id}`, LOAD, [`--config=${config.id}`, `--target=${target}`], nodeArgs, childEnv());
  const ready = await child.waitFor('ready', timeoutMs);
  return {
    config,
    pid: ready.pid,
    run: async (options) => (await child.request({ type: 'run', ...options }, 'result', (options.seconds + 30) * 1000)).result,
    /** One call with `request`: `{ reply }` or `{ error }`. */
    probe: (request) => child.request({ type: 'probe', request }, 'probe', 10_000),
    /** OK calls made and CPU time; with `flush`, also spans (queued ones exported first) and metrics. */
    stats: (flush = false) => child.request({ type: 'stats', flush }, 'stats', 10_000),
    stop: () => child.stop(),
  };
}
