// Resilience policies around a trivial call: Hitch (`@hitch/core/resilience`, standalone, and
// `hitch.resilience.*`, instrumented) against cockatiel and opossum, side by side in one process.
//
// The issue asked for `bench/resilience.bench.ts`; the suites are ES modules run by plain node
// (Node 20 cannot strip types and no TypeScript loader is installed), so it is this .mjs file.
//
// Scenarios: breaker alone, retry alone, timeout alone, retry+breaker+timeout composed,
// breaker+timeout (opossum's one object), and rejection by an open breaker; each called
// sequentially (`await` one call, then the next) and with 100 calls in flight (started together,
// awaited with Promise.all). The work is the same trivial async function on every side; a bare
// `await fn()` in the same rounds is the baseline the overheads are measured against.

import { context } from '@opentelemetry/api';
import {
  CircuitState as CockatielState,
  ExponentialBackoff,
  SamplingBreaker,
  TimeoutStrategy,
  circuitBreaker as cockatielBreaker,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap,
} from 'cockatiel';
import OpossumBreaker from 'opossum';
import { circuitBreaker, compose, retry, timeout } from '../dist/resilience/index.js';

/** Calls started together in the "in flight" mode. */
export const IN_FLIGHT = 100;
export const MODES = ['seq', 'par'];
/** Open duration of the breakers held open for the rejection cases: longer than any run. */
const HOUR = 3_600_000;

/**
 * Scenarios, in report order. `factor` scales the batch (`--batch`, calls per batch) so that a
 * batch of the cheapest scenarios is not a fraction of a millisecond and one of the dearest not
 * much more than 100 ms; every case of a scenario and mode, the baseline included for the
 * breaker, has the same batch. `parFactor`: the factor with calls in flight, when it differs.
 */
export const SCENARIOS = [
  { key: 'breaker', title: 'breaker alone', factor: 8, parFactor: 2 },
  { key: 'retry', title: 'retry alone', factor: 1 },
  { key: 'timeout', title: 'timeout alone', factor: 0.5 },
  { key: 'composed', title: 'retry + breaker + timeout', factor: 0.5 },
  { key: 'breakerTimeout', title: 'breaker + timeout', factor: 0.5 },
  { key: 'reject', title: 'rejection by an open breaker', factor: 1 },
];

const AsyncFunction = (async () => undefined).constructor;

// Loop bodies. Every case gets its own compiled copy (same source text), so that each call site
// sees one policy class only, as a line of application code does. A shared loop would make
// `target.execute` megamorphic and add the same dispatch cost to every library.
const LOOPS = {
  seq: (call) => `let s = 0;
for (let i = 0; i < n; i++) s += await ${call};
return s;`,
  par: (call) => `let s = 0;
const calls = new Array(${IN_FLIGHT});
for (let i = 0; i < n; i += ${IN_FLIGHT}) {
  for (let j = 0; j < ${IN_FLIGHT}; j++) calls[j] = ${call};
  const values = await Promise.all(calls);
  for (let j = 0; j < ${IN_FLIGHT}; j++) s += values[j];
}
return s;`,
  // Rejections: count the ones with the expected error; anything else (a value, another error) is not counted.
  rejectSeq: (call) => `let s = 0;
for (let i = 0; i < n; i++) {
  try {
    await ${call};
  } catch (error) {
    if (expected(error)) s++;
  }
}
return s;`,
  rejectPar: (call) => `let s = 0;
const calls = new Array(${IN_FLIGHT});
for (let i = 0; i < n; i += ${IN_FLIGHT}) {
  for (let j = 0; j < ${IN_FLIGHT}; j++) calls[j] = ${call};
  const settled = await Promise.allSettled(calls);
  for (let j = 0; j < ${IN_FLIGHT}; j++) if (settled[j].status === 'rejected' && expected(settled[j].reason)) s++;
}
return s;`,
};

function compileLoop(kind, call) {
  return new AsyncFunction('target', 'fn', 'expected', 'n', LOOPS[kind](call));
}

/** The work: a trivial async function returning 1, counting its calls (one counter per case). */
function makeWork() {
  const work = { calls: 0, fn: undefined };
  work.fn = async () => {
    work.calls++;
    return 1;
  };
  return work;
}

const failing = async () => {
  throw new Error('dependency down');
};

// One instance of each configuration per case: no state is shared between cases.
const cockatiel = {
  breaker: (halfOpenAfter = 5_000) =>
    cockatielBreaker(handleAll, { halfOpenAfter, breaker: new SamplingBreaker({ threshold: 0.5, duration: 5_000, minimumRps: 2 }) }),
  // cockatiel's maxAttempts counts retries: 2 retries = 3 attempts, Hitch's maxAttempts: 3.
  retry: () => cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  timeout: () => cockatielTimeout(1_000, TimeoutStrategy.Aggressive),
};
const opossumOptions = (timeoutMs, resetTimeout = 5_000) => ({
  timeout: timeoutMs,
  errorThresholdPercentage: 50,
  resetTimeout,
  rollingCountTimeout: 5_000,
  volumeThreshold: 10,
});

const isHitchOpen = (error) => error !== null && typeof error === 'object' && error.isCircuitOpenError === true;
const isCockatielOpen = (error) => error !== null && typeof error === 'object' && error.isBrokenCircuitError === true;
const isOpossumOpen = (error) => error !== null && typeof error === 'object' && error.code === 'EOPENBREAKER';

export async function setupResilienceBench({ createHitch }, { batch: unit = 5_000 } = {}) {
  const problems = [];
  const onUnhandled = (reason) => problems.push(`unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`);
  process.on('unhandledRejection', onUnhandled);

  const warnings = [];
  const hitch = createHitch({
    service: { name: 'bench' },
    tracing: { exporter: 'none' },
    metrics: { runtimeMetrics: false, onWarning: (w) => warnings.push(w) },
    logging: { level: 'silent' },
  });
  const instrumented = hitch.resilience;

  const batchOf = (factor) => Math.max(IN_FLIGHT, Math.round((unit * factor) / IN_FLIGHT) * IN_FLIGHT);
  /** Calls per batch by scenario and mode: `batches.breaker.par`. */
  const batches = Object.fromEntries(SCENARIOS.map((s) => [s.key, { seq: batchOf(s.factor), par: batchOf(s.parFactor ?? s.factor) }]));

  const cases = [];
  const byId = new Map();
  const opossums = [];
  /**
   * A case: `target` and the loop's call expression; `expected` tells a rejection case's error.
   * `closed()` (success cases) or `open()` (rejection cases) reads the breaker's state.
   */
  const define = ({ lib, scenario, mode, target, call, work, expected, open, closed }) => {
    const id = `${lib}.${scenario}.${mode}`;
    const rejecting = expected !== undefined;
    const loop = compileLoop(rejecting ? (mode === 'seq' ? 'rejectSeq' : 'rejectPar') : mode, call);
    const state = { id, lib, scenario, mode, ops: 0, total: 0, work, rejecting, closed, open };
    const c = {
      id,
      batch: batches[scenario === 'call' ? 'breaker' : scenario][mode],
      before: rejecting
        ? () => {
            if (!open()) problems.push(`${id}: the breaker was not open before a batch`);
          }
        : undefined,
      async run(n) {
        if (n % (mode === 'par' ? IN_FLIGHT : 1) !== 0) throw new Error(`${id}: batch ${n} is not a multiple of ${IN_FLIGHT}`);
        state.ops += n;
        state.total += await loop(target, work.fn, expected, n);
      },
    };
    cases.push(c);
    byId.set(id, state);
    return c;
  };

  /** Opens a breaker the way an outage does: failing calls until it opens (at most 100). */
  const failUntilOpen = async (execute, isOpen, id) => {
    for (let i = 0; i < 100 && !isOpen(); i++) await execute(failing).catch(() => undefined);
    if (!isOpen()) throw new Error(`${id}: the breaker did not open after 100 failing calls`);
  };

  for (const mode of MODES) {
    // --- baseline: the bare call -------------------------------------------------------------------
    define({ lib: 'base', scenario: 'call', mode, target: undefined, call: 'fn()', work: makeWork() });

    // --- breaker alone -------------------------------------------------------------------------------
    {
      const h = circuitBreaker({ name: 'breaker' });
      define({ lib: 'hitch', scenario: 'breaker', mode, target: h, call: 'target.execute(fn)', work: makeWork(), closed: () => h.state === 'closed' });
      const hi = instrumented.circuitBreaker({ name: 'breaker' });
      define({ lib: 'hitchInstr', scenario: 'breaker', mode, target: hi, call: 'target.execute(fn)', work: makeWork(), closed: () => hi.state === 'closed' });
      const c = cockatiel.breaker();
      define({ lib: 'cockatiel', scenario: 'breaker', mode, target: c, call: 'target.execute(fn)', work: makeWork(), closed: () => c.state === CockatielState.Closed });
      const w = makeWork();
      const o = new OpossumBreaker(w.fn, opossumOptions(false));
      opossums.push(o);
      define({ lib: 'opossum', scenario: 'breaker', mode, target: o, call: 'target.fire()', work: w, closed: () => o.closed });
    }

    // --- retry alone ---------------------------------------------------------------------------------
    define({ lib: 'hitch', scenario: 'retry', mode, target: retry({ name: 'retry' }), call: 'target.execute(fn)', work: makeWork() });
    define({ lib: 'hitchInstr', scenario: 'retry', mode, target: instrumented.retry({ name: 'retry' }), call: 'target.execute(fn)', work: makeWork() });
    define({ lib: 'cockatiel', scenario: 'retry', mode, target: cockatiel.retry(), call: 'target.execute(fn)', work: makeWork() });

    // --- timeout alone -------------------------------------------------------------------------------
    define({ lib: 'hitch', scenario: 'timeout', mode, target: timeout({ name: 'timeout', timeoutMs: 1_000 }), call: 'target.execute(fn)', work: makeWork() });
    define({
      lib: 'hitchInstr',
      scenario: 'timeout',
      mode,
      target: instrumented.timeout({ name: 'timeout', timeoutMs: 1_000 }),
      call: 'target.execute(fn)',
      work: makeWork(),
    });
    define({ lib: 'cockatiel', scenario: 'timeout', mode, target: cockatiel.timeout(), call: 'target.execute(fn)', work: makeWork() });

    // --- retry + breaker + timeout --------------------------------------------------------------------
    {
      const hb = circuitBreaker({ name: 'composed_breaker' });
      const h = compose(retry({ name: 'composed_retry' }), hb, timeout({ name: 'composed_timeout', timeoutMs: 1_000 }));
      define({ lib: 'hitch', scenario: 'composed', mode, target: h, call: 'target.execute(fn)', work: makeWork(), closed: () => hb.state === 'closed' });
      const hib = instrumented.circuitBreaker({ name: 'composed_breaker' });
      const hi = instrumented.compose(instrumented.retry({ name: 'composed_retry' }), hib, instrumented.timeout({ name: 'composed_timeout', timeoutMs: 1_000 }));
      define({ lib: 'hitchInstr', scenario: 'composed', mode, target: hi, call: 'target.execute(fn)', work: makeWork(), closed: () => hib.state === 'closed' });
      const cb = cockatiel.breaker();
      const c = wrap(cockatiel.retry(), cb, cockatiel.timeout());
      define({ lib: 'cockatiel', scenario: 'composed', mode, target: c, call: 'target.execute(fn)', work: makeWork(), closed: () => cb.state === CockatielState.Closed });
    }

    // --- breaker + timeout: opossum's CircuitBreaker with its timeout on ------------------------------
    {
      const hb = circuitBreaker({ name: 'bt_breaker' });
      const h = compose(hb, timeout({ name: 'bt_timeout', timeoutMs: 1_000 }));
      define({ lib: 'hitch', scenario: 'breakerTimeout', mode, target: h, call: 'target.execute(fn)', work: makeWork(), closed: () => hb.state === 'closed' });
      const w = makeWork();
      const o = new OpossumBreaker(w.fn, opossumOptions(1_000));
      opossums.push(o);
      define({ lib: 'opossum', scenario: 'breakerTimeout', mode, target: o, call: 'target.fire()', work: w, closed: () => o.closed });
    }

    // --- rejection by an open breaker -----------------------------------------------------------------
    {
      const h = circuitBreaker({ name: 'reject', openDurationMs: HOUR });
      await failUntilOpen((f) => h.execute(f), () => h.state === 'open', `hitch.reject.${mode}`);
      define({ lib: 'hitch', scenario: 'reject', mode, target: h, call: 'target.execute(fn)', work: makeWork(), expected: isHitchOpen, open: () => h.state === 'open' });
      const hi = instrumented.circuitBreaker({ name: 'reject', openDurationMs: HOUR });
      await failUntilOpen((f) => hi.execute(f), () => hi.state === 'open', `hitchInstr.reject.${mode}`);
      define({ lib: 'hitchInstr', scenario: 'reject', mode, target: hi, call: 'target.execute(fn)', work: makeWork(), expected: isHitchOpen, open: () => hi.state === 'open' });
      const c = cockatiel.breaker(HOUR);
      await failUntilOpen((f) => c.execute(f), () => c.state === CockatielState.Open, `cockatiel.reject.${mode}`);
      define({
        lib: 'cockatiel',
        scenario: 'reject',
        mode,
        target: c,
        call: 'target.execute(fn)',
        work: makeWork(),
        expected: isCockatielOpen,
        open: () => c.state === CockatielState.Open,
      });
      // opossum's action is fixed at construction (the counting work): opened with open().
      const w = makeWork();
      const o = new OpossumBreaker(w.fn, opossumOptions(1_000, HOUR));
      opossums.push(o);
      o.open();
      define({ lib: 'opossum', scenario: 'reject', mode, target: o, call: 'target.fire()', work: w, expected: isOpossumOpen, open: () => o.opened });
    }
  }

  // One rejection of each library, kept for the report: what the caller gets.
  const samples = {};
  const sample = async (lib, promise) => {
    try {
      await promise;
    } catch (error) {
      const frames = typeof error.stack === 'string' ? error.stack.split('\n').filter((l) => l.trimStart().startsWith('at ')).length : 0;
      samples[lib] = { name: error.constructor.name, message: error.message, stackFrames: frames };
    }
  };
  const hitchProbe = circuitBreaker({ name: 'reject', openDurationMs: HOUR });
  await failUntilOpen((f) => hitchProbe.execute(f), () => hitchProbe.state === 'open', 'hitch probe');
  const cockatielProbe = cockatiel.breaker(HOUR);
  await failUntilOpen((f) => cockatielProbe.execute(f), () => cockatielProbe.state === CockatielState.Open, 'cockatiel probe');
  const opossumProbe = new OpossumBreaker(makeWork().fn, opossumOptions(1_000, HOUR));
  opossumProbe.open();
  await sample('hitch', hitchProbe.execute(makeWork().fn));
  await sample('cockatiel', cockatielProbe.execute(makeWork().fn));
  await sample('opossum', opossumProbe.fire());
  opossumProbe.shutdown();

  const comparisons = [];
  const add = (row) => comparisons.push(row);
  for (const mode of MODES) {
    const id = (lib, scenario) => `${lib}.${scenario}.${mode}`;
    const base = id('base', 'call');
    add({ scenario: 'breaker', mode, hitch: id('hitch', 'breaker'), other: id('cockatiel', 'breaker'), competitor: 'cockatiel', measure: 'overhead', base, target: { max: 0.5, text: '≤ 0.50 (half the overhead)' } });
    add({ scenario: 'breaker', mode, hitch: id('hitch', 'breaker'), other: id('opossum', 'breaker'), competitor: 'opossum (`timeout: false`)', measure: 'overhead', base, target: null });
    add({ scenario: 'retry', mode, hitch: id('hitch', 'retry'), other: id('cockatiel', 'retry'), competitor: 'cockatiel', measure: 'total', base, target: null });
    add({ scenario: 'timeout', mode, hitch: id('hitch', 'timeout'), other: id('cockatiel', 'timeout'), competitor: 'cockatiel (aggressive)', measure: 'total', base, target: null });
    add({ scenario: 'composed', mode, hitch: id('hitch', 'composed'), other: id('cockatiel', 'composed'), competitor: 'cockatiel `wrap(retry, breaker, timeout)`', measure: 'total', base, target: { max: 0.2, text: '≤ 0.20 (≥ 5x cheaper)' } });
    add({ scenario: 'breakerTimeout', mode, hitch: id('hitch', 'breakerTimeout'), other: id('opossum', 'breakerTimeout'), competitor: 'opossum (`timeout: 1000`)', measure: 'total', base, target: null });
    add({ scenario: 'reject', mode, hitch: id('hitch', 'reject'), other: id('cockatiel', 'reject'), competitor: 'cockatiel', measure: 'total', base, target: { max: 1, strict: true, text: '< 1.00 (cheaper)' } });
    add({ scenario: 'reject', mode, hitch: id('hitch', 'reject'), other: id('opossum', 'reject'), competitor: 'opossum', measure: 'total', base, target: { max: 1, strict: true, text: '< 1.00 (cheaper)' } });
    for (const scenario of ['breaker', 'retry', 'timeout', 'composed', 'reject']) {
      add({ scenario, mode, hitch: id('hitchInstr', scenario), other: id('hitch', scenario), competitor: 'Hitch standalone (instrumentation cost)', measure: 'total', base, target: null, instrumented: true });
    }
  }

  // Heap allocation per call, sequential calls (the in-flight batches allocate the same per call
  // plus Promise.all's arrays).
  const allocations = [];
  for (const c of cases) {
    if (!c.id.endsWith('.seq') || (c.id.startsWith('hitchInstr.') && !/\.(composed|reject)\./.test(c.id))) continue;
    allocations.push({ id: c.id, run: c.run });
  }

  async function verify() {
    const out = [...problems];
    for (const s of byId.values()) {
      if (s.ops === 0) out.push(`${s.id}: never ran`);
      if (s.rejecting) {
        if (s.total !== s.ops) out.push(`${s.id}: ${s.total} of ${s.ops} calls rejected with the expected open-circuit error`);
        if (s.work.calls !== 0) out.push(`${s.id}: the work ran ${s.work.calls} times through an open breaker`);
        if (!s.open()) out.push(`${s.id}: the breaker is no longer open`);
      } else {
        if (s.total !== s.ops) out.push(`${s.id}: results sum to ${s.total}, expected ${s.ops} (one 1 per call)`);
        if (s.work.calls !== s.ops) out.push(`${s.id}: the work ran ${s.work.calls} times for ${s.ops} calls`);
        if (s.closed !== undefined && !s.closed()) out.push(`${s.id}: the breaker is not closed`);
      }
    }
    // The instrumented policies reported what they did, and nothing else.
    const body = (await hitch.metrics.render()).body;
    const ops = (id) => byId.get(id)?.ops ?? 0;
    const both = (lib, scenario) => MODES.reduce((sum, mode) => sum + ops(`${lib}.${scenario}.${mode}`), 0);
    const expect = (name, labels, wanted) => {
      const got = sumSamples(body, name, labels);
      if (got !== wanted) out.push(`hitch.resilience: ${name}${JSON.stringify(labels)} is ${got}, expected ${wanted}`);
    };
    expect('hitch_retry_attempts_total', { policy: 'retry', outcome: 'success' }, both('hitchInstr', 'retry'));
    expect('hitch_retry_attempts_total', { policy: 'composed_retry', outcome: 'success' }, both('hitchInstr', 'composed'));
    expect('hitch_retry_attempts_total', { outcome: 'retry' }, 0);
    expect('hitch_circuit_breaker_rejections_total', { breaker: 'reject' }, both('hitchInstr', 'reject'));
    expect('hitch_circuit_breaker_transitions_total', { breaker: 'reject', to: 'open' }, MODES.length);
    expect('hitch_circuit_breaker_transitions_total', { breaker: 'breaker' }, 0);
    expect('hitch_circuit_breaker_transitions_total', { breaker: 'composed_breaker' }, 0);
    expect('hitch_timeouts_total', {}, 0);
    for (const w of warnings) out.push(`Hitch warning ${w.code}: ${w.message}`);
    if (Object.keys(samples).length !== 3) out.push(`rejection samples: got ${Object.keys(samples).join(', ')}`);

    // Nothing may keep the process alive: opossum's intervals stop at shutdown(), Hitch's at
    // shutdown(); every timeout's timer was cleared when its call settled.
    for (const o of opossums) o.shutdown();
    await hitch.shutdown();
    process.off('unhandledRejection', onUnhandled);
    const left = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate');
    if (left.length > 0) out.push(`left behind after shutdown: ${left.join(', ')}`);
    return out;
  }

  const info = () => ({
    scenarios: SCENARIOS.map(({ key, title }) => ({ key, title, batch: batches[key] })),
    batches,
    unit,
    inFlight: IN_FLIGHT,
    samples,
    asyncHooks: asyncLocalStorageEnabled(),
    calls: Object.fromEntries([...byId.values()].map((s) => [s.id, s.ops])),
  });

  return {
    async: true,
    yieldToEventLoop: true,
    cases,
    comparisons,
    allocations,
    // Allocation: batches of 500 sequential calls, median of 5; one full GC before each (a full
    // GC takes ~25 ms in this heap on the benchmark machines, and these policies leave no
    // finalizers behind); the code is warm from the timing rounds.
    allocationBatch: 500,
    allocationReps: 5,
    allocationFullGcs: 1,
    allocationWarm: 200,
    verify,
    info,
    // verify() already shut everything down (and checked that nothing was left).
    shutdown: async () => undefined,
  };
}

/** Whether the AsyncLocalStorage of the global context manager has turned its hooks on (Node 20). */
function asyncLocalStorageEnabled() {
  const manager = typeof context._getContextManager === 'function' ? context._getContextManager() : undefined;
  const storage = manager?._asyncLocalStorage;
  return typeof storage?.enabled === 'boolean' ? storage.enabled : 'unknown';
}

/** Sums the samples of one metric in a Prometheus text body whose labels include `labels`. */
function sumSamples(text, name, labels) {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(match[3]);
  }
  return total;
}
