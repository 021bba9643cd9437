import type { Clock, TimerHandle } from '../clock/clock.js';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { BulkheadRejectedError, TimeoutError, withoutStack } from '../errors/resilience-errors.js';
import type { PolicyExecuteOptions } from '../policy/policy.js';
import type { NestedExecutable, NestedNext } from './compose.js';
import { describeOption, executeNested, policyClock, policyName } from './compose.js';
import { runAttempt } from './timeout.js';
import type { PolicyBaseOptions, ResilienceInstrumentation, ResiliencePolicy } from './types.js';

export interface BulkheadOptions extends PolicyBaseOptions {
  /** Calls running at the same time. Required, a positive integer. */
  readonly maxConcurrent: number;
  /**
   * Calls waiting for a slot, served first in first out. Beyond it a call rejects at once with
   * `BulkheadRejectedError`. `0` means no waiting. Defaults to `0`.
   */
  readonly queueLimit?: number;
}

/** A call waiting for a slot: a node of the queue's doubly linked list. */
interface Waiting {
  readonly fn: ((signal: AbortSignal) => Promise<unknown>) | undefined;
  readonly next: NestedNext<unknown> | undefined;
  readonly options: PolicyExecuteOptions | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  onAbort: (() => void) | undefined;
  timer: TimerHandle | undefined;
  before: Waiting | undefined;
  after: Waiting | undefined;
}

/** Limits concurrent calls, with a bounded FIFO queue; beyond it calls are rejected at once. */
export class BulkheadPolicy implements ResiliencePolicy, NestedExecutable {
  readonly name: string;
  readonly maxConcurrent: number;
  readonly queueLimit: number;
  private readonly clock: Clock;
  private readonly instrumentation: ResilienceInstrumentation | undefined;
  private readonly what: string;
  private runningCount = 0;
  private queuedCount = 0;
  private head: Waiting | undefined;
  private tail: Waiting | undefined;
  private readonly release = (): void => {
    this.runningCount--;
    const first = this.head;
    if (first !== undefined) {
      this.unlink(first);
      this.start(first);
    }
  };

  constructor(options: BulkheadOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('bulkhead', 'expects an options object { maxConcurrent }');
    const { maxConcurrent, queueLimit = 0 } = options;
    if (typeof maxConcurrent !== 'number' || !Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new InvalidOptionError('bulkhead.maxConcurrent', `should be a positive integer, got ${describeOption(maxConcurrent)}`);
    }
    if (typeof queueLimit !== 'number' || !Number.isInteger(queueLimit) || queueLimit < 0) {
      throw new InvalidOptionError('bulkhead.queueLimit', `should be an integer >= 0, got ${describeOption(queueLimit)}`);
    }
    this.name = policyName('bulkhead', options.name);
    this.maxConcurrent = maxConcurrent;
    this.queueLimit = queueLimit;
    this.clock = policyClock('bulkhead', options.clock);
    this.instrumentation = options.instrumentation;
    this.what = `call through "${this.name}"`;
  }

  /** Calls running now. */
  get running(): number {
    return this.runningCount;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.queuedCount;
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T> {
    return this.admit(fn, undefined, options);
  }

  [executeNested]<T>(next: NestedNext<T>, options: PolicyExecuteOptions | undefined): Promise<T> {
    return this.admit(undefined, next, options);
  }

  private admit<T>(fn: ((signal: AbortSignal) => Promise<T>) | undefined, next: NestedNext<T> | undefined, options: PolicyExecuteOptions | undefined): Promise<T> {
    const caller = options?.signal;
    if (caller?.aborted === true) return Promise.reject(caller.reason as Error);
    if (this.runningCount < this.maxConcurrent) {
      this.runningCount++;
      const work = this.call(fn, next, options);
      work.then(this.release, this.release);
      return work;
    }
    if (this.queuedCount >= this.queueLimit) {
      if (this.instrumentation !== undefined) {
        try {
          this.instrumentation.bulkheadRejected(this.name);
        } catch {
          // A failing instrumentation never changes the outcome of a call.
        }
      }
      return Promise.reject(withoutStack(() => new BulkheadRejectedError(this.name, this.maxConcurrent, this.queueLimit)));
    }
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = {
        fn: fn as ((signal: AbortSignal) => Promise<unknown>) | undefined,
        next: next as NestedNext<unknown> | undefined,
        options,
        resolve: resolve as (value: unknown) => void,
        reject,
        onAbort: undefined,
        timer: undefined,
        before: this.tail,
        after: undefined,
      };
      if (this.tail === undefined) this.head = waiting;
      else this.tail.after = waiting;
      this.tail = waiting;
      this.queuedCount++;
      if (caller !== undefined) {
        waiting.onAbort = () => {
          this.unlink(waiting);
          reject(caller.reason as Error);
        };
        caller.addEventListener('abort', waiting.onAbort, { once: true });
      }
      const deadline = options?.deadline;
      if (deadline !== undefined) {
        // A call still queued at its deadline could not finish before it: it leaves the queue.
        const waitMs = Math.max(0, deadline - this.clock.now());
        waiting.timer = this.clock.setTimeout(() => {
          waiting.timer = undefined;
          this.unlink(waiting);
          reject(withoutStack(() => new TimeoutError(Math.round(waitMs), `${this.what} (its deadline passed while it was queued)`)));
        }, waitMs);
      }
    });
  }

  private call<T>(fn: ((signal: AbortSignal) => Promise<T>) | undefined, next: NestedNext<T> | undefined, options: PolicyExecuteOptions | undefined): Promise<T> {
    if (next !== undefined) {
      try {
        return next(options);
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    return runAttempt(fn as (signal: AbortSignal) => Promise<T>, options?.signal, options?.deadline, this.clock, undefined, this.what);
  }

  private start(waiting: Waiting): void {
    this.runningCount++;
    const work = this.call(waiting.fn, waiting.next, waiting.options);
    work.then(this.release, this.release);
    work.then(waiting.resolve, waiting.reject);
  }

  /** Takes `waiting` out of the queue, with its listener and timer. */
  private unlink(waiting: Waiting): void {
    if (waiting.before === undefined) this.head = waiting.after;
    else waiting.before.after = waiting.after;
    if (waiting.after === undefined) this.tail = waiting.before;
    else waiting.after.before = waiting.before;
    waiting.before = undefined;
    waiting.after = undefined;
    this.queuedCount--;
    if (waiting.onAbort !== undefined) {
      waiting.options?.signal?.removeEventListener('abort', waiting.onAbort);
      waiting.onAbort = undefined;
    }
    if (waiting.timer !== undefined) {
      this.clock.clearTimeout(waiting.timer);
      waiting.timer = undefined;
    }
  }
}

/** Limits concurrent calls: see {@link BulkheadOptions}. */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
