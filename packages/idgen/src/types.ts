import type { Clock, Hitch } from '@hitch/core';

/**
 * How the 63 low bits of an id are split, from the most significant field down:
 * `timestamp | datacenter | worker | sequence`. The sign bit stays 0, so every id is a positive
 * signed 64-bit integer (a Postgres `bigint`, a Java `long`). The four fields add up to 63.
 */
export interface SnowflakeLayout {
  /** Milliseconds since `epoch`; 41 bits last about 69.7 years. Defaults to `41`. */
  readonly timestampBits: number;
  /** Datacenter ids `0..2^datacenterBits - 1`. Defaults to `4` (0..15). */
  readonly datacenterBits: number;
  /** Worker ids `0..2^workerBits - 1`. Defaults to `6` (0..63). */
  readonly workerBits: number;
  /** Ids per millisecond per generator: `2^sequenceBits`, at most 32 bits. Defaults to `12` (4096). */
  readonly sequenceBits: number;
}

/** What `decode` reads out of an id. */
export interface DecodedSnowflake {
  /** When the id was issued, Unix milliseconds (the id's timestamp field plus the epoch). */
  readonly timestamp: number;
  readonly datacenterId: number;
  readonly workerId: number;
  /** Position of the id within its millisecond, from 0. */
  readonly sequence: number;
}

/** An id as `decode` and `compare` accept it: a bigint, or the decimal string `nextString()` returns. */
export type SnowflakeId = bigint | string;

/** Where the worker id came from. */
export type WorkerIdSource = 'option' | 'HITCH_WORKER_ID' | 'HOSTNAME';

/** Options of `createSnowflake`. Only the worker id has no default. */
export interface SnowflakeOptions {
  /**
   * The zero of the timestamp field: Unix milliseconds or a `Date`, not in the future. Every
   * generator whose ids are compared must use the same epoch and layout.
   * Defaults to `Date.UTC(2024, 0, 1)` (2024-01-01T00:00:00Z; 41 bits last until 2093).
   */
  readonly epoch?: number | Date;
  /** Integer in `0..2^layout.datacenterBits - 1`. Defaults to `0`. */
  readonly datacenterId?: number;
  /**
   * Integer in `0..2^layout.workerBits - 1`, unique among the generators that share a datacenter
   * id. Defaults to `HITCH_WORKER_ID` from `env`, else the ordinal of a Kubernetes StatefulSet
   * pod (`HOSTNAME` `orders-3` gives 3, only when `KUBERNETES_SERVICE_HOST` is set); with none of
   * those, `createSnowflake` throws.
   */
  readonly workerId?: number;
  /** Bit layout; fields not given keep their default. Defaults to 41 / 4 / 6 / 12. */
  readonly layout?: Partial<SnowflakeLayout>;
  /**
   * How far (whole ms) the clock may step back behind the last id's timestamp without stopping
   * generation; it is also how far ahead of the clock an id's timestamp may ever run. `0` makes
   * every backward step an error and every exhausted millisecond a wait. Defaults to `50`.
   */
  readonly maxRollbackMs?: number;
  /**
   * Source of time; only `now()` (Unix ms, may be fractional) is used. Defaults to
   * `hitch.clock` when `hitch` is given, else core's `systemClock` (monotonic: it never steps
   * back within a process). Pass `{ now: Date.now }` to follow the wall clock, NTP steps included.
   */
  readonly clock?: Pick<Clock, 'now'>;
  /** Reports `hitch_idgen_*` metrics through `hitch.metrics`. Defaults to none (no metrics). */
  readonly hitch?: Pick<Hitch, 'metrics' | 'clock'>;
  /** The `generator` label value of the metrics. Defaults to `'default'`. */
  readonly name?: string;
  /** Environment read for `HITCH_WORKER_ID`, `HOSTNAME` and `KUBERNETES_SERVICE_HOST`. Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}
