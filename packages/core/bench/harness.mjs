// A small interleaved micro-benchmark harness built on process.hrtime.bigint().
//
// Each case is a function `run(n)` that performs n operations. For every round, every case
// runs one batch of `batch` operations; the order of the cases is shuffled each round (seeded)
// so machine noise and JIT/GC drift hit all cases alike. Results are medians over rounds.
// Comparisons use the median of the per-round ratios: both sides of a ratio ran in the same
// round, a few milliseconds apart, so most of the shared-machine noise cancels.
// runInterleavedAsync does the same for I/O cases; runChild runs a benchmark in a child process.

import { spawn } from 'node:child_process';
import { runInNewContext } from 'node:vm';
import { GCProfiler, setFlagsFromString } from 'node:v8';

/** Seeded 32-bit PRNG (mulberry32): same sequence on every run. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Linear-interpolated quantile q in [0, 1]. */
export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function shuffle(array, random) {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [array[i], array[j]] = [array[j], array[i]];
  }
  return array;
}

/**
 * Runs `cases` ({ id, run(n) }) interleaved.
 * @returns Map id -> { samples: number[] (ns/op per round), median: number }
 */
export function runInterleaved(cases, { rounds, batch, warmupRounds, seed = 1, onRound }) {
  const random = mulberry32(seed);
  const samples = new Map(cases.map((c) => [c.id, []]));
  const order = [...cases];
  for (let round = -warmupRounds; round < rounds; round++) {
    shuffle(order, random);
    for (const c of order) {
      const start = process.hrtime.bigint();
      c.run(batch);
      const elapsed = process.hrtime.bigint() - start;
      if (round >= 0) samples.get(c.id).push(Number(elapsed) / batch);
    }
    if (onRound) onRound(round);
  }
  const results = new Map();
  for (const [id, s] of samples) results.set(id, { samples: s, median: median(s) });
  return results;
}

/**
 * Ratio a/b from interleaved results: median, 25th and 75th percentile of the per-round ratios.
 */
export function ratioOf(results, a, b) {
  const sa = results.get(a).samples;
  const sb = results.get(b).samples;
  const perRound = sa.map((x, i) => x / sb[i]);
  return { median: median(perRound), p25: quantile(perRound, 0.25), p75: quantile(perRound, 0.75) };
}

/**
 * The garbage collector function, or undefined. Uses the `gc` global when node runs with
 * --expose-gc; otherwise turns the flag on at runtime (works on Node 20+).
 */
export function getGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc');
    return typeof gc === 'function' ? gc : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Rough heap allocation per operation: full GC, `heapUsed`, run `n` ops, `heapUsed` again.
 * `n` is small enough that the allocations fit in the young generation (about 1 MiB after a
 * full GC), and a batch during which any GC ran anyway (seen synchronously with
 * v8.GCProfiler) is discarded and retried. The fixed cost of one measurement (the
 * memoryUsage() result, the profiler) is measured with a 1-op batch and subtracted.
 * Returns the median bytes/op over `reps` batches, or undefined without gc.
 */
export function allocationPerOp(run, { gc, n = 2_000, reps = 15, warm = 200_000 }) {
  if (gc === undefined) return undefined;
  run(warm); // optimised code and no lazy initialisation inside the measured batches
  const bytesFor = (ops) => {
    const deltas = [];
    for (let attempt = 0; deltas.length < reps && attempt < reps * 4; attempt++) {
      gc();
      gc();
      const profiler = new GCProfiler();
      profiler.start();
      const before = process.memoryUsage().heapUsed;
      run(ops);
      const after = process.memoryUsage().heapUsed;
      const { statistics } = profiler.stop();
      if (statistics.length === 0) deltas.push(after - before);
    }
    return deltas.length === 0 ? undefined : median(deltas);
  };
  const fixed = bytesFor(1);
  const total = bytesFor(n);
  if (fixed === undefined || total === undefined) return undefined;
  return Math.max(0, total - fixed) / (n - 1);
}

/**
 * runInterleaved for cases whose `run(n)` returns a promise (I/O: a batch of awaited requests).
 * Same seeded shuffle, warm-up rounds and per-round samples. A case may also have `before()` and
 * `after()`, called outside the timed region around each of its batches (e.g. to turn an
 * instrumentation on for that case only and check it is off for the others), and its own
 * `batch` (operations per batch; default: the `batch` option). With `yieldToEventLoop`, the event
 * loop turns once (a `setImmediate`) before each batch, outside the timed region: a batch of
 * promises that settle at once runs entirely in microtasks, so without it timers (a library's
 * own interval, say) would never fire during the whole run.
 * @returns Map id -> { samples: number[] (ns/op per round), median: number }
 */
export async function runInterleavedAsync(cases, { rounds, batch, warmupRounds, seed = 1, onRound, yieldToEventLoop = false }) {
  const random = mulberry32(seed);
  const samples = new Map(cases.map((c) => [c.id, []]));
  const order = [...cases];
  for (let round = -warmupRounds; round < rounds; round++) {
    shuffle(order, random);
    for (const c of order) {
      const n = c.batch ?? batch;
      if (yieldToEventLoop) await new Promise((resolve) => setImmediate(resolve));
      if (c.before) c.before();
      const start = process.hrtime.bigint();
      await c.run(n);
      const elapsed = process.hrtime.bigint() - start;
      if (c.after) c.after();
      if (round >= 0) samples.get(c.id).push(Number(elapsed) / n);
    }
    if (onRound) onRound(round);
  }
  const results = new Map();
  for (const [id, s] of samples) results.set(id, { samples: s, median: median(s) });
  return results;
}

/**
 * allocationPerOp for a `run(n)` that returns a promise of work that settles without I/O (only
 * microtasks, so no other code of the process runs in between). Same method: full GC, `heapUsed`,
 * a batch, `heapUsed`, batches with a GC discarded, the fixed cost (a batch of `unit`) subtracted.
 * `unit`: the smallest batch `run` accepts (e.g. 100 for batches of 100 calls in flight); `n`
 * must be a multiple of it. `fullGcs`: full collections before each batch (one is enough where a
 * full GC is slow and the code under test leaves no finalizers or weak references to clear).
 */
export async function allocationPerOpAsync(run, { gc, n = 1_000, unit = 1, reps = 15, warm = 20_000, fullGcs = 2 }) {
  if (gc === undefined) return undefined;
  await run(warm);
  const bytesFor = async (ops) => {
    const deltas = [];
    for (let attempt = 0; deltas.length < reps && attempt < reps * 4; attempt++) {
      for (let i = 0; i < fullGcs; i++) gc();
      const profiler = new GCProfiler();
      profiler.start();
      const before = process.memoryUsage().heapUsed;
      await run(ops);
      const after = process.memoryUsage().heapUsed;
      const { statistics } = profiler.stop();
      if (statistics.length === 0) deltas.push(after - before);
    }
    return deltas.length === 0 ? undefined : median(deltas);
  };
  const fixed = await bytesFor(unit);
  const total = await bytesFor(n);
  if (fixed === undefined || total === undefined) return undefined;
  return Math.max(0, total - fixed) / (n - unit);
}

/**
 * Ratio of overheads from interleaved results: per round, (a - base) / (b - base), where `base`
 * is the bare operation measured in the same round; median, 25th and 75th percentile over rounds.
 */
export function overheadRatioOf(results, a, b, base) {
  const sa = results.get(a).samples;
  const sb = results.get(b).samples;
  const s0 = results.get(base).samples;
  const perRound = sa.map((x, i) => (x - s0[i]) / (sb[i] - s0[i]));
  return { median: median(perRound), p25: quantile(perRound, 0.25), p75: quantile(perRound, 0.75) };
}

/** Prefix of the one stdout line on which a child benchmark process prints its JSON result. */
export const RESULT_PREFIX = 'BENCH_RESULT ';

/**
 * Runs `node [nodeArgs] script [args]` and resolves with the JSON the child printed after
 * RESULT_PREFIX. Its stderr is passed through; other stdout lines are ignored.
 */
export function runChild(script, args, { nodeArgs = [], env = process.env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${script} ${args.join(' ')} exited with ${signal ?? code} without a result`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)));
    });
  });
}
