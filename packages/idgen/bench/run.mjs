// Benchmark of @hitch/idgen against the Snowflake libraries users would pick instead:
// `npm run bench` in packages/idgen (build @hitch/core and @hitch/idgen first).
//
//   node bench/run.mjs                 run, print, and write the idgen section of docs/benchmarks.md
//   node bench/run.mjs --no-write      run and print only
//   node bench/run.mjs --rounds=9 --ids=1000000 --warmup=1 --compose-ids=5000000
//
// Every generator runs in this process, in the same rounds (order shuffled per round, seeded).
// Harness: bench/harness.mjs; the generators: bench/generators.mjs; formatting: bench/report.mjs.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { runCompose } from './compose.mjs';
import { loadGenerators, sustainedLeads } from './generators.mjs';
import { allocationPerOp, getGc, loadAverage, machineInfo, median, mulberry32, shuffle, summary } from './harness.mjs';
import { SECTION_START, renderConsole, renderMarkdown, spliceSection } from './report.mjs';

const DOC_PATH = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url));
const TARGET_IDS_PER_SECOND = 4.0e6;

const args = process.argv.slice(2);
const intArg = (name, fallback) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
};
const settings = {
  rounds: Math.max(1, intArg('rounds', 9)),
  ids: Math.max(2, intArg('ids', 1_000_000)),
  warmupRounds: intArg('warmup', 1),
  composeIds: Math.max(1, intArg('compose-ids', 5_000_000)),
  seed: 1,
};
const write = !args.includes('--no-write');

let idgen;
try {
  idgen = await import('../dist/index.js');
} catch (error) {
  console.error('Cannot load ../dist/index.js: build the package first (npx tsup).');
  throw error;
}

const gc = getGc();
const started = process.hrtime.bigint();
const loadBefore = loadAverage();
const { cases, versions, shutdown } = await loadGenerators(idgen);
const problems = [];

const out = new BigUint64Array(settings.ids);
const sorted = new BigUint64Array(settings.ids);
/** Ids not greater than the one before, and ids equal to an earlier one. */
function check(ids) {
  let outOfOrder = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i] <= ids[i - 1]) outOfOrder++;
  sorted.set(ids);
  sorted.sort();
  let duplicates = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) duplicates++;
  return { outOfOrder, duplicates };
}

/**
 * A loop of its own for each generator: `new Function` compiles a new function every time, so
 * no two generators share a call site (a shared loop would call them all through one
 * megamorphic site and measure that, not the generators).
 */
const freshLoop = () => new Function('next', 'out', 'n', 'for (let i = 0; i < n; i++) out[i] = next();');
const loops = new Map(cases.map((c) => [c.id, freshLoop()]));

const samples = new Map(cases.map((c) => [c.id, { seconds: [], duplicates: [], outOfOrder: [] }]));
const random = mulberry32(settings.seed);
const order = [...cases];
const total = settings.warmupRounds + settings.rounds;
process.stderr.write(`idgen bench: ${cases.length} generators, ${settings.warmupRounds} warm-up + ${settings.rounds} rounds of ${settings.ids} ids\n`);
for (let round = -settings.warmupRounds; round < settings.rounds; round++) {
  shuffle(order, random);
  for (const c of order) {
    if (gc !== undefined) gc();
    const next = c.create();
    const loop = loops.get(c.id);
    const start = process.hrtime.bigint();
    loop(next, out, settings.ids);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const { outOfOrder, duplicates } = check(out);
    if (round >= 0) {
      const s = samples.get(c.id);
      s.seconds.push(seconds);
      s.duplicates.push(duplicates);
      s.outOfOrder.push(outOfOrder);
    }
    if (c.hitch && (duplicates > 0 || outOfOrder > 0)) problems.push(`${c.id}: ${duplicates} duplicates, ${outOfOrder} out of order in round ${round}`);
  }
  process.stderr.write(`  round ${round + settings.warmupRounds + 1}/${total}\n`);
}

// Heap allocated per id, each generator fresh, through a loop of its own. The ids are kept (in a
// ring of 1024 slots) so each bigint must exist: stored straight into a BigUint64Array, an
// inlined id may never be materialised, which is not what a caller keeping ids sees.
const keep = new Array(1024).fill(0n);
const freshKeepingLoop = () => new Function('next', 'keep', 'n', 'for (let i = 0; i < n; i++) keep[i & 1023] = next();');
const allocations = new Map();
for (const c of cases) {
  const next = c.create();
  const loop = freshKeepingLoop();
  allocations.set(
    c.id,
    allocationPerOp((k) => loop(next, keep, k), { gc }),
  );
}

const compose = runCompose({ rounds: settings.rounds, n: settings.composeIds, median, allocationPerOp, gc });
problems.push(...compose.problems);
await shutdown();

// Ratios are to the sustained Hitch rate, the conservative baseline (no burst).
const hitchSeconds = samples.get('hitch-sustained').seconds;
const rows = cases.map((c) => {
  const s = samples.get(c.id);
  return {
    id: c.id,
    name: c.name,
    idsPerSecond: summary(s.seconds.map((sec) => settings.ids / sec)),
    // ids/s of this generator ÷ ids/s of Hitch in the same round
    toHitch: summary(s.seconds.map((sec, i) => hitchSeconds[i] / sec)),
    duplicates: summary(s.duplicates),
    outOfOrder: summary(s.outOfOrder),
    bytesPerId: allocations.get(c.id),
  };
});
const byId = new Map(rows.map((r) => [r.id, r]));

const targetFor = (id, label) => {
  const row = byId.get(id);
  const met = row.idsPerSecond.median >= TARGET_IDS_PER_SECOND && row.duplicates.max === 0 && row.outOfOrder.max === 0;
  return {
    name: `${label}: at least ${(TARGET_IDS_PER_SECOND / 1e6).toFixed(1)}M ids/s, zero duplicates`,
    detail: `${(row.idsPerSecond.median / 1e6).toFixed(2)}M ids/s (min ${(row.idsPerSecond.min / 1e6).toFixed(2)}M), ${row.duplicates.max} duplicates, ${row.outOfOrder.max} out of order`,
    met,
  };
};
// The target is for default options; `maxRollbackMs: 0` is a trade-off a user opts into (no
// window to absorb a preempted millisecond), reported in the table and the notes, not targeted.
const targets = [
  targetFor('hitch', 'Hitch `next()`, default options, fresh generator'),
  targetFor('hitch-sustained', 'Hitch `next()`, default options, sustained'),
  targetFor('hitch-metrics', 'Hitch `next()` with metrics'),
];

const notes = [];
const ceiling = 4096 * 1000;
const hitchRow = byId.get('hitch');
notes.push(
  `One generator of the default layout can issue at most 4,096 ids per millisecond of the clock, ${(ceiling / 1e6).toFixed(3)}M ids/s sustained. ` +
    'Hitch with default options may also run up to `maxRollbackMs` (50) milliseconds ahead of the clock, so a fresh generator can issue ' +
    `51 × 4,096 = 208,896 ids before it has to wait at all: over ${(settings.ids / 1e6).toFixed(0)}M ids that burst puts it at ` +
    `${(hitchRow.idsPerSecond.median / 1e6).toFixed(2)}M ids/s here. The "already \`maxRollbackMs\` ahead" row starts at the edge of that window ` +
    '(49–50 ms ahead), so it shows the sustained rate: the ceiling, plus at most the 1–2 ms of ids the window still had at the start.',
);
const minLead = Math.min(...sustainedLeads);
if (minLead < 49) {
  notes.push(
    `The sustained generator was only ${minLead} ms ahead of the clock when a round started (it should be 49-50): on this machine it ` +
      'could not issue ids faster than the clock allows, so that row is limited by the cost per id, not by the ceiling.',
  );
}
const strict = byId.get('hitch-strict');
const sustained = byId.get('hitch-sustained');
notes.push(
  `\`maxRollbackMs: 0\` never runs ahead of the clock: once a millisecond's 4,096 ids are used it waits for the next one, so every millisecond ` +
    'in which the process does not run (the OS gives the core to another process, a GC pause) is lost for good: ' +
    `${(strict.idsPerSecond.median / 1e6).toFixed(2)}M ids/s here against ${(sustained.idsPerSecond.median / 1e6).toFixed(2)}M sustained with the default ` +
    '50 ms window, which lets the generator catch up on the milliseconds it missed. The code path is the same; the difference is what the window ' +
    'absorbs, and it grows with the load of the machine. That mode is reported here, not held to the target.',
);
const hitchBytes = ['hitch', 'hitch-sustained', 'hitch-strict', 'hitch-metrics'].map((id) => byId.get(id).bytesPerId).filter((b) => b !== undefined);
if (hitchBytes.length > 0) {
  const low = Math.round(Math.min(...hitchBytes));
  const high = Math.round(Math.max(...hitchBytes));
  notes.push(
    `Hitch's bytes/id: the bigint itself is 24 (see "Building the id"); the rest is the clock reading, a number the JIT boxes when it does ` +
      `not inline \`clock.now()\` (\`performance.now()\` is a call into Node), 16 bytes each time: ${low === high ? `${low}` : `${low} to ${high}`} here, ` +
      'depending on what was inlined. The other libraries build each id with several BigInt operations or a Buffer.',
  );
}
const sapphire = byId.get('sapphire');
if (sapphire.duplicates.max > 0) {
  // Over 4,096 ids per ms on average means some millisecond got more than 4,096: a wrap inside it, so repeats.
  const sapphireSamples = samples.get('sapphire');
  const sustainedRate = byId.get('hitch-sustained').idsPerSecond.median;
  const fasterRounds = sapphireSamples.seconds.map((sec, i) => ({ rate: settings.ids / sec, duplicates: sapphireSamples.duplicates[i] })).filter((r) => r.rate > sustainedRate);
  notes.push(
    `@sapphire/snowflake never waits: its 12-bit increment wraps every 4,096 ids whatever the millisecond, so in any millisecond in which it issues more ` +
      `than 4,096 ids, ids repeat: ${Math.round(sapphire.duplicates.median).toLocaleString('en-US')} duplicates in the median round here ` +
      `(${Math.round(sapphire.duplicates.max).toLocaleString('en-US')} in the worst), and an id out of order at each wrap. ` +
      (fasterRounds.length === 0
        ? 'It was not faster than the sustained Hitch rate in any round.'
        : `It beat the sustained Hitch rate in ${fasterRounds.length} of ${settings.rounds} rounds, and repeated ids in ` +
          `${fasterRounds.filter((r) => r.duplicates > 0).length} of those: it is faster only by repeating ids.`),
  );
} else {
  notes.push(
    '@sapphire/snowflake never waits (its increment wraps every 4,096 ids, whatever the millisecond), but on this run it never issued more than 4,096 ids ' +
      'within one millisecond, so it repeated none.',
  );
}
notes.push(
  'Duplicates and order are per generator within one round; across processes, uniqueness rests on distinct worker/datacenter ids for every library alike.',
);
notes.push('Absolute rates depend on the machine and on its load (see the load average above); the duplicate counts and the ceiling do not.');

const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const report = {
  command: ['node bench/run.mjs', ...args.filter((a) => a !== '--no-write')].join(' '),
  settings,
  machine: machineInfo(),
  date: new Date(),
  seconds,
  load: { before: loadBefore, after: loadAverage() },
  versions,
  rows,
  targets,
  notes,
  compose: compose.rows,
};

console.log(renderConsole(report));

if (problems.length > 0) {
  console.error('\nVerification failed, results are not trustworthy:');
  for (const p of problems) console.error(`  - ${p}`);
  if (write) console.error(`Not writing ${DOC_PATH}.`);
  process.exitCode = 1;
} else if (write) {
  const existing = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : '';
  writeFileSync(DOC_PATH, spliceSection(existing, renderMarkdown(report)));
  console.log(`\nwrote the ${SECTION_START} section of ${DOC_PATH}`);
}
