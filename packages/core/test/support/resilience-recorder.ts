import type { ResilienceInstrumentation } from '../../src/resilience/types.js';

/** An instrumentation that records every call, as `[method, ...args]`. */
export function recorder(): { calls: unknown[][]; instrumentation: ResilienceInstrumentation } {
  const calls: unknown[][] = [];
  return {
    calls,
    instrumentation: {
      stateChanged: (...args) => calls.push(['stateChanged', ...args]),
      retryAttempt: (...args) => calls.push(['retryAttempt', ...args]),
      timedOut: (...args) => calls.push(['timedOut', ...args]),
      bulkheadRejected: (...args) => calls.push(['bulkheadRejected', ...args]),
      breakerRejected: (...args) => calls.push(['breakerRejected', ...args]),
    },
  };
}
