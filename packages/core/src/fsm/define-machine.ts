import { InvalidOptionError } from '../errors/hitch-error.js';
import { Machine } from './machine.js';
import type { EventDefinitions, MachineDefinition } from './types.js';
import { validateDefinition } from './validate-definition.js';

/**
 * Defines a state machine once, as data, with its state and event names inferred as literal
 * types: an unknown state in `initial`, `final`, `from` or `to`, or an unknown event, does not
 * compile. The definition is also checked at run time and throws `InvalidOptionError` saying
 * the fix: duplicate or unknown states, an event leaving a final state, an unreachable state, a
 * non-final state no event leaves, a final initial state, a key that is not an option.
 *
 * ```ts
 * const rides = defineMachine({
 *   id: 'ride',
 *   states: ['pending', 'matched', 'cancelled'],
 *   initial: 'pending',
 *   final: ['cancelled'],
 *   events: {
 *     match: { from: 'pending', to: 'matched' },
 *     cancel: { from: ['pending', 'matched'], to: 'cancelled' },
 *   },
 * });
 * ```
 */
export function defineMachine<const S extends string, const E extends EventDefinitions<S, D>, D = undefined>(
  definition: MachineDefinition<S, E, D>,
): Machine<S, E, D> {
  const normalized = validateDefinition(definition);
  const { clock, instrumentation } = definition;
  if (clock !== undefined && (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function')) {
    throw new InvalidOptionError('clock', `should be a Clock ({ now(), setTimeout(), clearTimeout() }) in machine "${normalized.id}"`);
  }
  if (instrumentation !== undefined && (typeof instrumentation !== 'object' || instrumentation === null || typeof instrumentation.machine !== 'function')) {
    throw new InvalidOptionError('instrumentation', `should be an FsmInstrumentation ({ machine(description) }) in machine "${normalized.id}"`);
  }
  return new Machine<S, E, D>(normalized, clock, instrumentation);
}
