import { InvalidOptionError } from '../errors/hitch-error.js';
import { describeOption } from './compose.js';

/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): the delay before retry `n` (1 for the first) is
 * `random() * min(maxDelayMs, initialDelayMs * factor^(n-1))`. Spreads retries of many clients
 * evenly over the whole interval, so they do not arrive in waves.
 */
export interface FullJitterBackoffOptions {
  readonly kind: 'full';
  /** The cap of the first delay, in milliseconds. Defaults to `100`. */
  readonly initialDelayMs?: number;
  /** No delay is longer. Defaults to `10_000`. */
  readonly maxDelayMs?: number;
  /** Growth of the cap from one retry to the next. Defaults to `2`. */
  readonly factor?: number;
}

/**
 * "Decorrelated jitter" (same article): `delay = min(maxDelayMs, random between initialDelayMs and
 * 3 * previous delay)`, the previous delay being `initialDelayMs` before the first retry. Grows
 * about like exponential backoff, each delay drawn from the one before.
 */
export interface DecorrelatedJitterBackoffOptions {
  readonly kind: 'decorrelated';
  /** The shortest delay, in milliseconds. Defaults to `100`. */
  readonly initialDelayMs?: number;
  /** No delay is longer. Defaults to `10_000`. */
  readonly maxDelayMs?: number;
}

/** The same delay before every retry (tests, or a downstream that asks for a fixed pace). */
export interface ConstantBackoffOptions {
  readonly kind: 'constant';
  /** The delay before each retry, in milliseconds (`0`: retry at once). Required. */
  readonly delayMs: number;
}

export type BackoffOptions = FullJitterBackoffOptions | DecorrelatedJitterBackoffOptions | ConstantBackoffOptions;

type Strategy =
  | { readonly kind: 'full'; readonly initial: number; readonly max: number; readonly factor: number }
  | { readonly kind: 'decorrelated'; readonly initial: number; readonly max: number }
  | { readonly kind: 'constant'; readonly delay: number };

/** Computes the delays of a retry policy. Stateless: a call keeps its own previous delay. */
export class Backoff {
  private readonly strategy: Strategy;
  private readonly random: () => number;

  /**
   * @param random a source of numbers in [0, 1); tests pass a fixed sequence.
   * @param option the option path used in error messages.
   */
  constructor(options: BackoffOptions = { kind: 'full' }, random: () => number = Math.random, option = 'backoff') {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError(option, `should be an object like { kind: 'full' }, got ${describeOption(options)}`);
    if (typeof random !== 'function') throw new InvalidOptionError(`${option}.random`, `should be a function returning a number in [0, 1), got ${describeOption(random)}`);
    this.random = random;
    const kind: unknown = options.kind;
    if (kind === 'constant') {
      const { delayMs } = options as ConstantBackoffOptions;
      this.strategy = { kind, delay: milliseconds(`${option}.delayMs`, delayMs, undefined) };
      return;
    }
    if (kind !== 'full' && kind !== 'decorrelated') {
      throw new InvalidOptionError(`${option}.kind`, `should be 'full', 'decorrelated' or 'constant', got ${describeOption(kind)}`);
    }
    const { initialDelayMs, maxDelayMs } = options as FullJitterBackoffOptions | DecorrelatedJitterBackoffOptions;
    const initial = milliseconds(`${option}.initialDelayMs`, initialDelayMs, 100);
    const max = milliseconds(`${option}.maxDelayMs`, maxDelayMs, 10_000);
    if (max < initial) throw new InvalidOptionError(`${option}.maxDelayMs`, `should be >= initialDelayMs (${initial}), got ${max}`);
    if (kind === 'decorrelated') {
      this.strategy = { kind, initial, max };
      return;
    }
    const factor = (options as FullJitterBackoffOptions).factor ?? 2;
    if (typeof factor !== 'number' || !(factor >= 1) || !Number.isFinite(factor)) {
      throw new InvalidOptionError(`${option}.factor`, `should be a finite number >= 1, got ${describeOption(factor)}`);
    }
    this.strategy = { kind, initial, max, factor };
  }

  /**
   * The delay before retry `retry` (1 for the first retry), in milliseconds.
   * @param previousDelayMs the delay before the previous retry; `0` before the first.
   */
  delay(retry: number, previousDelayMs: number): number {
    const s = this.strategy;
    switch (s.kind) {
      case 'constant':
        return s.delay;
      case 'full':
        return this.random() * Math.min(s.max, s.initial * s.factor ** (retry - 1));
      case 'decorrelated': {
        const previous = previousDelayMs > 0 ? previousDelayMs : s.initial;
        return Math.min(s.max, s.initial + this.random() * (previous * 3 - s.initial));
      }
    }
  }
}

function milliseconds(option: string, value: unknown, fallback: number | undefined): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidOptionError(option, `should be a finite number of milliseconds >= 0, got ${describeOption(value)}`);
  }
  return value;
}
