// Benchmarks of @hitch/core: `npm run bench` (build first; turbo does it for you).
//
//   node bench/run.mjs               run everything, print the tables, regenerate docs/benchmarks.md
//   node bench/run.mjs --no-write    run and print only
//   node bench/run.mjs --rounds=15 --batch=200000
//   node bench/run.mjs --suites=metrics,spans,fetch,logs,resilience,fsm   (a subset is printed, never written)
//   node bench/run.mjs --span-batch=20000 --fetch-batch=1000 --log-batch=20000 --resilience-batch=5000 --fsm-entities=100000
//
// Metrics run in this process (bench/metrics.bench.mjs). Tracing, HTTP client and logging start
// an @opentelemetry/sdk-node each, register globals or patch modules, so every one of them runs in a
// child process of its own (bench/child.mjs, one after the other, never in parallel) and reports
// JSON; so do the resilience policies against cockatiel and opossum (bench/resilience.bench.mjs),
// away from the other suites' heaps and JIT state, and the state machines against xstate and
// javascript-state-machine (bench/fsm.bench.mjs, one process per library: their heaps differ by 30x). Harness: bench/harness.mjs. Formatting: bench/report.mjs.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { allocationPerOp, getGc, ratioOf, runChild, runInterleaved } from './harness.mjs';
import { setupMetricsBench, VALUE_SEED } from './metrics.bench.mjs';
import { machineInfo, renderConsole, renderMarkdown, renderSectionConsole } from './report.mjs';

const DOC_PATH = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url));
const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const ALL_SUITES = ['metrics', 'spans', 'fetch', 'logs', 'resilience', 'fsm'];

const args = process.argv.slice(2);
const intArg = (name, fallback) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
};
const settings = {
  rounds: intArg('rounds', 15),
  batch: intArg('batch', 200_000),
  warmupRounds: intArg('warmup', 3),
  seed: 1,
};
const suitesArg = args.find((a) => a.startsWith('--suites='));
const suites = suitesArg === undefined ? ALL_SUITES : suitesArg.slice('--suites='.length).split(',');
for (const s of suites) if (!ALL_SUITES.includes(s)) throw new Error(`--suites: unknown suite ${s}; known: ${ALL_SUITES.join(', ')}`);
const complete = ALL_SUITES.every((s) => suites.includes(s));
const write = !args.includes('--no-write') && complete;

let hitchModule;
try {
  hitchModule = await import('../dist/index.js');
} catch (error) {
  console.error('Cannot load ../dist/index.js: build the package first (npm run build).');
  throw error;
}

const started = process.hrtime.bigint();
const problems = [];

// --- Metrics, in this process -----------------------------------------------------------------
let rows = [];
let allocations = [];
let metricsCases = 0;
if (suites.includes('metrics')) {
  const bench = setupMetricsBench(hitchModule);
  metricsCases = bench.cases.length;
  const total = settings.warmupRounds + settings.rounds;
  process.stderr.write(`metrics bench: ${bench.cases.length} cases, ${settings.warmupRounds} warm-up + ${settings.rounds} rounds of ${settings.batch} ops\n`);
  const results = runInterleaved(bench.cases, {
    ...settings,
    onRound: process.stderr.isTTY ? (round) => process.stderr.write(`\r  round ${round + settings.warmupRounds + 1}/${total}`) : undefined,
  });
  if (process.stderr.isTTY) process.stderr.write('\n');

  const gc = getGc();
  allocations = bench.allocations.map((a) => ({ ...a, bytesPerOp: allocationPerOp(a.run, { gc }) }));
  problems.push(...(await bench.verify()).map((p) => `metrics: ${p}`));
  await bench.shutdown();

  rows = bench.comparisons.map((c) => {
    const ratio = ratioOf(results, c.hitch, c.other);
    return {
      ...c,
      hitchNs: results.get(c.hitch).median,
      otherNs: results.get(c.other).median,
      ratio,
      met: c.target === null ? null : ratio.median <= c.target.max,
    };
  });
}
const metricsSeconds = Number(process.hrtime.bigint() - started) / 1e9;

// --- Tracing, HTTP client, logging, resilience: one child process per run, sequentially --------
const CHILD_RUNS = {
  spans: [
    ['--suite=spans', '--case=sampled', `--batch=${intArg('span-batch', 20_000)}`],
    ['--suite=spans', '--case=unsampled', `--batch=${intArg('span-batch', 20_000)}`],
  ],
  fetch: [['--suite=fetch', `--batch=${intArg('fetch-batch', 1_000)}`]],
  logs: [['--suite=logs', `--batch=${intArg('log-batch', 20_000)}`]],
  resilience: [['--suite=resilience', `--batch=${intArg('resilience-batch', 5_000)}`]],
  // State machines: one process per library group, each holding that many live entities (bench/fsm.bench.mjs).
  fsm: ['hitch', 'xstate.actor', 'xstate.transition', 'jsm'].map((group) => ['--suite=fsm', `--case=${group}`, `--batch=${intArg('fsm-entities', 100_000)}`]),
};
const sections = [];
for (const suite of ['spans', 'fetch', 'logs', 'resilience', 'fsm']) {
  if (!suites.includes(suite)) continue;
  const results = [];
  for (const childArgs of CHILD_RUNS[suite]) {
    const result = await runChild(CHILD, [...childArgs, `--rounds=${settings.rounds}`, `--warmup=${settings.warmupRounds}`]);
    problems.push(...result.problems.map((p) => `${suite}${result.case === undefined ? '' : ` (${result.case})`}: ${p}`));
    results.push(result);
  }
  sections.push({ suite, results });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

const report = {
  settings: { ...settings, valueSeed: VALUE_SEED, cases: metricsCases },
  machine: machineInfo(),
  date: new Date(),
  seconds,
  metricsSeconds,
  rows,
  allocations,
  sections,
  problems,
};

if (suites.includes('metrics')) console.log(renderConsole({ ...report, seconds: metricsSeconds }));
for (const section of sections) console.log(`\n${renderSectionConsole(section)}`);
console.log(`\ntotal ${seconds.toFixed(1)} s`);

if (problems.length > 0) {
  console.error('\nVerification failed, results are not trustworthy:');
  for (const p of problems) console.error(`  - ${p}`);
  console.error(write ? `Not writing ${DOC_PATH}.` : '');
  process.exitCode = 1;
} else if (write) {
  // Keep the sections packages/express/bench/http/run.mjs, packages/grpc/bench/grpc/run.mjs and packages/idgen/bench/run.mjs write between their markers, at the end.
  const existing = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : '';
  const kept = [/<!-- express-bench:start -->[\s\S]*?<!-- express-bench:end -->/, /<!-- grpc-bench:start -->[\s\S]*?<!-- grpc-bench:end -->/, /<!-- idgen-bench:start -->[\s\S]*?<!-- idgen-bench:end -->/].map((marked) => marked.exec(existing)?.[0]);
  writeFileSync(DOC_PATH, renderMarkdown(report) + kept.map((section) => (section === undefined ? '' : `\n${section}\n`)).join(''));
  console.log(`\nwrote ${DOC_PATH}`);
} else if (!complete && !args.includes('--no-write')) {
  console.log(`\nOnly ${suites.join(', ')}: ${DOC_PATH} is written by a run of every suite.`);
}
