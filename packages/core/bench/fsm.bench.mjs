// State machines: Hitch (`@hitch/core/fsm` standalone, and `hitch.fsm.defineMachine`, instrumented)
// against xstate v5 (an actor per entity, and its pure `transition` function over snapshots),
// javascript-state-machine (an instance per entity) and a plain lookup table, on the ride-order
// machine of the reference app:
//
//   pending -match-> matched -accept-> accepted -start-> in_ride -complete-> completed
//   cancel: pending | matched | accepted | in_ride -> cancelled
//
// Every library holds the same number of live entities (`--batch`, default 100,000) and drives
// them through the happy path in sweeps: every entity takes `match`, then every entity `accept`,
// then `start`, then `complete`; a pool whose entities are all completed is replaced by a new one
// before the next batch, outside the timed region. A batch is a run of consecutive transitions of
// those sweeps, so the timed work is transitions only, over a working set of that many entities,
// with the garbage collector doing what it does for a store that size.
//
// The working set is the heap: 100,000 xstate actors hold hundreds of megabytes, and a process
// holding them collects garbage far more slowly for everyone in it. So each library group runs in
// a child process of its own (`--case`): `hitch` (Hitch instrumented and standalone, and the
// plain table, interleaved: same heap, so their ratios are per round), `xstate.actor`,
// `xstate.transition`, `jsm`. Across processes the report compares medians.
//
// Also: heap per live entity (full GC, heapUsed, create the entities, full GC, heapUsed), and heap
// allocated per transition where a transition can be repeated on one entity.

import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import StateMachine from 'javascript-state-machine';
import { createActor, createMachine, initialTransition, transition as xstateTransition } from 'xstate';
import { defineMachine } from '../dist/fsm/index.js';
import { getGc, median } from './harness.mjs';

/** The happy path, in sweep order, and the state after each step. */
export const PATH = ['match', 'accept', 'start', 'complete'];
const STATES = ['pending', 'matched', 'accepted', 'in_ride', 'completed'];
/** Transitions per batch, as a share of the entities, by case: about 50 to 500 ms a batch here. */
const SHARE = { 'hitch.instrumented': 4, 'hitch.standalone': 4, table: 4, jsm: 0.4, 'xstate.actor': 0.1, 'xstate.transition': 0.02 };
/** The child processes (`--case`) and the cases each runs. */
export const GROUPS = {
  hitch: ['hitch.instrumented', 'hitch.standalone', 'table'],
  'xstate.actor': ['xstate.actor'],
  'xstate.transition': ['xstate.transition'],
  jsm: ['jsm'],
};
/** Entities created per heap measurement: enough for a stable mean, few enough for xstate (up to ~0.1 ms per entity here). */
const HEAP_ENTITIES = 20_000;
/** Targets of the issue: transitions per second of `hitch.fsm`, and heap per entity. */
export const TARGETS = { transitionsPerSecond: 5_000_000, bytesPerEntity: 200 };

const definition = {
  id: 'ride',
  states: ['pending', 'matched', 'accepted', 'in_ride', 'completed', 'cancelled'],
  initial: 'pending',
  final: ['completed', 'cancelled'],
  events: {
    match: { from: 'pending', to: 'matched' },
    accept: { from: 'matched', to: 'accepted' },
    start: { from: 'accepted', to: 'in_ride' },
    complete: { from: 'in_ride', to: 'completed' },
    cancel: { from: ['pending', 'matched', 'accepted', 'in_ride'], to: 'cancelled' },
  },
};

const xstateMachine = createMachine({
  id: 'ride',
  initial: 'pending',
  context: ({ input }) => ({ riderId: input.riderId }),
  states: {
    pending: { on: { match: 'matched', cancel: 'cancelled' } },
    matched: { on: { accept: 'accepted', cancel: 'cancelled' } },
    accepted: { on: { start: 'in_ride', cancel: 'cancelled' } },
    in_ride: { on: { complete: 'completed', cancel: 'cancelled' } },
    completed: { type: 'final' },
    cancelled: { type: 'final' },
  },
});
/** xstate events are objects: one per type, allocated once. */
const XSTATE_EVENTS = Object.fromEntries([...PATH, 'cancel'].map((type) => [type, { type }]));

const JsmRide = StateMachine.factory({
  init: 'pending',
  transitions: Object.entries(definition.events).map(([name, e]) => ({ name, from: e.from, to: e.to })),
  data: (riderId) => ({ riderId }),
});

/** The plain lookup table a team would write by hand: immutable entities, no time, no instrumentation. */
const TABLE = {
  pending: { match: 'matched', cancel: 'cancelled' },
  matched: { accept: 'accepted', cancel: 'cancelled' },
  accepted: { start: 'in_ride', cancel: 'cancelled' },
  in_ride: { complete: 'completed', cancel: 'cancelled' },
  completed: {},
  cancelled: {},
};
const table = {
  create: (data) => ({ state: 'pending', version: 0, data }),
  transition(entity, event) {
    const next = TABLE[entity.state][event];
    if (next === undefined) throw new Error(`event ${event} is not allowed in state ${entity.state}`);
    return { state: next, version: entity.version + 1, data: entity.data };
  },
};

// Loop bodies: every case gets its own compiled copy (same source text), so that each call site
// sees one library's classes only, as a line of application code does.
const STEPS = {
  machine: 'for (let i = start; i < end; i++) ents[i] = target.transition(ents[i], event);',
  actor: 'const e = target[event]; for (let i = start; i < end; i++) ents[i].send(e);',
  pure: 'const e = target.events[event]; for (let i = start; i < end; i++) ents[i] = target.transition(target.machine, ents[i], e)[0];',
  jsm: 'for (let i = start; i < end; i++) ents[i][event]();',
};
const compileStep = (kind) => new Function('target', 'ents', 'event', 'start', 'end', STEPS[kind]);

function stateOf(kind, entity) {
  if (kind === 'actor') return entity.getSnapshot().value;
  if (kind === 'pure') return entity.value;
  return entity.state;
}

/** Median over `reps` of the heap one live entity holds: full GC, heapUsed, create `count`, full GC, heapUsed. */
function heapPerEntity(make, count, gc, reps = 3) {
  if (gc === undefined) return undefined;
  const samples = [];
  for (let r = 0; r < reps; r++) {
    const entities = new Array(count).fill(undefined);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i++) entities[i] = make(i);
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    if (entities.length !== count) throw new Error('unreachable');
    samples.push((after - before) / count);
  }
  return median(samples);
}

export async function setupFsmBench({ createHitch }, { caseName = 'hitch', batch: entities = 100_000 } = {}) {
  const group = GROUPS[caseName];
  if (group === undefined) throw new Error(`--case must be one of ${Object.keys(GROUPS).join(', ')}`);
  const problems = [];
  const hitch = createHitch({
    service: { name: 'bench' },
    tracing: { exporter: 'none' },
    metrics: { runtimeMetrics: false },
    logging: { level: 'silent' },
  });
  const instrumented = hitch.fsm.defineMachine(definition);
  const standalone = defineMachine(definition);

  const libraries = [
    { id: 'hitch.instrumented', kind: 'machine', target: instrumented, create: (i) => instrumented.create({ riderId: i }) },
    { id: 'hitch.standalone', kind: 'machine', target: standalone, create: (i) => standalone.create({ riderId: i }) },
    { id: 'table', kind: 'machine', target: table, create: (i) => table.create({ riderId: i }) },
    { id: 'xstate.actor', kind: 'actor', target: XSTATE_EVENTS, create: (i) => createActor(xstateMachine, { input: { riderId: i } }).start() },
    {
      id: 'xstate.transition',
      kind: 'pure',
      target: { machine: xstateMachine, events: XSTATE_EVENTS, transition: xstateTransition },
      create: (i) => initialTransition(xstateMachine, { riderId: i })[0],
    },
    { id: 'jsm', kind: 'jsm', target: undefined, create: (i) => new JsmRide(i) },
  ].filter((lib) => group.includes(lib.id));

  // Heap per entity first, on a heap that holds none of the pools yet.
  const gc = getGc();
  const heap = {};
  for (const lib of libraries) heap[lib.id] = heapPerEntity(lib.create, Math.min(entities, HEAP_ENTITIES), gc);

  const total = entities * PATH.length;
  const cases = [];
  const states = new Map();
  for (const lib of libraries) {
    const step = compileStep(lib.kind);
    const s = { lib, ents: new Array(entities), cursor: 0, transitions: 0, pools: 0 };
    const refill = () => {
      for (let i = 0; i < entities; i++) s.ents[i] = lib.create(i);
      s.cursor = 0;
      s.pools++;
    };
    refill();
    states.set(lib.id, s);
    const batch = Math.max(1, Math.round(entities * SHARE[lib.id]));
    if (total % batch !== 0) throw new Error(`${lib.id}: a batch of ${batch} does not divide ${total} transitions`);
    cases.push({
      id: lib.id,
      batch,
      before() {
        if (s.cursor + batch > total) refill();
      },
      run(n) {
        // Inside a context, as a request handler runs. No span is active: the instrumented case
        // pays for the active-span lookup, not for a span event (those are tested, not timed).
        context.with(ROOT_CONTEXT, () => {
          let left = n;
          while (left > 0) {
            const sweep = Math.floor(s.cursor / entities);
            const start = s.cursor - sweep * entities;
            const count = Math.min(left, entities - start);
            step(lib.target, s.ents, PATH[sweep], start, start + count);
            s.cursor += count;
            left -= count;
          }
        });
        s.transitions += n;
      },
    });
  }

  // In-process ratios: the Hitch group only (the others run alone; the report compares medians).
  const comparisons = [];
  if (caseName === 'hitch') {
    comparisons.push({ hitch: 'hitch.instrumented', other: 'hitch.standalone', name: '`hitch.fsm` (instrumented)', competitor: '`@hitch/core/fsm` (standalone)', target: null });
    comparisons.push({ hitch: 'hitch.instrumented', other: 'table', name: '`hitch.fsm` (instrumented)', competitor: 'plain lookup table', target: null });
    comparisons.push({ hitch: 'hitch.standalone', other: 'table', name: '`@hitch/core/fsm` (standalone)', competitor: 'plain lookup table', target: null });
  }

  // Heap allocated per transition: the same transition repeated on one entity (the result is
  // dropped), where the library allows it: an actor or a javascript-state-machine instance changes
  // state in place and would refuse (javascript-state-machine) or ignore (xstate) the repeat.
  let allocationTransitions = 0;
  const repeatable = (id, fn) => ({
    id,
    name: id,
    run(n) {
      context.with(ROOT_CONTEXT, () => fn(n));
      if (id === 'hitch.instrumented') allocationTransitions += n;
    },
  });
  let sink;
  const allocations = [];
  if (caseName === 'hitch') {
    const hitchPending = instrumented.create({ riderId: 0 });
    const standalonePending = standalone.create({ riderId: 0 });
    const tablePending = table.create({ riderId: 0 });
    allocations.push(
      repeatable('hitch.instrumented', (n) => {
        for (let i = 0; i < n; i++) sink = instrumented.transition(hitchPending, 'match');
      }),
      repeatable('hitch.standalone', (n) => {
        for (let i = 0; i < n; i++) sink = standalone.transition(standalonePending, 'match');
      }),
      repeatable('table', (n) => {
        for (let i = 0; i < n; i++) sink = table.transition(tablePending, 'match');
      }),
    );
  } else if (caseName === 'xstate.transition') {
    const xstatePending = initialTransition(xstateMachine, { riderId: 0 })[0];
    allocations.push(
      repeatable('xstate.transition', (n) => {
        for (let i = 0; i < n; i++) sink = xstateTransition(xstateMachine, xstatePending, XSTATE_EVENTS.match)[0];
      }),
    );
  } else {
    sink = true;
  }

  async function verify() {
    const out = [...problems];
    // Every entity is where the sweeps put it: no event was ignored, none applied twice.
    for (const s of states.values()) {
      if (s.transitions === 0) out.push(`${s.lib.id}: never ran`);
      const sweeps = Math.floor(s.cursor / entities);
      const partial = s.cursor - sweeps * entities;
      let wrong = 0;
      for (let i = 0; i < entities; i++) {
        const expected = STATES[sweeps + (i < partial ? 1 : 0)];
        if (stateOf(s.lib.kind, s.ents[i]) !== expected) wrong++;
        if (s.lib.kind === 'machine' && s.ents[i].version !== sweeps + (i < partial ? 1 : 0)) wrong++;
      }
      if (wrong > 0) out.push(`${s.lib.id}: ${wrong} entities are not in the state (or at the version) the sweeps should have left them in`);
    }
    if (sink === undefined) out.push('the allocation runs produced nothing');
    if (caseName !== 'hitch') return out;
    // The instrumented machine counted exactly the transitions it made, and refused none.
    const body = (await hitch.metrics.render()).body;
    const counted = body
      .split('\n')
      .filter((l) => l.startsWith('hitch_fsm_transitions_total{'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const made = states.get('hitch.instrumented').transitions + allocationTransitions;
    if (counted !== made) out.push(`hitch.instrumented: hitch_fsm_transitions_total sums to ${counted}, expected ${made}`);
    if (/hitch_fsm_illegal_transitions_total\{[^\n]* [1-9]/.test(body)) out.push('hitch.instrumented: illegal transitions were counted');
    return out;
  }

  return {
    // runInterleavedAsync: a case's `before()` replaces a spent pool outside the timed region, and
    // cases have batches of their own. `run` itself is synchronous.
    async: true,
    cases,
    comparisons,
    allocations,
    // A pure xstate transition allocates kilobytes and takes ~0.1 ms here: small batches, short warm-up.
    allocationBatch: caseName === 'xstate.transition' ? 50 : 2_000,
    allocationWarm: caseName === 'xstate.transition' ? 1_000 : 50_000,
    verify,
    info: () => ({
      group: caseName,
      entities,
      path: PATH,
      heapPerEntity: heap,
      batches: Object.fromEntries(cases.map((c) => [c.id, c.batch])),
      pools: Object.fromEntries([...states].map(([id, s]) => [id, s.pools])),
      targets: TARGETS,
    }),
    shutdown: () => hitch.shutdown(),
  };
}
