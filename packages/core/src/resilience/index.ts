// @hitch/core/resilience: timeout, retry, circuit breaker, bulkhead, fallback, compose.
export { timeout, TimeoutPolicy } from './timeout.js';
export type { TimeoutOptions } from './timeout.js';
export { retry, RetryPolicy, defaultRetryOn } from './retry.js';
export type { RetryOptions } from './retry.js';
export { Backoff } from './backoff.js';
export type { BackoffOptions, ConstantBackoffOptions, DecorrelatedJitterBackoffOptions, FullJitterBackoffOptions } from './backoff.js';
export { retryBudget, RetryBudget } from './retry-budget.js';
export type { RetryBudgetOptions } from './retry-budget.js';
export { circuitBreaker, CircuitBreaker, circuitBreakerDefaults } from './circuit-breaker.js';
export type { AdaptiveModeOptions, CircuitBreakerMode, CircuitBreakerOptions } from './circuit-breaker.js';
export { keyedBreakers, KeyedBreakers } from './keyed-breakers.js';
export type { KeyedBreakersOptions } from './keyed-breakers.js';
export { bulkhead, BulkheadPolicy } from './bulkhead.js';
export type { BulkheadOptions } from './bulkhead.js';
export { fallback, FallbackPolicy } from './fallback.js';
export type { FallbackOptions } from './fallback.js';
export { compose, ComposedPolicy } from './compose.js';
export type { ComposablePolicy } from './compose.js';
export { CircuitState, RetryOutcome } from './types.js';
export type { ExecuteOptions, PolicyBaseOptions, ResilienceInstrumentation, ResiliencePolicy } from './types.js';
export type { Policy, PolicyExecuteOptions } from '../policy/policy.js';
export {
  BulkheadRejectedError,
  CircuitOpenError,
  RetryBudgetExceededError,
  TimeoutError,
  isBulkheadRejectedError,
  isCircuitOpenError,
  isRetryBudgetExceededError,
  isTimeoutError,
} from '../errors/resilience-errors.js';
export { systemClock } from '../clock/clock.js';
export type { Clock, TimerHandle } from '../clock/clock.js';
