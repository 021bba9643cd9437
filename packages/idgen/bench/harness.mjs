// Measurement helpers of the idgen benchmark: a seeded PRNG for the round order, medians, heap
// allocation per operation, and what machine this ran on.

import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { runInNewContext } from 'node:vm';
import { GCProfiler, setFlagsFromString } from 'node:v8';

/** Seeded 32-bit PRNG (mulberry32): the same round order on every run. */
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

export function shuffle(array, random) {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [array[i], array[j]] = [array[j], array[i]];
  }
  return array;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** { median, min, max } of a list of numbers. */
export function summary(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** The gc() function: the global with --expose-gc, else the flag turned on at runtime. */
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
 * Heap bytes allocated per operation in optimised code: full GC, heapUsed, `n` operations,
 * heapUsed again; a batch during which a GC ran is discarded; the fixed cost (a batch of 1) is
 * subtracted; median of `reps` batches. `n` is small enough to stay in the young generation.
 *
 * Before measuring, `run` is called in short batches for at least `warm` operations and
 * `warmMs` ms, so it is optimised as a function (not only on-stack-replaced) and the concurrent
 * compiler had time to install the code. Of `passes` measurements the lowest counts: a pass
 * that still ran unoptimised code also counts the numbers it boxed.
 */
export function allocationPerOp(run, { gc, n = 2_000, reps = 15, warm = 50_000, warmMs = 50, passes = 3 }) {
  if (gc === undefined) return undefined;
  const warmStart = process.hrtime.bigint();
  for (let done = 0; done < warm || Number(process.hrtime.bigint() - warmStart) < warmMs * 1e6; done += 500) run(500);
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
  let best;
  for (let pass = 0; pass < passes; pass++) {
    const fixed = bytesFor(1);
    const total = bytesFor(n);
    if (fixed === undefined || total === undefined) continue;
    const perOp = Math.max(0, total - fixed) / (n - 1);
    if (best === undefined || perOp < best) best = perOp;
  }
  return best;
}

export function machineInfo() {
  const list = cpus();
  return {
    cpu: list.length > 0 ? list[0].model.trim() : 'unknown',
    cores: list.length,
    os: `${platform()} ${release()}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** The 1-minute load average: the machine may be shared with other work. */
export function loadAverage() {
  return loadavg()[0];
}
