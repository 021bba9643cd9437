// The child processes of the HTTP benchmark (servers under test, the load generator), on the shared helpers of
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
    port: ready.port,
    pid: ready.pid,
    url: `http://127.0.0.1:${ready.port}`,
    /** Served count, CPU time and spans; `flush` exports queued spans first. */
    stats: (flush = false) => child.request({ type: 'stats', flush }, 'stats', 10_000),
    stop: () => child.stop(),
  };
}

/** The autocannon process. `run(options)` resolves with one measurement. */
export async function startLoadGenerator() {
  const child = new Child('autocannon', LOAD, [], [], childEnv());
  await child.waitFor('ready', 30_000);
  return {
    pid: child.process.pid,
    run: async (options) => (await child.request({ type: 'run', ...options }, 'result', (options.seconds + 30) * 1000)).result,
    stop: () => child.stop(),
  };
}
