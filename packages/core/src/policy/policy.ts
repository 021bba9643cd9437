/**
 * The contract between callers (`hitch.fetch`, gRPC clients) and resilience policies
 * (timeout, retry, circuit breaker, bulkhead, fallback, compose): a policy runs `fn`, possibly
 * several times, each attempt with its own AbortSignal.
 */
export interface Policy {
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: PolicyExecuteOptions): Promise<T>;
}

export interface PolicyExecuteOptions {
  /** The caller's signal: aborting it aborts the current attempt and stops further ones. */
  readonly signal?: AbortSignal;
  /** Absolute deadline in clock milliseconds: no attempt starts that could not finish before it. */
  readonly deadline?: number;
}
