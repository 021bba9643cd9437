import { trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { BoundCounter } from '../metrics/types.js';
import type { CircuitState, ResilienceInstrumentation, RetryOutcome } from '../resilience/types.js';
import { CircuitState as State, RetryOutcome as Outcome } from '../resilience/types.js';

const stateValue: Record<CircuitState, number> = { [State.Closed]: 0, [State.Open]: 1, [State.HalfOpen]: 2 };
const states = Object.values(State);

/**
 * Turns what policies report into metrics, span events on the active span (the caller's, since
 * policies report synchronously in the caller's context) and a log line per breaker transition.
 */
export function createResilienceInstrumentation(metrics: MetricsRegistry, logger: Logger): ResilienceInstrumentation {
  // Keyed breakers can be many: names are bounded like any label (overflow beyond the bound).
  const names = { maxValues: 500 };
  const breakerState = metrics.gauge({
    name: 'hitch_circuit_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open.',
    labels: { breaker: names },
  });
  const transitions = metrics.counter({
    name: 'hitch_circuit_breaker_transitions_total',
    help: 'Circuit breaker state changes.',
    labels: { breaker: names, from: { values: states }, to: { values: states } },
  });
  const breakerRejections = metrics.counter({
    name: 'hitch_circuit_breaker_rejections_total',
    help: 'Calls a circuit breaker rejected without making them.',
    labels: { breaker: names, state: { values: states } },
  });
  const retryAttempts = metrics.counter({
    name: 'hitch_retry_attempts_total',
    help: 'Attempts made by retry policies, by how each ended.',
    labels: { policy: names, outcome: { values: Object.values(Outcome) } },
  });
  const timeouts = metrics.counter({
    name: 'hitch_timeouts_total',
    help: 'Attempts aborted by a timeout policy.',
    labels: { policy: names },
  });
  const bulkheadRejections = metrics.counter({
    name: 'hitch_bulkhead_rejections_total',
    help: 'Calls a bulkhead rejected because it was full.',
    labels: { policy: names },
  });

  // Attempts are counted on every call: bound handles per (policy, outcome) skip the label lookup.
  const attemptHandles = new Map<string, Map<RetryOutcome, BoundCounter>>();
  const attemptCounter = (policy: string, outcome: RetryOutcome): BoundCounter => {
    let byOutcome = attemptHandles.get(policy);
    if (byOutcome === undefined) attemptHandles.set(policy, (byOutcome = new Map()));
    let handle = byOutcome.get(outcome);
    if (handle === undefined) byOutcome.set(outcome, (handle = retryAttempts.bind({ policy, outcome })));
    return handle;
  };

  return {
    stateChanged(breaker, from, to) {
      breakerState.set({ breaker }, stateValue[to]);
      transitions.inc({ breaker, from, to });
      trace.getActiveSpan()?.addEvent('hitch.circuit_breaker.state_change', { 'hitch.breaker': breaker, 'hitch.breaker.from': from, 'hitch.breaker.to': to });
      const log = { breaker, from, to };
      if (to === State.Open) logger.warn(log, `circuit breaker "${breaker}" opened: calls are rejected until it probes again`);
      else if (to === State.HalfOpen) logger.info(log, `circuit breaker "${breaker}" is half-open: probing`);
      else logger.info(log, `circuit breaker "${breaker}" closed: calls flow again`);
    },
    retryAttempt(policy, attempt, outcome: RetryOutcome, delayMs, error) {
      attemptCounter(policy, outcome).inc();
      if (outcome === Outcome.Success) return;
      const attributes: Record<string, string | number> = { 'hitch.policy': policy, 'hitch.retry.attempt': attempt, 'hitch.retry.outcome': outcome };
      if (delayMs !== undefined) attributes['hitch.retry.delay_ms'] = delayMs;
      if (error instanceof Error) attributes['error.type'] = error.name;
      trace.getActiveSpan()?.addEvent('hitch.retry', attributes);
    },
    timedOut(policy, timeoutMs) {
      timeouts.inc({ policy });
      trace.getActiveSpan()?.addEvent('hitch.timeout', { 'hitch.policy': policy, 'hitch.timeout_ms': timeoutMs });
    },
    bulkheadRejected(policy) {
      bulkheadRejections.inc({ policy });
      trace.getActiveSpan()?.addEvent('hitch.bulkhead.rejected', { 'hitch.policy': policy });
    },
    breakerRejected(breaker, state) {
      breakerRejections.inc({ breaker, state });
      trace.getActiveSpan()?.addEvent('hitch.circuit_breaker.rejected', { 'hitch.breaker': breaker, 'hitch.breaker.state': state });
    },
  };
}
