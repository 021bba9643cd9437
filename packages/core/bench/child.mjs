// One benchmark suite in a process of its own, started by run.mjs (or by hand):
//
//   node bench/child.mjs --suite=spans --case=sampled|unsampled [--rounds=15 --batch=50000 --warmup=3]
//   node bench/child.mjs --suite=fetch [--batch=1000]
//   node bench/child.mjs --suite=logs [--batch=20000]
//   node bench/child.mjs --suite=resilience [--batch=5000]
//   node bench/child.mjs --suite=fsm [--batch=100000]   (live entities per library)
//
// The suites register OpenTelemetry globals, patch pino or subscribe to undici's diagnostics
// channels, so none of them shares a process with another. The resilience suite registers Hitch's
// globals (one `createHitch` for the instrumented policies) and needs no other suite's JIT state.
// Prints a human summary on stderr and
// the result as JSON on one stdout line starting with RESULT_PREFIX.

// Hitch and the unpatched pino are loaded (static imports) before any suite starts a NodeSDK.
import * as hitchModule from '../dist/index.js';
import { packageVersion } from './fixtures.mjs';
import { allocationPerOp, allocationPerOpAsync, getGc, overheadRatioOf, RESULT_PREFIX, ratioOf, runInterleaved, runInterleavedAsync } from './harness.mjs';

const args = process.argv.slice(2);
const stringArg = (name, fallback) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3);
};
const intArg = (name, fallback) => {
  const arg = stringArg(name, undefined);
  if (arg === undefined) return fallback;
  const value = Number(arg);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
};

/** Batches per allocation measurement: fewer than the metrics bench (15), a full GC costs more in these larger heaps. */
const ALLOCATION_REPS = 7;

const SUITES = {
  spans: { load: () => import('./spans.bench.mjs').then((m) => m.setupSpansBench), batch: 20_000 },
  fetch: { load: () => import('./fetch.bench.mjs').then((m) => m.setupFetchBench), batch: 1_000 },
  logs: { load: () => import('./logs.bench.mjs').then((m) => m.setupLogsBench), batch: 20_000 },
  // `batch`: calls per batch of the retry scenario; the others scale it (see resilience.bench.mjs).
  resilience: { load: () => import('./resilience.bench.mjs').then((m) => m.setupResilienceBench), batch: 5_000 },
  // `batch`: live entities per library (see fsm.bench.mjs); each case sets its own transitions per batch.
  fsm: { load: () => import('./fsm.bench.mjs').then((m) => m.setupFsmBench), batch: 100_000 },
};
const suiteName = stringArg('suite', undefined);
const suite = SUITES[suiteName];
if (suite === undefined) throw new Error(`--suite must be one of ${Object.keys(SUITES).join(', ')}`);
const caseName = stringArg('case', undefined);
const settings = {
  rounds: intArg('rounds', 15),
  batch: intArg('batch', suite.batch),
  warmupRounds: intArg('warmup', 3),
  seed: 1,
};

// Only what the suites configure explicitly: no exporter, sampler or resource from the environment.
for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) delete process.env[key];
process.env.OTEL_TRACES_EXPORTER = 'none';
process.env.OTEL_METRICS_EXPORTER = 'none';
process.env.OTEL_LOGS_EXPORTER = 'none';

const started = process.hrtime.bigint();
const setup = await suite.load();
const bench = await setup(hitchModule, { caseName, batch: settings.batch });
const title = `${suiteName}${caseName === undefined ? '' : ` (${caseName})`}`;
process.stderr.write(`${title}: ${bench.cases.length} cases, ${settings.warmupRounds} warm-up + ${settings.rounds} rounds of ${settings.batch} ops\n`);
const options = {
  ...settings,
  yieldToEventLoop: bench.yieldToEventLoop === true,
  onRound: process.stderr.isTTY ? (round) => process.stderr.write(`\r  round ${round + settings.warmupRounds + 1}/${settings.warmupRounds + settings.rounds}`) : undefined,
};
const results = bench.async ? await runInterleavedAsync(bench.cases, options) : runInterleaved(bench.cases, options);
if (process.stderr.isTTY) process.stderr.write('\n');

const timed = process.hrtime.bigint();
const gc = getGc();
const allocationReps = bench.allocationReps ?? ALLOCATION_REPS;
const allocations = [];
for (const { run, ...a } of bench.allocations ?? []) {
  const measure = { gc, n: bench.allocationBatch ?? 2_000, reps: allocationReps, warm: bench.allocationWarm ?? 20_000, fullGcs: bench.allocationFullGcs };
  allocations.push({ ...a, bytesPerOp: bench.async ? await allocationPerOpAsync(run, measure) : allocationPerOp(run, measure) });
}
process.stderr.write(`  timing ${(Number(timed - started) / 1e9).toFixed(1)} s, allocation ${(Number(process.hrtime.bigint() - timed) / 1e9).toFixed(1)} s\n`);
const problems = await bench.verify();
const info = bench.info === undefined ? undefined : bench.info();
await bench.shutdown();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

// `measure: 'overhead'`: the ratio of (time − baseline) per round, the baseline `c.base` measured in
// the same rounds. Otherwise the ratio of times. `target`: { max, strict } met when ratio ≤ max (< max).
const rows = bench.comparisons.map((c) => {
  const ratio = c.measure === 'overhead' ? overheadRatioOf(results, c.hitch, c.other, c.base) : ratioOf(results, c.hitch, c.other);
  const target = c.target ?? null;
  return {
    ...c,
    target,
    hitchNs: results.get(c.hitch).median,
    otherNs: results.get(c.other).median,
    baseNs: c.base === undefined ? undefined : results.get(c.base).median,
    ratio,
    met: target === null ? null : target.strict ? ratio.median < target.max : ratio.median <= target.max,
  };
});
const VERSIONED = [
  '@opentelemetry/api',
  '@opentelemetry/sdk-node',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/instrumentation-undici',
  '@opentelemetry/instrumentation-pino',
  'pino',
  'cockatiel',
  'opossum',
  'xstate',
  'javascript-state-machine',
];
const result = {
  suite: suiteName,
  case: caseName,
  settings: { ...settings, allocationReps, allocationBatch: bench.allocationBatch ?? 2_000 },
  seconds,
  rows,
  allocations,
  medians: Object.fromEntries([...results].map(([id, r]) => [id, r.median])),
  info,
  versions: { ...Object.fromEntries(VERSIONED.map((name) => [name, packageVersion(name)])), undici: process.versions.undici },
  problems,
};
process.stderr.write(`${title}: ${seconds.toFixed(1)} s${problems.length > 0 ? `, ${problems.length} problem(s)` : ''}\n`);
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
// Keep-alive sockets, timers of an SDK: nothing left should keep us waiting.
process.exit(0);
