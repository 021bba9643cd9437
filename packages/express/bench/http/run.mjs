// HTTP benchmark of @hitch/express: `npm run bench` in packages/express (build @hitch/core and
// @hitch/express first).
//
//   node bench/http/run.mjs                  run, print the table, write the section of docs/benchmarks.md
//   node bench/http/run.mjs --no-write       run and print only
//   node bench/http/run.mjs --rounds=5 --duration=4 --warmup=3 --connections=50 --pipelining=1
//   node bench/http/run.mjs --configs=bare,hitch   (a subset is printed, never written)
//
// Five configurations of one Express 5 app (see fixtures.mjs): bare, Hitch, OpenTelemetry
// auto-instrumentation, express-prom-bundle, OpenTelemetry + express-prom-bundle. Each is a server
// process of its own, started once and kept for the run (steady state, no start-up timed; see
// server.mjs); autocannon runs in another process (load.mjs). After a warm-up, every server is
// checked (checks.mjs); then every round measures every configuration once, in a seeded shuffled
// order; ratios are taken per round. The checks run again at the end. Any failed check or failed
// request fails the run and nothing is written. Formatting: report.mjs.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath, URL } from 'node:url';
import { checkServer } from './checks.mjs';
import { CONFIGS, mulberry32, PATH_SEED, packageVersion, ridePaths } from './fixtures.mjs';
import { killChildren, shuffle, startLoadGenerator, startServer, summary } from './harness.mjs';
import { machineInfo, renderConsole, renderMarkdown, SECTION_END, SECTION_START, spliceSection } from './report.mjs';

const DOC_PATH = fileURLToPath(new URL('../../../../docs/benchmarks.md', import.meta.url));
const PATH_COUNT = 64;
const ORDER_SEED = 1;

const args = process.argv.slice(2);
const KNOWN_FLAGS = ['rounds', 'duration', 'warmup', 'connections', 'pipelining', 'configs'];
for (const a of args) {
  const name = /^--([a-z-]+)/.exec(a)?.[1];
  if (a !== '--no-write' && !(name !== undefined && KNOWN_FLAGS.includes(name) && a.includes('='))) {
    throw new Error(`unknown argument ${a}; known: --no-write, ${KNOWN_FLAGS.map((f) => `--${f}=`).join(', ')}`);
  }
}
const intArg = (name, fallback) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${arg.slice(name.length + 3)}`);
  return value;
};
const settings = {
  rounds: intArg('rounds', 5),
  seconds: intArg('duration', 4),
  warmupSeconds: intArg('warmup', 5),
  connections: intArg('connections', 50),
  pipelining: intArg('pipelining', 1),
  paths: PATH_COUNT,
  seed: PATH_SEED,
};
const configsArg = args.find((a) => a.startsWith('--configs='));
const configIds = configsArg === undefined ? CONFIGS.map((c) => c.id) : configsArg.slice('--configs='.length).split(',');
for (const id of configIds) if (!CONFIGS.some((c) => c.id === id)) throw new Error(`--configs: unknown configuration ${id}; known: ${CONFIGS.map((c) => c.id).join(', ')}`);
const configs = CONFIGS.filter((c) => configIds.includes(c.id));
const complete = configs.length === CONFIGS.length;
const write = !args.includes('--no-write') && complete;
const command = ['node bench/http/run.mjs', ...args].join(' ');

if (!existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))) {
  throw new Error('Cannot find packages/express/dist/index.js: build first (npx tsup in packages/core, then in packages/express).');
}

const paths = ridePaths(PATH_COUNT);
const started = process.hrtime.bigint();
const loadBefore = loadavg()[0];
const problems = [];
const servers = new Map();
let load;

/** One measurement of `server`: autocannon's result and the server's CPU time and served count over it. */
async function measure(server, seconds) {
  const before = await server.stats();
  const result = await load.run({ url: server.url, paths, seconds, connections: settings.connections, pipelining: settings.pipelining });
  const after = await server.stats();
  const failed = result.errors + result.timeouts + result.non2xx;
  if (failed > 0 || result.ok === 0) {
    throw new Error(`${server.config.id}: ${result.ok} 2xx, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts in ${result.seconds} s`);
  }
  const served = after.served - before.served;
  if (served < result.ok) throw new Error(`${server.config.id}: autocannon counted ${result.ok} 2xx but the route served only ${served}`);
  const cpuMicros = after.cpuMicros - before.cpuMicros;
  return {
    reqPerSec: result.ok / result.seconds,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
    serverCpu: cpuMicros / ((after.hrtimeMicros - before.hrtimeMicros) || 1),
    cpuMicrosPerRequest: cpuMicros / served,
  };
}

async function checkAll(when) {
  const evidence = {};
  for (const server of servers.values()) {
    try {
      const checked = await checkServer(server);
      problems.push(...checked.problems.map((p) => `${when}: ${p}`));
      evidence[server.config.id] = checked.evidence;
    } catch (error) {
      const cause = error?.cause instanceof Error ? ` (${error.cause.message})` : '';
      problems.push(`${when}: ${server.config.id}: ${error instanceof Error ? error.message : String(error)}${cause}`);
    }
  }
  return evidence;
}

const samples = new Map(configs.map((c) => [c.id, []]));
let evidence;
try {
  // Servers one after the other, so none starts while another is loaded.
  for (const config of configs) {
    process.stderr.write(`starting server: ${config.id}\n`);
    servers.set(config.id, await startServer(config));
  }
  load = await startLoadGenerator();
  for (const server of servers.values()) {
    process.stderr.write(`warm-up: ${server.config.id}, ${settings.warmupSeconds} s\n`);
    await measure(server, settings.warmupSeconds);
  }
  await checkAll('before the rounds');
  // Nothing is measured when a configuration does not work (the problems are listed at the end).
  if (problems.length > 0) throw new Error('a configuration does not work: not measuring');

  const random = mulberry32(ORDER_SEED);
  const order = [...servers.values()];
  for (let round = 0; round < settings.rounds; round++) {
    shuffle(order, random);
    process.stderr.write(`round ${round + 1}/${settings.rounds}: ${order.map((s) => s.config.id).join(', ')}\n`);
    for (const server of order) samples.get(server.config.id).push(await measure(server, settings.seconds));
  }
  evidence = await checkAll('after the rounds');
} catch (error) {
  problems.push(error instanceof Error ? error.message : String(error));
} finally {
  await Promise.allSettled([load?.stop(), ...[...servers.values()].map((s) => s.stop())]);
  killChildren();
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

if (problems.length > 0 || evidence === undefined) {
  console.error('\nThe HTTP benchmark failed; no results:');
  for (const p of problems) console.error(`  - ${p}`);
  process.exitCode = 1;
} else {
  const perRound = (id, key) => samples.get(id).map((s) => s[key]);
  const ratios = (a, b) => perRound(a, 'reqPerSec').map((x, i) => x / perRound(b, 'reqPerSec')[i]);
  const hasBare = samples.has('bare');
  const rows = configs.map((c) => ({
    id: c.id,
    name: c.name,
    reqPerSec: summary(perRound(c.id, 'reqPerSec')),
    toBare: hasBare ? summary(ratios(c.id, 'bare')) : undefined,
    cpuToBare: hasBare ? summary(perRound(c.id, 'cpuMicrosPerRequest').map((x, i) => x / perRound('bare', 'cpuMicrosPerRequest')[i])) : undefined,
    p50Ms: summary(perRound(c.id, 'p50Ms')).median,
    p99Ms: summary(perRound(c.id, 'p99Ms')).median,
    serverCpu: summary(perRound(c.id, 'serverCpu')).median,
    cpuMicrosPerRequest: summary(perRound(c.id, 'cpuMicrosPerRequest')).median,
  }));
  const targets = [];
  const target = (name, a, b, min) => {
    if (!samples.has(a) || !samples.has(b)) return;
    const ratio = summary(ratios(a, b));
    targets.push({ name, ratio, min, met: ratio.median >= min });
  };
  target('Hitch ≥ 0.90× bare Express (req/s)', 'hitch', 'bare', 0.9);
  target('Hitch ≥ 1.5× OpenTelemetry + express-prom-bundle (req/s)', 'hitch', 'otel-prom', 1.5);

  const notes = [];
  const bare = rows.find((r) => r.id === 'bare');
  if (bare !== undefined && bare.serverCpu < 0.9) {
    notes.push(
      `the bare server used ${Math.round(bare.serverCpu * 100)}% of a core: the load generator or other processes on the machine limited it, ` +
        'which makes req/s noisier and can narrow its ratios; CPU µs/req is less affected.',
    );
  }

  const report = {
    command,
    settings,
    machine: machineInfo(),
    date: new Date(),
    seconds,
    loadAverage: { before: loadBefore, after: loadavg()[0] },
    versions: Object.fromEntries(
      ['express', 'autocannon', 'express-prom-bundle', 'prom-client', '@opentelemetry/sdk-node', '@opentelemetry/instrumentation-http', '@opentelemetry/instrumentation-express'].map((n) => [
        n,
        packageVersion(n),
      ]),
    ),
    configs: rows,
    targets,
    evidence,
    notes,
  };
  console.log(renderConsole(report));
  const missedHitch = targets.find((t) => !t.met && t.name.includes('bare'));
  if (missedHitch !== undefined) console.log('\nHitch missed its target against bare Express: profile it with `node bench/http/profile.mjs`.');

  if (write) {
    const existing = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : '';
    const section = renderMarkdown(report);
    if (!section.startsWith(SECTION_START) || !section.endsWith(SECTION_END)) throw new Error('report.mjs: the section must be enclosed in its markers');
    writeFileSync(DOC_PATH, spliceSection(existing, section));
    console.log(`\nwrote the "HTTP server: Express" section of ${DOC_PATH}`);
  } else if (!complete && !args.includes('--no-write')) {
    console.log(`\nOnly ${configIds.join(', ')}: ${DOC_PATH} is written by a run of every configuration.`);
  }
}
