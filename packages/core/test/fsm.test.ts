import { describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  GuardRejectedError,
  IllegalTransitionError,
  VersionConflictError,
  defineMachine,
  isGuardRejectedError,
  isHitchError,
  isIllegalTransitionError,
  isInvalidOptionError,
  isVersionConflictError,
} from '../src/index.js';
import type { Entity, EventOf, StateOf } from '../src/index.js';
import { FakeClock } from './support/fake-clock.js';

const clock = new FakeClock();

interface RideData {
  readonly riderId: string;
  readonly seats: number;
  readonly driverId?: string;
}

/** The ride-order machine of the reference app. */
function rideMachine() {
  return defineMachine({
    id: 'ride',
    states: ['pending', 'matched', 'accepted', 'in_ride', 'completed', 'cancelled'],
    initial: 'pending',
    final: ['completed', 'cancelled'],
    clock,
    types: {} as { data: RideData },
    events: {
      match: { from: 'pending', to: 'matched' },
      accept: { from: 'matched', to: 'accepted' },
      start: { from: 'accepted', to: 'in_ride' },
      complete: { from: 'in_ride', to: 'completed' },
      cancel: { from: ['pending', 'matched', 'accepted', 'in_ride'], to: 'cancelled' },
    },
  });
}
const rides = rideMachine();
type State = StateOf<typeof rides>;
type Event = EventOf<typeof rides>;
const data: RideData = { riderId: 'r-1', seats: 1 };

/** An entity in any state, as a store would hand it back. */
const stored = (state: State, version = 7): Entity<State, RideData> => ({ state, version, enteredAt: clock.now() - 1000, data });

// The whole (state x event) matrix, written out by hand: '-' is an illegal event.
const EVENTS = ['match', 'accept', 'start', 'complete', 'cancel'] as const;
const MATRIX: Record<State, readonly (State | '-')[]> = {
  //           match       accept      start       complete     cancel
  pending: ['matched', '-', '-', '-', 'cancelled'],
  matched: ['-', 'accepted', '-', '-', 'cancelled'],
  accepted: ['-', '-', 'in_ride', '-', 'cancelled'],
  in_ride: ['-', '-', '-', 'completed', 'cancelled'],
  completed: ['-', '-', '-', '-', '-'],
  cancelled: ['-', '-', '-', '-', '-'],
};
const cells = (Object.keys(MATRIX) as State[]).flatMap((state) =>
  EVENTS.map((event, i) => ({ state, event: event as Event, expected: MATRIX[state][i]!, allowed: EVENTS.filter((_, j) => MATRIX[state][j] !== '-') })),
);

describe('the ride-order machine, state x event', () => {
  it('the matrix covers every state and event of the machine', () => {
    expect(Object.keys(MATRIX)).toEqual(rides.states);
    expect([...EVENTS]).toEqual(rides.events);
    expect(cells).toHaveLength(30);
  });

  it.each(cells)('$state + $event -> $expected', ({ state, event, expected, allowed }) => {
    const entity = stored(state);
    expect(rides.allowedEvents(state)).toEqual(allowed);
    expect(rides.can(entity, event)).toBe(expected !== '-');
    if (expected === '-') {
      let thrown: unknown;
      try {
        rides.transition(entity, event as Event);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(IllegalTransitionError);
      expect(thrown).toMatchObject({ code: ErrorCode.IllegalTransition, machine: 'ride', from: state, event, allowedEvents: allowed });
      expect(entity).toEqual(stored(state));
    } else {
      const next = rides.transition(entity, event as Event);
      expect(next).toEqual({ state: expected, version: 8, enteredAt: clock.now(), data });
    }
  });

  it('a happy path and a cancellation, step by step', () => {
    const created = rides.create({ riderId: 'r-2', seats: 2 });
    expect(created).toEqual({ state: 'pending', version: 0, enteredAt: clock.now(), data: { riderId: 'r-2', seats: 2 } });
    const done = ['match', 'accept', 'start', 'complete'].reduce<Entity<State, RideData>>((ride, event) => rides.transition(ride, event as Event), created);
    expect(done).toMatchObject({ state: 'completed', version: 4 });
    expect(rides.isFinal(done.state)).toBe(true);
    expect(rides.transition(rides.transition(created, 'match'), 'cancel')).toMatchObject({ state: 'cancelled', version: 2 });
  });

  it('messages name the state, the event and what is allowed instead', () => {
    expect(() => rides.transition(stored('pending'), 'accept')).toThrow('ride: event "accept" is not allowed in state "pending" (allowed: match, cancel)');
    expect(() => rides.transition(stored('completed'), 'cancel')).toThrow(
      'ride: event "cancel" is not allowed in state "completed" (no event is allowed in it)',
    );
    expect(() => rides.transition(stored('pending'), 'teleport' as Event)).toThrow(
      'ride: event "teleport" is not allowed in state "pending": "teleport" is not an event of this machine (allowed: match, cancel)',
    );
    // A stored entity whose state the machine no longer has (a migration forgot it).
    const stale = { ...stored('pending'), state: 'waiting' } as unknown as Entity<State, RideData>;
    expect(() => rides.transition(stale, 'match')).toThrow(
      'ride: event "match" is not allowed in state "waiting": it is not a state of this machine, whose states are pending, matched, accepted, in_ride, completed, cancelled (no event is allowed in it)',
    );
    expect(rides.allowedEvents('waiting' as State)).toEqual([]);
  });
});

describe('entities', () => {
  it('a transition returns a new object and leaves the one passed in as it was', () => {
    const before = rides.create(data);
    const snapshot = structuredClone(before);
    clock.advance(5000);
    const after = rides.transition(before, 'match');
    expect(after).not.toBe(before);
    expect(before).toEqual(snapshot);
    expect(after.data).toBe(before.data);
    expect(after).toEqual({ state: 'matched', version: 1, enteredAt: before.enteredAt + 5000, data });
    // The same entity can be transitioned twice: two independent results (the store decides which wins).
    const other = rides.transition(before, 'cancel');
    expect(other).toMatchObject({ state: 'cancelled', version: 1 });
    expect(before).toEqual(snapshot);
  });

  it('versions count transitions from wherever the entity is', () => {
    let ride = stored('pending', 41);
    ride = rides.transition(ride, 'match');
    ride = rides.transition(ride, 'accept');
    expect(ride.version).toBe(43);
    expect(rides.create(data).version).toBe(0);
  });

  it('create without data gives undefined data; a machine without types takes any data', () => {
    const lights = defineMachine({
      id: 'light',
      states: ['red', 'green'],
      initial: 'red',
      events: { go: { from: 'red', to: 'green' }, stop: { from: 'green', to: 'red' } },
      clock,
    });
    expect(lights.create()).toEqual({ state: 'red', version: 0, enteredAt: clock.now(), data: undefined });
    // A machine without final states cycles forever.
    let light = lights.create();
    for (let i = 0; i < 10; i++) light = lights.transition(light, light.state === 'red' ? 'go' : 'stop');
    expect(light).toMatchObject({ state: 'red', version: 10 });
    expect(lights.final).toEqual([]);
  });

  it('with the default clock, enteredAt is epoch milliseconds', () => {
    const machine = defineMachine({ id: 'm', states: ['a', 'b'], initial: 'a', final: ['b'], events: { go: { from: 'a', to: 'b' } } });
    const entity = machine.create();
    expect(entity.enteredAt).toBeGreaterThan(1.6e12);
    expect(machine.transition(entity, 'go').enteredAt).toBeGreaterThanOrEqual(entity.enteredAt);
  });
});

describe('guards and updates', () => {
  function guarded(guard: (ride: Entity<string, RideData>, payload: { seats: number; driverId: string }) => boolean | string) {
    const update = vi.fn((d: RideData, p: { seats: number; driverId: string }) => ({ ...d, driverId: p.driverId }));
    const machine = defineMachine({
      id: 'ride',
      states: ['pending', 'matched', 'cancelled'],
      initial: 'pending',
      final: ['cancelled'],
      clock,
      types: {} as { data: RideData },
      events: {
        match: { from: 'pending', to: 'matched', guard, update },
        cancel: { from: ['pending', 'matched'], to: 'cancelled' },
      },
    });
    return { machine, update };
  }
  const offer = { seats: 4, driverId: 'd-9' };

  it('true allows: the update makes the new data from the old data and the payload', () => {
    const guard = vi.fn(() => true);
    const { machine, update } = guarded(guard);
    const ride = machine.create(data);
    const matched = machine.transition(ride, 'match', offer);
    expect(guard).toHaveBeenCalledWith(ride, offer);
    expect(update).toHaveBeenCalledWith(data, offer);
    expect(matched).toMatchObject({ state: 'matched', version: 1, data: { riderId: 'r-1', seats: 1, driverId: 'd-9' } });
    expect(ride.data).toEqual(data);
  });

  it('false refuses with GuardRejectedError and no reason; the update is not called', () => {
    const { machine, update } = guarded(() => false);
    const ride = machine.create(data);
    expect(() => machine.transition(ride, 'match', offer)).toThrow(new GuardRejectedError('ride', 'pending', 'match'));
    expect(() => machine.transition(ride, 'match', offer)).toThrow('ride: the guard of event "match" refused it in state "pending"');
    expect(update).not.toHaveBeenCalled();
    expect(machine.can(ride, 'match', offer)).toBe(false);
  });

  it('a string refuses, and is the reason', () => {
    const { machine } = guarded((ride, p) => (p.seats >= ride.data.seats ? true : `the car has ${p.seats} seats, the ride needs ${ride.data.seats}`));
    const ride = machine.create({ riderId: 'r-3', seats: 3 });
    let thrown: unknown;
    try {
      machine.transition(ride, 'match', { seats: 2, driverId: 'd-1' });
    } catch (error) {
      thrown = error;
    }
    expect(isGuardRejectedError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: 'HITCH_GUARD_REJECTED', machine: 'ride', from: 'pending', event: 'match', reason: 'the car has 2 seats, the ride needs 3' });
    expect((thrown as Error).message).toBe('ride: the guard of event "match" refused it in state "pending": the car has 2 seats, the ride needs 3');
    expect(machine.can(ride, 'match', { seats: 3, driverId: 'd-1' })).toBe(true);
    expect(machine.transition(ride, 'match', { seats: 3, driverId: 'd-1' }).state).toBe('matched');
  });

  it('only `true` allows: any other value a JavaScript guard returns refuses', () => {
    const { machine } = guarded((() => undefined) as never);
    expect(() => machine.transition(machine.create(data), 'match', offer)).toThrow(GuardRejectedError);
  });

  it('an illegal event is refused before its guard runs; a guard that throws propagates', () => {
    const guard = vi.fn(() => true);
    const { machine } = guarded(guard);
    const cancelled = machine.transition(machine.create(data), 'cancel');
    expect(() => machine.transition(cancelled, 'match' as never, offer as never)).toThrow(IllegalTransitionError);
    expect(guard).not.toHaveBeenCalled();
    const { machine: broken } = guarded(() => {
      throw new Error('pricing service down');
    });
    expect(() => broken.transition(broken.create(data), 'match', offer)).toThrow('pricing service down');
  });
});

describe('applyIfVersion', () => {
  it('transitions when the entity is at the expected version', () => {
    const ride = stored('pending', 3);
    expect(rides.applyIfVersion(ride, 3, 'match')).toMatchObject({ state: 'matched', version: 4 });
  });

  it('throws VersionConflictError otherwise, before looking at the event', () => {
    const ride = stored('pending', 4);
    let thrown: unknown;
    try {
      rides.applyIfVersion(ride, 3, 'match');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(VersionConflictError);
    expect(thrown).toMatchObject({ code: 'HITCH_VERSION_CONFLICT', machine: 'ride', expectedVersion: 3, actualVersion: 4 });
    expect((thrown as Error).message).toBe('ride: expected version 3, but the entity is at version 4: it changed since it was read; reload it and retry');
    expect(() => rides.applyIfVersion(stored('completed', 4), 3, 'cancel')).toThrow(VersionConflictError);
    expect(() => rides.applyIfVersion(stored('completed', 4), 4, 'cancel')).toThrow(IllegalTransitionError);
  });
});

describe('errors', () => {
  it.each([
    ['GuardRejectedError', new GuardRejectedError('ride', 'pending', 'match', 'no'), isGuardRejectedError],
    ['VersionConflictError', new VersionConflictError('ride', 1, 2), isVersionConflictError],
    ['IllegalTransitionError', new IllegalTransitionError('ride', 'a', 'b', undefined, ['c']), isIllegalTransitionError],
  ] as const)('%s is a HitchError and only its own guard accepts it', (name, error, guard) => {
    expect(error.name).toBe(name);
    expect(isHitchError(error)).toBe(true);
    expect(guard(error)).toBe(true);
    for (const other of [isGuardRejectedError, isVersionConflictError, isIllegalTransitionError]) if (other !== guard) expect(other(error)).toBe(false);
    expect(guard(new Error('plain'))).toBe(false);
    expect(guard(undefined)).toBe(false);
  });

  it('IllegalTransitionError keeps its four-argument form; allowedEvents is a frozen copy', () => {
    const legacy = new IllegalTransitionError('ride', 'completed', 'cancel', 'the ride is over');
    expect(legacy.message).toBe('ride: event "cancel" is not allowed in state "completed": the ride is over');
    expect(legacy.allowedEvents).toBeUndefined();
    const allowed = ['match'];
    const error = new IllegalTransitionError('ride', 'pending', 'accept', undefined, allowed);
    allowed.push('x');
    expect(error.allowedEvents).toEqual(['match']);
    expect(Object.isFrozen(error.allowedEvents)).toBe(true);
  });
});

describe('toMermaid and toJSON', () => {
  it('draws the ride machine', () => {
    expect(rides.toMermaid()).toBe(
      [
        'stateDiagram-v2',
        '    [*] --> pending',
        '    pending --> matched: match',
        '    pending --> cancelled: cancel',
        '    matched --> accepted: accept',
        '    matched --> cancelled: cancel',
        '    accepted --> in_ride: start',
        '    accepted --> cancelled: cancel',
        '    in_ride --> completed: complete',
        '    in_ride --> cancelled: cancel',
        '    completed --> [*]',
        '    cancelled --> [*]',
        '',
      ].join('\n'),
    );
  });

  it('marks guarded edges', () => {
    const machine = defineMachine({
      id: 'door',
      states: ['closed', 'open'],
      initial: 'closed',
      events: { open: { from: 'closed', to: 'open', guard: () => true }, close: { from: 'open', to: 'closed' } },
    });
    expect(machine.toMermaid()).toBe('stateDiagram-v2\n    [*] --> closed\n    closed --> open: open [guarded]\n    open --> closed: close\n');
  });

  it('toJSON is the definition as data, and JSON.stringify uses it', () => {
    const json = {
      id: 'ride',
      initial: 'pending',
      states: ['pending', 'matched', 'accepted', 'in_ride', 'completed', 'cancelled'],
      final: ['completed', 'cancelled'],
      events: {
        match: { from: ['pending'], to: 'matched', guarded: false, updates: false },
        accept: { from: ['matched'], to: 'accepted', guarded: false, updates: false },
        start: { from: ['accepted'], to: 'in_ride', guarded: false, updates: false },
        complete: { from: ['in_ride'], to: 'completed', guarded: false, updates: false },
        cancel: { from: ['pending', 'matched', 'accepted', 'in_ride'], to: 'cancelled', guarded: false, updates: false },
      },
    };
    expect(rides.toJSON()).toEqual(json);
    expect(JSON.parse(JSON.stringify(rides))).toEqual(json);
    // A copy: changing it does not change the machine.
    (rides.toJSON().states as string[]).push('x');
    expect(rides.states).toHaveLength(6);
  });
});

describe('defineMachine validates the definition', () => {
  const valid = () => ({
    id: 'ride',
    states: ['pending', 'matched', 'done'],
    initial: 'pending',
    final: ['done'],
    events: { match: { from: 'pending', to: 'matched' }, finish: { from: ['pending', 'matched'], to: 'done' } } as Record<string, Record<string, unknown>>,
  });
  const define = (change: (d: ReturnType<typeof valid>) => unknown) => () => {
    const d = valid();
    const changed = change(d) ?? d;
    return defineMachine(changed as never);
  };

  it('accepts the valid base definition', () => {
    expect(define(() => undefined)().states).toEqual(['pending', 'matched', 'done']);
  });

  it.each([
    ['not an object', () => 'ride', 'defineMachine', 'defineMachine: expects a definition object { id, states, initial, events, final }, got "ride"'],
    ['unknown option', (d) => ({ ...d, finals: [] }), 'finals', 'finals: is not an option of defineMachine; the options are id, states, initial, events, final, clock, instrumentation, types'],
    ['bad id', (d) => ({ ...d, id: 'ride order' }), 'id', 'id: the machine id should be a name of letters, digits and _ starting with a letter (at most 100), got "ride order"'],
    ['no states', (d) => ({ ...d, states: [] }), 'states', 'states: should be a non-empty array of state names in machine "ride", got an array'],
    ['bad state name', (d) => ({ ...d, states: ['pending', 'in-ride'] }), 'states[1]', 'states[1]: a state should be a name of letters, digits and _ starting with a letter (at most 100), got "in-ride"'],
    ['reserved-looking state name', (d) => ({ ...d, states: ['pending', '__overflow__'] }), 'states[1]', 'got "__overflow__"'],
    ['duplicate state', (d) => ({ ...d, states: ['pending', 'matched', 'pending', 'done'] }), 'states[2]', 'states[2]: duplicate state "pending" in machine "ride": list each state once'],
    ['unknown initial', (d) => ({ ...d, initial: 'waiting' }), 'initial', 'initial: unknown state "waiting" in machine "ride"; its states are pending, matched, done'],
    ['final initial', (d) => ({ ...d, final: ['done', 'pending'] }), 'initial', 'initial: "pending" is a final state in machine "ride": an entity created in it could never change'],
    ['unknown final', (d) => ({ ...d, final: ['finished'] }), 'final[0]', 'final[0]: unknown state "finished" in machine "ride"'],
    ['duplicate final', (d) => ({ ...d, final: ['done', 'done'] }), 'final[1]', 'final[1]: duplicate final state "done"'],
    ['final not an array', (d) => ({ ...d, final: 'done' }), 'final', 'final: should be an array of state names in machine "ride", got "done"'],
    ['no events', (d) => ({ ...d, events: {} }), 'events', 'events: should be an object of events by name'],
    ['bad event name', (d) => void (d.events['cancel-ride'] = { from: 'pending', to: 'done' }), 'events.cancel-ride', 'events.cancel-ride: an event name should be a name of letters'],
    ['event not an object', (d) => void (d.events.match = 'matched' as never), 'events.match', 'events.match: should be { from, to, guard?, update? } in machine "ride", got "matched"'],
    ['unknown event key', (d) => void (d.events.match = { form: 'pending', from: 'pending', to: 'matched' }), 'events.match.form', 'events.match.form: is not a key of an event in machine "ride"; the keys are from, to, guard, update'],
    ['unknown from', (d) => void (d.events.match = { from: 'pendng', to: 'matched' }), 'events.match.from', 'events.match.from: unknown state "pendng" in machine "ride"; its states are pending, matched, done'],
    ['unknown from in a list', (d) => void (d.events.finish = { from: ['pending', 'mached'], to: 'done' }), 'events.finish.from[1]', 'events.finish.from[1]: unknown state "mached"'],
    ['empty from', (d) => void (d.events.finish = { from: [], to: 'done' }), 'events.finish.from', 'events.finish.from: should name at least one state in machine "ride"'],
    ['duplicate from', (d) => void (d.events.finish = { from: ['pending', 'pending', 'matched'], to: 'done' }), 'events.finish.from[1]', 'duplicate state "pending"'],
    ['unknown to', (d) => void (d.events.match = { from: 'pending', to: 'paired' }), 'events.match.to', 'events.match.to: unknown state "paired" in machine "ride"'],
    ['missing to', (d) => void (d.events.match = { from: 'pending' }), 'events.match.to', 'events.match.to: unknown state undefined'],
    [
      'transition out of a final state',
      (d) => void (d.events.reopen = { from: 'done', to: 'pending' }),
      'events.reopen.from',
      'events.reopen.from: "done" is a final state in machine "ride": no event may leave it (remove it from final, or from this event)',
    ],
    ['guard not a function', (d) => void (d.events.match = { from: 'pending', to: 'matched', guard: true }), 'events.match.guard', 'events.match.guard: should be a function (entity, payload) => boolean | string in machine "ride", got true'],
    ['update not a function', (d) => void (d.events.match = { from: 'pending', to: 'matched', update: {} }), 'events.match.update', 'events.match.update: should be a function (data, payload) => data in machine "ride", got an object'],
    ['unreachable state', (d) => ({ ...d, states: ['pending', 'matched', 'done', 'lost'], final: ['done', 'lost'] }), 'states', 'states: "lost" is unreachable in machine "ride": it is not the initial state and no event enters it'],
    [
      'dead end that is not final',
      (d) => ({ ...d, final: [] }),
      'final',
      'final: "done" has no event out of it in machine "ride": declare it final, or add an event whose from includes it',
    ],
    ['clock without now', (d) => ({ ...d, clock: {} }), 'clock', 'clock: should be a Clock ({ now(), setTimeout(), clearTimeout() }) in machine "ride"'],
    ['bad instrumentation', (d) => ({ ...d, instrumentation: { edge() {} } }), 'instrumentation', 'instrumentation: should be an FsmInstrumentation ({ machine(description) }) in machine "ride"'],
  ] as Array<[string, (d: ReturnType<typeof valid>) => unknown, string, string]>)('%s', (_name, change, option, message) => {
    let thrown: unknown;
    try {
      define(change)();
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: 'HITCH_INVALID_OPTION', option });
    expect((thrown as Error).message).toContain(message);
  });
});
