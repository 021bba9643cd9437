import type { Clock } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import type { PolicyExecuteOptions } from '../policy/policy.js';
import type { NestedExecutable, NestedNext } from './compose.js';
import { describeOption, executeNested, policyClock, policyName } from './compose.js';
import { runAttempt } from './timeout.js';
import type { PolicyBaseOptions } from './types.js';

/** `instrumentation` is accepted like every policy's; a fallback reports nothing of its own. */
export interface FallbackOptions<R> extends PolicyBaseOptions {
  /** What a failed call resolves with instead; its own rejection becomes the call's. Required. */
  readonly fallback: (error: unknown) => R | Promise<R>;
  /**
   * Which errors the fallback replaces. Defaults to every error, except when the caller aborted:
   * an aborted call still rejects with the caller's reason. A `handles` given here decides alone,
   * aborts included.
   */
  readonly handles?: (error: unknown) => boolean;
}

/** Replaces a failed call's error with a value (a cached or default answer). */
export class FallbackPolicy<R> implements NestedExecutable<R> {
  readonly name: string;
  private readonly fallback: (error: unknown) => R | Promise<R>;
  private readonly handles: ((error: unknown) => boolean) | undefined;
  private readonly clock: Clock;
  private readonly what: string;

  constructor(options: FallbackOptions<R>) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('fallback', 'expects an options object { fallback }');
    const { fallback, handles } = options;
    if (typeof fallback !== 'function') {
      throw new InvalidOptionError('fallback.fallback', `should be a function (error) => value, got ${describeOption(fallback)}`);
    }
    if (handles !== undefined && typeof handles !== 'function') {
      throw new InvalidOptionError('fallback.handles', `should be a function (error) => boolean, got ${describeOption(handles)}`);
    }
    this.name = policyName('fallback', options.name);
    this.fallback = fallback;
    this.handles = handles;
    this.clock = policyClock('fallback', options.clock);
    this.what = `call through "${this.name}"`;
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T | R> {
    return this.run(runAttempt(fn, options?.signal, options?.deadline, this.clock, undefined, this.what), options);
  }

  [executeNested]<T>(next: NestedNext<T>, options: PolicyExecuteOptions | undefined): Promise<T | R> {
    let work: Promise<T>;
    try {
      work = next(options);
    } catch (error) {
      work = Promise.reject(error as Error);
    }
    return this.run(work, options);
  }

  private async run<T>(work: Promise<T>, options: PolicyExecuteOptions | undefined): Promise<T | R> {
    try {
      return await work;
    } catch (error) {
      const handled = this.handles === undefined ? options?.signal?.aborted !== true : this.handles(error);
      if (!handled) throw error;
      return this.fallback(error);
    }
  }
}

/** Replaces failures with a value: see {@link FallbackOptions}. */
export function fallback<R>(options: FallbackOptions<R>): FallbackPolicy<R> {
  return new FallbackPolicy(options);
}
