import { performance } from 'node:perf_hooks';
import type { Clock } from '@hitch/core';
import { MAX_WAIT_MS } from '../defaults.js';
import { ClockMovedBackwardsError } from '../errors/clock-moved-backwards-error.js';
import { InvalidSnowflakeOptionError } from '../errors/invalid-snowflake-option-error.js';
import { SequenceExhaustedError } from '../errors/sequence-exhausted-error.js';
import { TimestampOverflowError } from '../errors/timestamp-overflow-error.js';
import type { IdgenMeter } from '../metrics/idgen-metrics.js';
import { createIdgenMeter } from '../metrics/idgen-metrics.js';
import type { DecodedSnowflake, SnowflakeId, SnowflakeLayout, SnowflakeOptions, WorkerIdSource } from '../types.js';
import { parseId } from './id-parsing.js';
import { normalizeSnowflakeOptions } from './options.js';

/**
 * A Snowflake id generator: 63-bit ids, `timestamp | datacenter | worker | sequence`, unique and
 * strictly increasing per generator, tolerant of a clock that steps back by up to
 * `maxRollbackMs`. Create it with {@link createSnowflake}; see the package README for the exact
 * guarantees.
 *
 * How time is kept: `lastTimestamp` is a logical clock (ms since the epoch) that never goes
 * back. Each `next()` reads the clock; if it is ahead of `lastTimestamp`, that millisecond starts
 * with sequence 0. Otherwise (same millisecond, or the clock stepped back by at most
 * `maxRollbackMs`) the id takes the next sequence number of `lastTimestamp`; when that is used up,
 * `lastTimestamp` moves one millisecond ahead, as long as it stays at most `maxRollbackMs` ahead
 * of the clock. Only when it is exactly that far ahead and used up does `next()` wait, for the
 * clock's next millisecond: less than 1 ms, bounded at {@link MAX_WAIT_MS}.
 */
export class SnowflakeGenerator {
  /** The epoch, Unix ms. */
  readonly epoch: number;
  readonly datacenterId: number;
  readonly workerId: number;
  /** Where `workerId` came from: the option, `HITCH_WORKER_ID`, or a StatefulSet `HOSTNAME`. */
  readonly workerIdSource: WorkerIdSource;
  readonly layout: Readonly<SnowflakeLayout>;
  readonly maxRollbackMs: number;
  /** The `generator` label of the metrics. */
  readonly name: string;

  private readonly clock: Pick<Clock, 'now'>;
  private readonly maxSequence: number;
  private readonly maxTimestamp: number;
  /** `timestamp * 2^timestampShift` split into words: high = floor(t / divisor), low = (t % divisor) * lowFactor. */
  private readonly timestampDivisor: number;
  private readonly timestampLowFactor: number;
  /** Datacenter and worker fields, split into the two words. */
  private readonly nodeHigh: number;
  private readonly nodeLow: number;
  private readonly shifts: { readonly timestamp: bigint; readonly datacenter: bigint; readonly worker: bigint };
  private readonly masks: { readonly datacenter: bigint; readonly worker: bigint; readonly sequence: bigint };
  /**
   * The id is assembled as two 32-bit words in 8 bytes and read back as one 64-bit integer: one
   * bigint per id and no BigInt arithmetic. Measured (bench/compose.mjs): BigInt shifts and ors
   * cost 2-3x the time and allocate 3-4x the bytes; a BigUint64Array over the same bytes is as
   * fast but its bigints are larger.
   */
  private readonly view = new DataView(new ArrayBuffer(8));
  private readonly meter: IdgenMeter;

  /** Low word of the current millisecond's ids without the sequence. */
  private lowBase = 0;
  /** Timestamp field (ms since the epoch) of the last id; -1 before the first. */
  private lastTimestamp = -1;
  private sequence = 0;
  /** Clock reading (ms since the epoch) of the last id; Infinity while refusing (forces the slow path). */
  private lastClockMs = Infinity;
  /** Clock reading of the last refused call, to count each backward step once. */
  private refusedClockMs = -Infinity;

  constructor(options: SnowflakeOptions) {
    const normalized = normalizeSnowflakeOptions(options);
    const { layout } = normalized;
    this.epoch = normalized.epoch;
    this.datacenterId = normalized.datacenterId;
    this.workerId = normalized.workerId;
    this.workerIdSource = normalized.workerIdSource;
    this.layout = Object.freeze({
      timestampBits: layout.timestampBits,
      datacenterBits: layout.datacenterBits,
      workerBits: layout.workerBits,
      sequenceBits: layout.sequenceBits,
    });
    this.maxRollbackMs = normalized.maxRollbackMs;
    this.name = normalized.name;
    this.clock = normalized.clock;
    this.maxSequence = layout.maxSequence;
    this.maxTimestamp = layout.maxTimestamp;
    // Exact in doubles: timestamps are below 2^53 and the factors are powers of two (for a
    // shift of 32 or more the divisor is a fraction and the low part is 0).
    this.timestampDivisor = 2 ** (32 - layout.timestampShift);
    this.timestampLowFactor = 2 ** layout.timestampShift;
    const node = (BigInt(this.datacenterId) << BigInt(layout.datacenterShift)) | (BigInt(this.workerId) << BigInt(layout.workerShift));
    this.nodeHigh = Number(node >> 32n);
    this.nodeLow = Number(node & 0xffffffffn);
    this.shifts = { timestamp: BigInt(layout.timestampShift), datacenter: BigInt(layout.datacenterShift), worker: BigInt(layout.workerShift) };
    this.masks = {
      datacenter: (1n << BigInt(layout.datacenterBits)) - 1n,
      worker: (1n << BigInt(layout.workerBits)) - 1n,
      sequence: (1n << BigInt(layout.sequenceBits)) - 1n,
    };
    this.meter = createIdgenMeter(normalized.hitch, this.name, this);
  }

  /**
   * The next id. Unique and greater than every id this generator issued before. Never blocks
   * longer than 1 ms. Throws `ClockMovedBackwardsError` while the clock reads more than
   * `maxRollbackMs` behind the last id's timestamp, `SequenceExhaustedError` if the clock stands
   * still, `TimestampOverflowError` once the layout's timestamps run out.
   */
  next(): bigint {
    const now = Math.floor(this.clock.now()) - this.epoch;
    if (now > this.lastTimestamp) {
      this.startMillisecond(now);
      this.lastClockMs = now;
    } else if (now >= this.lastClockMs && this.sequence < this.maxSequence) {
      this.sequence++;
      this.lastClockMs = now;
    } else {
      this.nextSlow(now);
    }
    this.meter.tally.issued++;
    this.view.setUint32(4, this.lowBase + this.sequence);
    return this.view.getBigUint64(0);
  }

  /** `next()` as a decimal string, for JSON and languages without 64-bit integers. */
  nextString(): string {
    return this.next().toString();
  }

  /**
   * The fields of an id of this layout and epoch: a bigint or a decimal string. Throws
   * `InvalidIdError` for anything else, negative or above 2^63-1.
   */
  decode(id: SnowflakeId): DecodedSnowflake {
    const value = parseId(id);
    return {
      timestamp: this.epoch + Number(value >> this.shifts.timestamp),
      datacenterId: Number((value >> this.shifts.datacenter) & this.masks.datacenter),
      workerId: Number((value >> this.shifts.worker) & this.masks.worker),
      sequence: Number(value & this.masks.sequence),
    };
  }

  /**
   * -1, 0 or 1 as id `a` sorts before, with or after `b` (bigints or decimal strings, mixed
   * freely): the order in which one generator issued them. Uses no `this`, so
   * `ids.sort(snowflake.compare)` works. Throws `InvalidIdError` for a non-id.
   */
  compare(a: SnowflakeId, b: SnowflakeId): -1 | 0 | 1 {
    const x = parseId(a);
    const y = parseId(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  private startMillisecond(timestamp: number): void {
    if (timestamp > this.maxTimestamp) {
      throw new TimestampOverflowError(this.epoch + timestamp, this.epoch + this.maxTimestamp, this.layout.timestampBits);
    }
    this.lastTimestamp = timestamp;
    this.sequence = 0;
    this.view.setUint32(0, Math.floor(timestamp / this.timestampDivisor) + this.nodeHigh);
    this.lowBase = (timestamp % this.timestampDivisor) * this.timestampLowFactor + this.nodeLow;
  }

  /**
   * Everything but "new millisecond" and "next sequence number": a clock behind its previous
   * reading, a used-up sequence, the first call after a refusal. Loops only while waiting for the
   * clock's next millisecond.
   */
  private nextSlow(first: number): void {
    let now = first;
    let previous = this.lastClockMs === Infinity ? this.refusedClockMs : this.lastClockMs;
    let deadline = -1;
    let expired = false;
    for (;;) {
      // NaN fails every comparison of next() and lands here; it must not become an id.
      if (Number.isNaN(now)) throw new InvalidSnowflakeOptionError('clock', 'now() returned NaN; it must return Unix time in milliseconds');
      if (now < previous) this.meter.rollback(previous - now);
      previous = now;
      if (now > this.lastTimestamp) {
        this.startMillisecond(now);
        break;
      }
      const behindMs = this.lastTimestamp - now;
      if (behindMs > this.maxRollbackMs || this.lastTimestamp < 0) {
        this.lastClockMs = Infinity;
        this.refusedClockMs = now;
        const beforeEpoch = this.lastTimestamp < 0;
        throw new ClockMovedBackwardsError(this.epoch + now, beforeEpoch ? -now : behindMs, this.maxRollbackMs, beforeEpoch);
      }
      if (this.sequence < this.maxSequence) {
        this.sequence++;
        break;
      }
      if (behindMs < this.maxRollbackMs) {
        // Run one millisecond further ahead of the clock instead of waiting for it.
        this.startMillisecond(this.lastTimestamp + 1);
        break;
      }
      // lastTimestamp is maxRollbackMs ahead and used up: spin until the clock enters its next
      // millisecond (under 1 ms). After MAX_WAIT_MS of process time, one last reading decides.
      if (deadline < 0) {
        this.meter.wait();
        deadline = performance.now() + MAX_WAIT_MS;
      } else if (expired) {
        throw new SequenceExhaustedError(this.epoch + now, this.maxSequence + 1, this.maxRollbackMs, MAX_WAIT_MS);
      } else if (performance.now() > deadline) {
        expired = true;
      }
      now = Math.floor(this.clock.now()) - this.epoch;
    }
    this.lastClockMs = now;
  }
}

/**
 * Creates a Snowflake id generator. Validates every option and throws
 * `InvalidSnowflakeOptionError` (a `RangeError`) with the fix; nothing is masked into range.
 */
export function createSnowflake(options: SnowflakeOptions = {}): SnowflakeGenerator {
  return new SnowflakeGenerator(options);
}
