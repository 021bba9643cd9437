// Metrics benchmark of @hitch/core: `npm run bench` (build first; turbo does it for you).
//
//   node bench/run.mjs               run, print the table, regenerate docs/benchmarks.md
//   node bench/run.mjs --no-write    run and print only
//   node bench/run.mjs --rounds=15 --batch=200000
//
// Harness: bench/harness.mjs. Cases and targets: bench/metrics.bench.mjs.

import { writeFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { allocationPerOp, getGc, ratioOf, runInterleaved } from './harness.mjs';
import { setupMetricsBench, VALUE_SEED } from './metrics.bench.mjs';
import { machineInfo, renderConsole, renderMarkdown } from './report.mjs';

const DOC_PATH = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url));

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
const write = !args.includes('--no-write');

let hitchModule;
try {
  hitchModule = await import('../dist/index.js');
} catch (error) {
  console.error('Cannot load ../dist/index.js: build the package first (npm run build).');
  throw error;
}

const bench = setupMetricsBench(hitchModule);
const started = process.hrtime.bigint();
const total = settings.warmupRounds + settings.rounds;
process.stderr.write(`metrics bench: ${bench.cases.length} cases, ${settings.warmupRounds} warm-up + ${settings.rounds} rounds of ${settings.batch} ops\n`);
const results = runInterleaved(bench.cases, {
  ...settings,
  onRound: process.stderr.isTTY ? (round) => process.stderr.write(`\r  round ${round + settings.warmupRounds + 1}/${total}`) : undefined,
});
if (process.stderr.isTTY) process.stderr.write('\n');

const gc = getGc();
const allocations = bench.allocations.map((a) => ({ ...a, bytesPerOp: allocationPerOp(a.run, { gc }) }));
const problems = await bench.verify();
await bench.shutdown();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

const rows = bench.comparisons.map((c) => {
  const ratio = ratioOf(results, c.hitch, c.other);
  return {
    ...c,
    hitchNs: results.get(c.hitch).median,
    otherNs: results.get(c.other).median,
    ratio,
    met: c.target === null ? null : ratio.median <= c.target.max,
  };
});

const report = {
  settings: { ...settings, valueSeed: VALUE_SEED, cases: bench.cases.length },
  machine: machineInfo(),
  date: new Date(),
  seconds,
  rows,
  allocations,
  problems,
};

console.log(renderConsole(report));

if (problems.length > 0) {
  console.error('\nVerification failed, results are not trustworthy:');
  for (const p of problems) console.error(`  - ${p}`);
  console.error(write ? `Not writing ${DOC_PATH}.` : '');
  process.exitCode = 1;
} else if (write) {
  writeFileSync(DOC_PATH, renderMarkdown(report));
  console.log(`\nwrote ${DOC_PATH}`);
}
