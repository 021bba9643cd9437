// How to turn (timestamp, low 22 bits) into a 64-bit bigint, measured: why next() writes two
// 32-bit words into a DataView and reads one 64-bit integer instead of doing BigInt arithmetic.
// Each variant is a function returning the id, like next(), called from a loop of its own
// (compiled per variant, so no call site is shared) that keeps the ids in a ring of 1024 slots,
// so every bigint must exist (an id stored straight into a BigUint64Array may never be
// materialised once everything is inlined). Same inputs everywhere; all must build the same ids.

const words = new Uint32Array(2);
const id64 = new BigUint64Array(words.buffer);
const LOW = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HIGH = 1 - LOW;
const view = new DataView(new ArrayBuffer(8));
const T0 = 91_000_000_000;

export const COMPOSE_VARIANTS = [
  {
    id: 'dataview',
    name: '`DataView`: two `setUint32`, one `getBigUint64` (what `next()` does)',
    build(t, low) {
      view.setUint32(0, Math.floor(t / 1024));
      view.setUint32(4, (t % 1024) * 4194304 + low);
      return view.getBigUint64(0);
    },
  },
  {
    id: 'words',
    name: '`BigUint64Array` over two `Uint32Array` words',
    build(t, low) {
      words[HIGH] = Math.floor(t / 1024);
      words[LOW] = (t % 1024) * 4194304 + low;
      return id64[0];
    },
  },
  {
    id: 'shift',
    name: '`(BigInt(t) << 22n) | BigInt(low)`',
    build(t, low) {
      return (BigInt(t) << 22n) | BigInt(low);
    },
  },
  {
    id: 'halves',
    name: '`(BigInt(high) << 32n) | BigInt(lowWord)`',
    build(t, low) {
      return (BigInt(Math.floor(t / 1024)) << 32n) | BigInt((t % 1024) * 4194304 + low);
    },
  },
];

const freshLoop = () =>
  new Function('build', 'keep', 't0', 'n', 'for (let i = 0; i < n; i++) keep[i & 1023] = build(t0 + (i >>> 12), i & 4095);');

/** ns/id (median over rounds) and bytes/id of each variant; problems if they disagree. */
export function runCompose({ rounds, n, median, allocationPerOp, gc }) {
  const problems = [];
  const expected = (BigInt(T0 + 7) << 22n) | 1234n;
  for (const v of COMPOSE_VARIANTS) {
    const got = v.build(T0 + 7, 1234);
    if (got !== expected) problems.push(`compose: ${v.id} built ${got}, expected ${expected}`);
  }
  const keep = new Array(1024).fill(0n);
  const loops = new Map(COMPOSE_VARIANTS.map((v) => [v.id, freshLoop()]));
  const samples = new Map(COMPOSE_VARIANTS.map((v) => [v.id, []]));
  for (let round = -1; round < rounds; round++) {
    for (const v of COMPOSE_VARIANTS) {
      const loop = loops.get(v.id);
      const start = process.hrtime.bigint();
      loop(v.build, keep, T0, n);
      const ns = Number(process.hrtime.bigint() - start) / n;
      if (round >= 0) samples.get(v.id).push(ns);
    }
  }
  const rows = COMPOSE_VARIANTS.map((v) => {
    const loop = loops.get(v.id);
    return {
      id: v.id,
      name: v.name,
      nsPerId: median(samples.get(v.id)),
      bytesPerId: allocationPerOp((k) => loop(v.build, keep, T0, k), { gc }),
    };
  });
  return { rows, problems };
}
