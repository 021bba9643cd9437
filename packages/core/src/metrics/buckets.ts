import { InvalidOptionError } from '../errors/hitch-error.js';

/**
 * Bucket presets. `httpLatencySeconds` is the OpenTelemetry recommendation for
 * `http.server.request.duration` (semantic conventions, HTTP metrics):
 * https://opentelemetry.io/docs/specs/semconv/http/http-metrics/
 */
export const buckets = Object.freeze({
  /** `[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]` seconds. */
  httpLatencySeconds: Object.freeze([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]) as readonly number[],
  /** Fast in-process work: 100 µs to 1 s. */
  fastLatencySeconds: Object.freeze([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]) as readonly number[],
  /** Payload sizes: powers of 4 from 64 B to 64 MiB. */
  bytes: Object.freeze(exponentialBuckets(64, 4, 11)) as readonly number[],
  /** Ratios in [0, 1] by tenths. */
  ratio: Object.freeze(linearBuckets(0.1, 0.1, 10).map((b) => Math.round(b * 10) / 10)) as readonly number[],
});

/** `count` buckets starting at `start`, each `factor` times the previous. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!(start > 0) || !Number.isFinite(start)) throw new InvalidOptionError('exponentialBuckets.start', `must be a positive finite number, got ${start}`);
  if (!(factor > 1) || !Number.isFinite(factor)) throw new InvalidOptionError('exponentialBuckets.factor', `must be a finite number above 1, got ${factor}`);
  if (!Number.isInteger(count) || count < 1) throw new InvalidOptionError('exponentialBuckets.count', `must be a positive integer, got ${count}`);
  const result: number[] = [];
  for (let i = 0, b = start; i < count; i++, b *= factor) result.push(b);
  return result;
}

/** `count` buckets starting at `start`, `width` apart. */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (!Number.isFinite(start)) throw new InvalidOptionError('linearBuckets.start', `must be a finite number, got ${start}`);
  if (!(width > 0) || !Number.isFinite(width)) throw new InvalidOptionError('linearBuckets.width', `must be a positive finite number, got ${width}`);
  if (!Number.isInteger(count) || count < 1) throw new InvalidOptionError('linearBuckets.count', `must be a positive integer, got ${count}`);
  const result: number[] = [];
  for (let i = 0; i < count; i++) result.push(start + i * width);
  return result;
}

/**
 * Why `bounds` do not suit a histogram whose name ends in `unit`, or undefined when they do.
 * Structural rules (non-empty, finite, strictly ascending) first, then unit plausibility.
 */
export function bucketProblem(bounds: readonly number[], unit: string | undefined): string | undefined {
  if (bounds.length === 0) return 'buckets must not be empty';
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i] as number;
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      return `bucket ${i} is ${String(b)}; buckets must be finite numbers (+Inf is added for you)`;
    }
    if (i > 0 && b <= (bounds[i - 1] as number)) {
      return `buckets must be strictly ascending, but ${b} follows ${String(bounds[i - 1])}`;
    }
  }
  const first = bounds[0] as number;
  const last = bounds[bounds.length - 1] as number;
  switch (unit) {
    case 'seconds':
      if (first < 0) return `a _seconds histogram cannot have a negative bucket (${first})`;
      // No sub-second bucket while reaching into the hundreds is what milliseconds look like.
      if (first >= 1 && last >= 100) {
        return `buckets [${first} … ${last}] look like milliseconds but the name says seconds: divide by 1000 (e.g. ${last / 1000} instead of ${last}), or use buckets.httpLatencySeconds; if these really are seconds, start with a bucket below 1`;
      }
      return undefined;
    case 'bytes':
      if (first < 0) return `a _bytes histogram cannot have a negative bucket (${first})`;
      for (const b of bounds) {
        if (!Number.isInteger(b)) return `a _bytes histogram needs whole-byte buckets, got ${b}: convert kilobytes or megabytes to bytes (or use buckets.bytes)`;
      }
      return undefined;
    case 'ratio':
      if (first < 0 || last > 1) return `a _ratio histogram needs buckets within [0, 1], got ${first} … ${last}: divide percentages by 100`;
      return undefined;
    default:
      return undefined;
  }
}
