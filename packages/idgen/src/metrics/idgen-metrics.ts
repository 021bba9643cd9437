import type { BoundCounter, BoundGauge, Counter, Gauge, Hitch, MetricsRegistry } from '@hitch/core';

/**
 * Ids issued by one generator. `next()` only bumps `issued` (a field write, no metrics call);
 * the `hitch_idgen_ids_total` counter's collect callback adds what was issued since the last
 * collection, before every scrape or export.
 */
export interface IssuedTally {
  issued: number;
  reported: number;
  readonly counter: BoundCounter | undefined;
}

/** What a generator reports. Rollbacks and waits are rare, so they are recorded as they happen. */
export interface IdgenMeter {
  readonly tally: IssuedTally;
  /** The clock read `ms` (whole, > 0) behind its previous reading. */
  rollback(ms: number): void;
  /** `next()` had to wait for the clock to reach the next millisecond. */
  wait(): void;
}

const GENERATOR_LABEL = { generator: { maxValues: 100 } } as const;

/** The metrics of one registry, shared by every generator reporting there. */
interface IdgenInstruments {
  readonly rollbacks: Counter<'generator'>;
  readonly rollbackMax: Gauge<'generator'>;
  readonly waits: Counter<'generator'>;
  readonly ids: Counter<'generator'>;
  /** Tallies of live generators and of collected ones not flushed yet. */
  readonly tallies: Set<IssuedTally>;
  /** Largest rollback per `generator` label value, in ms (generators may share a name). */
  readonly maxRollbackMs: Map<string, number>;
  /** Flushes and forgets the tally of a generator that was garbage-collected. */
  readonly finalizer: FinalizationRegistry<IssuedTally>;
}

const instrumentsByRegistry = new WeakMap<MetricsRegistry, IdgenInstruments>();

function flush(tally: IssuedTally): void {
  const delta = tally.issued - tally.reported;
  if (delta > 0) {
    tally.reported = tally.issued;
    tally.counter?.inc(delta);
  }
}

function instrumentsOf(metrics: MetricsRegistry): IdgenInstruments {
  const existing = instrumentsByRegistry.get(metrics);
  if (existing !== undefined) return existing;
  const tallies = new Set<IssuedTally>();
  const instruments: IdgenInstruments = {
    ids: metrics.counter({
      name: 'hitch_idgen_ids_total',
      help: 'Snowflake ids issued.',
      labels: GENERATOR_LABEL,
      collect: () => {
        for (const tally of tallies) flush(tally);
      },
    }),
    rollbacks: metrics.counter({
      name: 'hitch_idgen_clock_rollbacks_total',
      help: 'Times the clock read behind its previous reading (stepped back), whether or not generation could continue.',
      labels: GENERATOR_LABEL,
    }),
    rollbackMax: metrics.gauge({
      name: 'hitch_idgen_clock_rollback_max_seconds',
      help: 'Largest backward clock step seen, in seconds.',
      labels: GENERATOR_LABEL,
    }),
    waits: metrics.counter({
      name: 'hitch_idgen_sequence_waits_total',
      help: 'Times next() busy-waited (at most 1 ms) because every id it could issue was used.',
      labels: GENERATOR_LABEL,
    }),
    tallies,
    maxRollbackMs: new Map(),
    finalizer: new FinalizationRegistry<IssuedTally>((tally) => {
      flush(tally);
      tallies.delete(tally);
    }),
  };
  instrumentsByRegistry.set(metrics, instruments);
  return instruments;
}

/** A meter that records nothing, for generators created without `hitch`. */
function detachedMeter(): IdgenMeter {
  return { tally: { issued: 0, reported: 0, counter: undefined }, rollback: () => undefined, wait: () => undefined };
}

/**
 * The meter of one generator. Registers the `hitch_idgen_*` metrics on first use per registry
 * (registration errors surface here, at construction); `owner` is the generator, whose tally
 * is flushed and dropped once it is garbage-collected.
 */
export function createIdgenMeter(hitch: Pick<Hitch, 'metrics'> | undefined, name: string, owner: object): IdgenMeter {
  if (hitch === undefined) return detachedMeter();
  const instruments = instrumentsOf(hitch.metrics);
  const labels = { generator: name };
  const tally: IssuedTally = { issued: 0, reported: 0, counter: instruments.ids.bind(labels) };
  instruments.tallies.add(tally);
  instruments.finalizer.register(owner, tally);
  const rollbacks = instruments.rollbacks.bind(labels);
  const waits = instruments.waits.bind(labels);
  const rollbackMax: BoundGauge = instruments.rollbackMax.bind(labels);
  if (!instruments.maxRollbackMs.has(name)) {
    instruments.maxRollbackMs.set(name, 0);
    rollbackMax.set(0);
  }
  return {
    tally,
    rollback(ms) {
      rollbacks.inc();
      if (ms > (instruments.maxRollbackMs.get(name) ?? 0)) {
        instruments.maxRollbackMs.set(name, ms);
        rollbackMax.set(ms / 1000);
      }
    },
    wait() {
      waits.inc();
    },
  };
}
