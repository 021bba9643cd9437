// gRPC benchmark of @hitch/grpc: `npm run bench` in packages/grpc (build @hitch/core and
// @hitch/grpc first).
//
//   node bench/grpc/run.mjs                  run, print the table, write the section of docs/benchmarks.md
//   node bench/grpc/run.mjs --no-write       run and print only
//   node bench/grpc/run.mjs --rounds=9 --duration=4 --warmup=5 --in-flight=64
//   node bench/grpc/run.mjs --configs=bare,hitch   (a subset is printed, never written)
//
// Three configurations of one unary Echo service and its client (see fixtures.mjs): bare grpc-js,
// Hitch on both sides, OpenTelemetry's gRPC instrumentation on both sides. Each is a server process
// and a client process of its own, started once and kept for the run (steady state, no start-up
// timed; see server.mjs and load.mjs). After a warm-up, every pair is checked (checks.mjs); then
// every round measures every configuration once, in a seeded shuffled order; ratios are taken per
// round. The checks run again at the end. Any failed check or failed call fails the run and nothing
// is written. Formatting: report.mjs.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath, URL } from 'node:url';
import { checkPair } from './checks.mjs';
import { CONFIGS, mulberry32, packageVersion, REQUEST_SEED } from './fixtures.mjs';
import { killChildren, shuffle, startLoadGenerator, startServer, summary } from './harness.mjs';
import { machineInfo, renderConsole, renderMarkdown, SECTION_END, SECTION_START, SECTION_TITLE, spliceSection } from './report.mjs';

const DOC_PATH = fileURLToPath(new URL('../../../../docs/benchmarks.md', import.meta.url));
const REQUEST_COUNT = 64;
const ORDER_SEED = 1;

const args = process.argv.slice(2);
const KNOWN_FLAGS = ['rounds', 'duration', 'warmup', 'in-flight', 'configs'];
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
  rounds: intArg('rounds', 9),
  seconds: intArg('duration', 4),
  warmupSeconds: intArg('warmup', 5),
  inFlight: intArg('in-flight', 64),
  requests: REQUEST_COUNT,
  seed: REQUEST_SEED,
};
const configsArg = args.find((a) => a.startsWith('--configs='));
const configIds = configsArg === undefined ? CONFIGS.map((c) => c.id) : configsArg.slice('--configs='.length).split(',');
for (const id of configIds) if (!CONFIGS.some((c) => c.id === id)) throw new Error(`--configs: unknown configuration ${id}; known: ${CONFIGS.map((c) => c.id).join(', ')}`);
const configs = CONFIGS.filter((c) => configIds.includes(c.id));
const complete = configs.length === CONFIGS.length;
const write = !args.includes('--no-write') && complete;
const command = ['node bench/grpc/run.mjs', ...args].join(' ');

if (!existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))) {
  throw new Error('Cannot find packages/grpc/dist/index.js: build first (npx tsup in packages/core, then in packages/grpc).');
}

const started = process.hrtime.bigint();
const loadBefore = loadavg()[0];
const problems = [];
/** By configuration id: `{ config, server, client }`. */
const pairs = new Map();

/** One measurement of `pair`: the client's calls, latency and CPU time, and the server's CPU time and served count over it. */
async function measure({ config, server, client }, seconds) {
  const before = await server.stats();
  const result = await client.run({ seconds, inFlight: settings.inFlight, requestCount: settings.requests });
  const after = await server.stats();
  const failed = Object.values(result.failed).reduce((sum, n) => sum + n, 0);
  if (failed > 0 || result.mismatched > 0 || result.ok === 0) {
    throw new Error(`${config.id}: ${result.ok} OK calls, ${failed} failed ${JSON.stringify(result.failed)}, ${result.mismatched} wrong replies in ${result.seconds.toFixed(1)} s`);
  }
  const served = after.served - before.served;
  if (served !== result.ok) throw new Error(`${config.id}: the client completed ${result.ok} calls but the handler served ${served}`);
  const serverCpuMicros = after.cpuMicros - before.cpuMicros;
  return {
    callsPerSec: result.ok / result.seconds,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
    serverCpu: serverCpuMicros / (after.hrtimeMicros - before.hrtimeMicros || 1),
    clientCpu: result.cpuMicros / (result.endMicros - result.startMicros || 1),
    serverMicrosPerCall: serverCpuMicros / served,
    clientMicrosPerCall: result.cpuMicros / result.ok,
  };
}

async function checkAll(when) {
  const evidence = {};
  for (const { config, server, client } of pairs.values()) {
    try {
      const checked = await checkPair(server, client);
      problems.push(...checked.problems.map((p) => `${when}: ${p}`));
      evidence[config.id] = checked.evidence;
    } catch (error) {
      problems.push(`${when}: ${config.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return evidence;
}

const samples = new Map(configs.map((c) => [c.id, []]));
const stoppers = [];
let evidence;
try {
  // One process after the other, so none starts while another is loaded.
  for (const config of configs) {
    process.stderr.write(`starting server and client: ${config.id}\n`);
    const server = await startServer(config);
    stoppers.push(server.stop);
    const client = await startLoadGenerator(config, server.target);
    stoppers.push(client.stop);
    pairs.set(config.id, { config, server, client });
  }
  for (const pair of pairs.values()) {
    process.stderr.write(`warm-up: ${pair.config.id}, ${settings.warmupSeconds} s\n`);
    await measure(pair, settings.warmupSeconds);
  }
  await checkAll('before the rounds');
  // Nothing is measured when a configuration does not work (the problems are listed at the end).
  if (problems.length > 0) throw new Error('a configuration does not work: not measuring');

  const random = mulberry32(ORDER_SEED);
  const order = [...pairs.values()];
  for (let round = 0; round < settings.rounds; round++) {
    shuffle(order, random);
    process.stderr.write(`round ${round + 1}/${settings.rounds}: ${order.map((p) => p.config.id).join(', ')}\n`);
    for (const pair of order) samples.get(pair.config.id).push(await measure(pair, settings.seconds));
  }
  evidence = await checkAll('after the rounds');
} catch (error) {
  problems.push(error instanceof Error ? error.message : String(error));
} finally {
  await Promise.allSettled(stoppers.map((stop) => stop()));
  killChildren();
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

if (problems.length > 0 || evidence === undefined) {
  console.error('\nThe gRPC benchmark failed; no results:');
  for (const p of problems) console.error(`  - ${p}`);
  process.exitCode = 1;
} else {
  const perRound = (id, key) => samples.get(id).map((s) => s[key]);
  const ratios = (a, b, key) => perRound(a, key).map((x, i) => x / perRound(b, key)[i]);
  const hasBare = samples.has('bare');
  const rows = configs.map((c) => ({
    id: c.id,
    name: c.name,
    callsPerSec: summary(perRound(c.id, 'callsPerSec')),
    toBare: hasBare ? summary(ratios(c.id, 'bare', 'callsPerSec')) : undefined,
    p50Ms: summary(perRound(c.id, 'p50Ms')).median,
    p99Ms: summary(perRound(c.id, 'p99Ms')).median,
    serverMicrosPerCall: summary(perRound(c.id, 'serverMicrosPerCall')).median,
    serverCpuToBare: hasBare ? summary(ratios(c.id, 'bare', 'serverMicrosPerCall')) : undefined,
    clientMicrosPerCall: summary(perRound(c.id, 'clientMicrosPerCall')).median,
    clientCpuToBare: hasBare ? summary(ratios(c.id, 'bare', 'clientMicrosPerCall')) : undefined,
    serverCpu: summary(perRound(c.id, 'serverCpu')).median,
    clientCpu: summary(perRound(c.id, 'clientCpu')).median,
  }));
  const targets = [];
  /** `a` ÷ `b` in calls/s, per round; met when its median is ≥ `min` (or > `min`, `strict`). */
  const target = (name, a, b, min, strict = false) => {
    if (!samples.has(a) || !samples.has(b)) return;
    const ratio = summary(ratios(a, b, 'callsPerSec'));
    targets.push({ name, ratio, min, met: strict ? ratio.median > min : ratio.median >= min });
  };
  target('Hitch ≥ 0.85× bare grpc-js (calls/s)', 'hitch', 'bare', 0.85);
  target('Hitch faster than OpenTelemetry instrumentation-grpc (calls/s, ratio > 1)', 'hitch', 'otel', 1, true);

  const notes = [];
  const bare = rows.find((r) => r.id === 'bare');
  if (bare !== undefined && Math.max(bare.serverCpu, bare.clientCpu) < 0.9) {
    notes.push(
      `neither bare process used a whole core (server ${Math.round(bare.serverCpu * 100)}%, client ${Math.round(bare.clientCpu * 100)}%): ` +
        'other processes on the machine limited them, which makes calls/s noisier and can narrow its ratios; CPU µs/call is less affected.',
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
      ['@grpc/grpc-js', '@grpc/proto-loader', '@opentelemetry/sdk-node', '@opentelemetry/instrumentation-grpc'].map((n) => [n, packageVersion(n)]),
    ),
    configs: rows,
    targets,
    evidence,
    notes,
  };
  console.log(renderConsole(report));
  const missed = targets.filter((t) => !t.met);
  if (missed.length > 0) console.log('\nHitch missed a target: profile its server and client with `node bench/grpc/profile.mjs --baseline=bare`.');

  if (write) {
    const existing = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : '';
    const section = renderMarkdown(report);
    if (!section.startsWith(SECTION_START) || !section.endsWith(SECTION_END)) throw new Error('report.mjs: the section must be enclosed in its markers');
    writeFileSync(DOC_PATH, spliceSection(existing, section));
    console.log(`\nwrote the "${SECTION_TITLE}" section of ${DOC_PATH}`);
  } else if (!complete && !args.includes('--no-write')) {
    console.log(`\nOnly ${configIds.join(', ')}: ${DOC_PATH} is written by a run of every configuration.`);
  }
}
