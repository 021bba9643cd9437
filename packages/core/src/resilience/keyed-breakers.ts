import { InvalidOptionError } from '../errors/hitch-error.js';
import type { PolicyExecuteOptions } from '../policy/policy.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import { CircuitBreaker } from './circuit-breaker.js';

export interface KeyedBreakersOptions {
  /**
   * At most this many breakers are kept; beyond it the least recently used one is dropped. A
   * positive integer. Defaults to `1000`: keys are usually hosts or (host, method) pairs, and
   * a breaker with the default 10 buckets takes about 650 bytes (so under 1 MB in all).
   *
   * Dropping a breaker forgets its state: if that key comes back, it gets a new, closed breaker
   * with an empty window, even if the old one was open. Size `maxKeys` above the number of keys
   * in use at once, so that only keys nobody calls any more are dropped.
   */
  readonly maxKeys?: number;
  /**
   * Builds the breaker of a key, the first time the key is used (or again after it was
   * dropped): either the options of a new breaker (its `name` defaults to the key) or a
   * breaker. Required.
   */
  readonly create: (key: string) => CircuitBreakerOptions | CircuitBreaker;
}

/**
 * One circuit breaker per key (a host, a host and method...), so that one failing endpoint
 * does not open the breaker of the others. Breakers are created on first use and kept in a
 * bounded map in least-recently-used order: with keys taken from the outside world (hosts from
 * URLs), memory stays bounded by `maxKeys`.
 */
export class KeyedBreakers {
  readonly maxKeys: number;
  private readonly create: (key: string) => CircuitBreakerOptions | CircuitBreaker;
  /** Insertion order is recency: a used key is deleted and set again, so the first key is the least recently used. */
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** The most recently used key: using it again needs no reordering. */
  private lastKey: string | undefined;

  constructor(options: KeyedBreakersOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('keyedBreakers', 'expects an options object { create, maxKeys? }');
    }
    const { maxKeys = 1000, create } = options;
    if (typeof maxKeys !== 'number' || !Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new InvalidOptionError('keyedBreakers.maxKeys', `should be a positive integer, got ${describe(maxKeys)}`);
    }
    if (typeof create !== 'function') {
      throw new InvalidOptionError('keyedBreakers.create', `should be a function (key) => CircuitBreakerOptions | CircuitBreaker, got ${describe(create)}`);
    }
    this.maxKeys = maxKeys;
    this.create = create;
  }

  /** Breakers currently kept (at most `maxKeys`). */
  get size(): number {
    return this.breakers.size;
  }

  /** The breaker of `key`, created if needed; marks `key` as the most recently used. */
  get(key: string): CircuitBreaker {
    const breakers = this.breakers;
    let breaker = breakers.get(key);
    if (breaker !== undefined) {
      if (key !== this.lastKey) {
        breakers.delete(key);
        breakers.set(key, breaker);
        this.lastKey = key;
      }
      return breaker;
    }
    breaker = this.build(key);
    breakers.set(key, breaker);
    this.lastKey = key;
    if (breakers.size > this.maxKeys) {
      for (const oldest of breakers.keys()) {
        breakers.delete(oldest);
        break;
      }
    }
    return breaker;
  }

  /** Runs `fn` through the breaker of `key`. */
  execute<T>(key: string, fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T> {
    return this.get(key).execute(fn, options);
  }

  private build(key: string): CircuitBreaker {
    const made = this.create(key);
    if (made instanceof CircuitBreaker) return made;
    if (typeof made !== 'object' || made === null) {
      throw new InvalidOptionError('keyedBreakers.create', `should return CircuitBreakerOptions or a CircuitBreaker, got ${describe(made)} for key ${JSON.stringify(key)}`);
    }
    return new CircuitBreaker(made.name === undefined && key !== '' ? { ...made, name: key } : made);
  }
}

/** One circuit breaker per key in a bounded LRU map: see {@link KeyedBreakersOptions}. */
export function keyedBreakers(options: KeyedBreakersOptions): KeyedBreakers {
  return new KeyedBreakers(options);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
