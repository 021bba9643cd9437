import type { Context, Span } from '@opentelemetry/api';
import { context, trace } from '@opentelemetry/api';
import type { EntityIn, FsmInstrumentation, TransitionRecorder } from '../fsm/types.js';
import { OVERFLOW_VALUE } from '../metrics/label-policy.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { BoundCounter, BoundHistogram } from '../metrics/types.js';

/**
 * Time in state: a ride waits seconds for a match and spends up to hours in a ride. Nothing
 * below 100 ms: with the system clock, `enteredAt` is a coarse reading (10 ms).
 */
export const TIME_IN_STATE_BUCKETS: readonly number[] = Object.freeze([0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]);

/**
 * Turns what machines report into metrics and span events on the active span (the caller's:
 * machines report synchronously in the caller's context).
 *
 * Label values come from the machines' definitions only: every transition series is bound when
 * its machine is defined, one per (from, event) edge, and a refused event whose state or name is
 * not in its machine's definition (a stale stored entity, an event name from a request) is
 * counted under `__overflow__`. The registry's `maxValues` bounds are the last guard, against
 * machines defined at run time in numbers.
 */
export function createFsmInstrumentation(metrics: MetricsRegistry): FsmInstrumentation {
  const machine = { maxValues: 100 };
  const state = { maxValues: 1000 };
  const event = { maxValues: 1000 };
  const transitions = metrics.counter({
    name: 'hitch_fsm_transitions_total',
    help: 'State machine transitions, by machine, state left, state entered and event.',
    labels: { machine, from: state, to: state, event },
  });
  const illegalTransitions = metrics.counter({
    name: 'hitch_fsm_illegal_transitions_total',
    help: 'Events refused because the entity state allows no such transition (IllegalTransitionError).',
    labels: { machine, state, event },
  });
  const guardRejections = metrics.counter({
    name: 'hitch_fsm_guard_rejections_total',
    help: 'Transitions refused by their guard (GuardRejectedError).',
    labels: { machine, state, event },
  });
  const timeInState = metrics.histogram({
    name: 'hitch_fsm_time_in_state_seconds',
    help: 'Time entities spent in a state, observed when they leave it.',
    labels: { machine, state },
    buckets: TIME_IN_STATE_BUCKETS,
    // Observed when an entity leaves the state, in whatever request that happens: the span event
    // of the transition is the link to the trace, so no exemplar lookup on the hot path.
    exemplars: false,
  });

  const activeSpan = new ActiveSpan();
  return {
    machine({ id, states, events }) {
      const knownStates = new Set(states);
      const knownEvents = new Set(events);
      const labelsOf = (s: string, e: string) => ({
        machine: id,
        state: knownStates.has(s) ? s : OVERFLOW_VALUE,
        event: knownEvents.has(e) ? e : OVERFLOW_VALUE,
      });
      return {
        edge(from, eventName, to) {
          return new EdgeRecorder(
            id,
            from,
            eventName,
            to,
            transitions.bind({ machine: id, from, to, event: eventName }),
            timeInState.bind({ machine: id, state: from }),
            activeSpan,
          );
        },
        illegal(s, e) {
          illegalTransitions.inc(labelsOf(s, e));
          trace.getActiveSpan()?.addEvent('hitch.fsm.illegal_transition', { 'hitch.fsm.machine': id, 'hitch.fsm.event': e, 'hitch.fsm.state': s });
        },
        guardRejected(s, e, reason) {
          guardRejections.inc(labelsOf(s, e));
          const attributes: Record<string, string> = { 'hitch.fsm.machine': id, 'hitch.fsm.event': e, 'hitch.fsm.state': s };
          if (reason !== undefined) attributes['hitch.fsm.reason'] = reason;
          trace.getActiveSpan()?.addEvent('hitch.fsm.guard_rejected', attributes);
        },
      };
    },
  };
}

/** The metrics of one (from, event) edge, bound when its machine is defined. One class, so the transition's call is monomorphic. */
class EdgeRecorder implements TransitionRecorder {
  constructor(
    private readonly machine: string,
    private readonly from: string,
    private readonly event: string,
    private readonly to: string,
    private readonly count: BoundCounter,
    private readonly timeInState: BoundHistogram,
    private readonly activeSpan: ActiveSpan,
  ) {}

  transitioned(left: EntityIn<string, unknown>, entered: EntityIn<string, unknown>): void {
    this.count.inc();
    const millis = entered.enteredAt - left.enteredAt;
    this.timeInState.observe(millis > 0 ? millis / 1000 : 0);
    const span = this.activeSpan.get();
    // The attributes object is built only for a span that records it.
    if (span !== undefined && span.isRecording()) {
      span.addEvent('hitch.fsm.transition', {
        'hitch.fsm.machine': this.machine,
        'hitch.fsm.event': this.event,
        'hitch.fsm.from': this.from,
        'hitch.fsm.to': this.to,
        'hitch.fsm.version': entered.version,
      });
    }
  }
}

/**
 * `trace.getActiveSpan()`, remembering the span of the last context it was asked about: contexts
 * are immutable, so the same context has the same span, and the transitions of one request (or of
 * work outside any request) skip the lookup in the context. Holds on to that one context until
 * the next transition in another one.
 */
class ActiveSpan {
  private context: Context | undefined;
  private span: Span | undefined;

  get(): Span | undefined {
    const active = context.active();
    if (active !== this.context) {
      this.context = active;
      this.span = trace.getSpan(active);
    }
    return this.span;
  }
}
