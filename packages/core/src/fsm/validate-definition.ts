import { InvalidOptionError } from '../errors/hitch-error.js';
import type { AnyGuard, AnyUpdate, NormalizedDefinition, NormalizedEvent } from './internal-types.js';

/**
 * Names of machines, states and events: they become metric label values, span event attributes
 * and Mermaid node ids, so they are identifiers. A leading letter keeps them apart from the
 * metrics' reserved values (`__overflow__`).
 */
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
const EVENT_KEYS = new Set(['from', 'to', 'guard', 'update']);
const DEFINITION_KEYS = new Set(['id', 'states', 'initial', 'events', 'final', 'clock', 'instrumentation', 'types']);

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? (value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object') : String(value));
const list = (names: readonly string[]): string => names.join(', ');

function checkName(option: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new InvalidOptionError(option, `${what} should be a name of letters, digits and _ starting with a letter (at most 100), got ${show(value)}`);
  }
  return value;
}

/**
 * Checks a machine definition once, at `defineMachine`: every rule here would otherwise surface
 * as an entity stuck in a state, or an event refused for a reason nobody can see.
 */
export function validateDefinition(definition: unknown): NormalizedDefinition {
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new InvalidOptionError('defineMachine', `expects a definition object { id, states, initial, events, final }, got ${show(definition)}`);
  }
  const d = definition as Record<string, unknown>;
  for (const key of Object.keys(d)) {
    if (!DEFINITION_KEYS.has(key)) throw new InvalidOptionError(key, `is not an option of defineMachine; the options are ${list([...DEFINITION_KEYS])}`);
  }
  const id = checkName('id', d.id, 'the machine id');
  const where = ` in machine "${id}"`;

  if (!Array.isArray(d.states) || d.states.length === 0) {
    throw new InvalidOptionError('states', `should be a non-empty array of state names${where}, got ${show(d.states)}`);
  }
  const states: string[] = [];
  for (const [i, state] of (d.states as unknown[]).entries()) {
    const name = checkName(`states[${i}]`, state, 'a state');
    if (states.includes(name)) throw new InvalidOptionError(`states[${i}]`, `duplicate state "${name}"${where}: list each state once`);
    states.push(name);
  }
  const known = (option: string, value: unknown): string => {
    if (typeof value === 'string' && states.includes(value)) return value;
    throw new InvalidOptionError(option, `unknown state ${show(value)}${where}; its states are ${list(states)}`);
  };

  const initial = known('initial', d.initial);

  const final: string[] = [];
  if (d.final !== undefined) {
    if (!Array.isArray(d.final)) throw new InvalidOptionError('final', `should be an array of state names${where}, got ${show(d.final)}`);
    for (const [i, state] of (d.final as unknown[]).entries()) {
      const name = known(`final[${i}]`, state);
      if (final.includes(name)) throw new InvalidOptionError(`final[${i}]`, `duplicate final state "${name}"${where}`);
      final.push(name);
    }
  }
  if (final.includes(initial)) throw new InvalidOptionError('initial', `"${initial}" is a final state${where}: an entity created in it could never change`);

  if (typeof d.events !== 'object' || d.events === null || Array.isArray(d.events) || Object.keys(d.events).length === 0) {
    throw new InvalidOptionError('events', `should be an object of events by name, e.g. { match: { from: 'pending', to: 'matched' } }${where}, got ${show(d.events)}`);
  }
  const events: NormalizedEvent[] = [];
  for (const [name, value] of Object.entries(d.events as Record<string, unknown>)) {
    const option = `events.${name}`;
    checkName(option, name, 'an event name');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidOptionError(option, `should be { from, to, guard?, update? }${where}, got ${show(value)}`);
    }
    const e = value as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!EVENT_KEYS.has(key)) throw new InvalidOptionError(`${option}.${key}`, `is not a key of an event${where}; the keys are ${list([...EVENT_KEYS])}`);
    }
    const fromList = Array.isArray(e.from) ? (e.from as unknown[]) : [e.from];
    if (fromList.length === 0) throw new InvalidOptionError(`${option}.from`, `should name at least one state${where}`);
    const from: string[] = [];
    for (const [i, state] of fromList.entries()) {
      const path = Array.isArray(e.from) ? `${option}.from[${i}]` : `${option}.from`;
      const s = known(path, state);
      if (from.includes(s)) throw new InvalidOptionError(path, `duplicate state "${s}"${where}`);
      if (final.includes(s)) throw new InvalidOptionError(path, `"${s}" is a final state${where}: no event may leave it (remove it from final, or from this event)`);
      from.push(s);
    }
    const to = known(`${option}.to`, e.to);
    if (e.guard !== undefined && typeof e.guard !== 'function') throw new InvalidOptionError(`${option}.guard`, `should be a function (entity, payload) => boolean | string${where}, got ${show(e.guard)}`);
    if (e.update !== undefined && typeof e.update !== 'function') throw new InvalidOptionError(`${option}.update`, `should be a function (data, payload) => data${where}, got ${show(e.update)}`);
    events.push({ name, from, to, guard: e.guard as AnyGuard | undefined, update: e.update as AnyUpdate | undefined });
  }

  for (const state of states) {
    const reachable = state === initial || events.some((e) => e.to === state);
    if (!reachable) throw new InvalidOptionError('states', `"${state}" is unreachable${where}: it is not the initial state and no event enters it`);
    if (!final.includes(state) && !events.some((e) => e.from.includes(state))) {
      throw new InvalidOptionError('final', `"${state}" has no event out of it${where}: declare it final, or add an event whose from includes it`);
    }
  }

  return { id, states, initial, final, events };
}
