import { describe, expect, expectTypeOf, it } from 'vitest';
import { createHitch, defineMachine } from '../src/index.js';
import type { Entity, EntityOf, EventOf, MachineJSON, StateOf } from '../src/index.js';
import { defineMachine as defineFromSubpath } from '../src/fsm/index.js';
import { FakeClock } from './support/fake-clock.js';

// State and event names are inferred from the definition: a typo, an unknown event, or an event
// its state does not allow (where the state is known) does not compile. `tsc -p tsconfig.json`
// checks this file; every @ts-expect-error fails the typecheck if it stops being an error.

interface RideData {
  readonly riderId: string;
  readonly seats: number;
  readonly driverId?: string;
}
interface Offer {
  readonly driverId: string;
  readonly seats: number;
}

const rides = defineMachine({
  id: 'ride',
  states: ['pending', 'matched', 'accepted', 'in_ride', 'completed', 'cancelled'],
  initial: 'pending',
  final: ['completed', 'cancelled'],
  clock: new FakeClock(),
  types: {} as { data: RideData },
  events: {
    // The guard's payload annotation is the event's payload type; `ride` is typed from the definition.
    match: {
      from: 'pending',
      to: 'matched',
      guard: (ride, offer: Offer) => offer.seats >= ride.data.seats || 'not enough seats',
      update: (data, offer: Offer) => ({ ...data, driverId: offer.driverId }),
    },
    accept: { from: 'matched', to: 'accepted' },
    start: { from: 'accepted', to: 'in_ride', guard: (ride) => ride.data.driverId !== undefined },
    complete: { from: 'in_ride', to: 'completed' },
    cancel: { from: ['pending', 'matched', 'accepted', 'in_ride'], to: 'cancelled' },
  },
});
type State = 'pending' | 'matched' | 'accepted' | 'in_ride' | 'completed' | 'cancelled';
type Event = 'match' | 'accept' | 'start' | 'complete' | 'cancel';

describe('inferred types', () => {
  it('states, events, entities and the machine type', () => {
    expectTypeOf<StateOf<typeof rides>>().toEqualTypeOf<State>();
    expectTypeOf<EventOf<typeof rides>>().toEqualTypeOf<Event>();
    expectTypeOf<EntityOf<typeof rides>>().toEqualTypeOf<Entity<State, RideData>>();
    expectTypeOf(rides.states).toEqualTypeOf<readonly State[]>();
    expectTypeOf(rides.events).toEqualTypeOf<readonly Event[]>();
    expectTypeOf(rides.toJSON()).toEqualTypeOf<MachineJSON<State, Event>>();

    const ride = rides.create({ riderId: 'r', seats: 2 });
    expectTypeOf(ride).toEqualTypeOf<Entity<State, RideData>>();
    expectTypeOf(ride.data).toEqualTypeOf<RideData>();
    expectTypeOf(ride.version).toEqualTypeOf<number>();
    // @ts-expect-error the data is RideData
    rides.create({ riderId: 'r' });
    // @ts-expect-error a machine with data needs it
    rides.create();
  });

  it('transition returns the entity in the target state, with the event payload typed', () => {
    const ride = rides.create({ riderId: 'r', seats: 2 });
    const matched = rides.transition(ride, 'match', { driverId: 'd', seats: 4 });
    expectTypeOf(matched).toEqualTypeOf<Entity<'matched', RideData>>();
    expectTypeOf(rides.transition(matched, 'cancel')).toEqualTypeOf<Entity<'cancelled', RideData>>();
    expect(matched.state).toBe('matched');

    // @ts-expect-error the payload of match is required
    expect(() => rides.transition(ride, 'match')).toThrow();
    // @ts-expect-error the payload of match is an Offer
    expect(() => rides.transition(ride, 'match', { driverId: 'd' })).toThrow();
    // @ts-expect-error accept takes no payload (no guard or update reads one)
    rides.transition(matched, 'accept', { at: 1 });
    // A guard that ignores its payload makes the payload optional and unknown.
    const accepted = rides.transition(matched, 'accept');
    expectTypeOf(rides.transition(accepted, 'start')).toEqualTypeOf<Entity<'in_ride', RideData>>();
    expectTypeOf(rides.transition(accepted, 'start', 'anything')).toEqualTypeOf<Entity<'in_ride', RideData>>();
  });

  it('an unknown event does not compile', () => {
    const ride = rides.create({ riderId: 'r', seats: 2 });
    // @ts-expect-error no such event
    expect(() => rides.transition(ride, 'teleport')).toThrow();
    // @ts-expect-error no such event
    rides.can(ride, 'teleport');
    // @ts-expect-error no such event
    expect(() => rides.applyIfVersion(ride, 0, 'teleport')).toThrow();
  });

  it('an event the known state does not allow does not compile', () => {
    const ride = rides.create({ riderId: 'r', seats: 2 });
    const matched = rides.transition(ride, 'match', { driverId: 'd', seats: 4 });
    // @ts-expect-error matched allows accept and cancel, not match
    expect(() => rides.transition(matched, 'match', { driverId: 'd', seats: 4 })).toThrow();
    const completed = rides.transition(rides.transition(rides.transition(matched, 'accept'), 'start'), 'complete');
    // @ts-expect-error completed is final
    expect(() => rides.transition(completed, 'cancel')).toThrow();
    // Narrowing on the state narrows what is allowed.
    const stored = ride as Entity<State, RideData>;
    if (stored.state === 'completed' || stored.state === 'cancelled') {
      // @ts-expect-error a final state allows nothing
      rides.transition(stored, 'cancel');
    }
    if (stored.state === 'in_ride') {
      expectTypeOf(rides.transition(stored, 'complete')).toEqualTypeOf<Entity<'completed', RideData>>();
      // @ts-expect-error in_ride allows complete and cancel
      rides.transition(stored, 'accept');
    }
    expectTypeOf(rides.allowedEvents('pending')).toEqualTypeOf<readonly ('match' | 'cancel')[]>();
    expectTypeOf(rides.allowedEvents('completed')).toEqualTypeOf<readonly never[]>();
  });

  it('an unknown state does not compile anywhere in a definition', () => {
    const clock = new FakeClock();
    const events = { go: { from: 'a', to: 'b' } } as const;
    expect(() =>
      defineMachine({
        id: 'x',
        states: ['a', 'b'],
        // @ts-expect-error unknown initial state
        initial: 'c',
        final: ['b'],
        events,
        clock,
      }),
    ).toThrow();
    expect(() =>
      // @ts-expect-error unknown final state
      defineMachine({ id: 'x', states: ['a', 'b'], initial: 'a', final: ['z'], events, clock }),
    ).toThrow();
    expect(() =>
      defineMachine({
        id: 'x',
        states: ['a', 'b'],
        initial: 'a',
        final: ['b'],
        // @ts-expect-error unknown target state
        events: { go: { from: 'a', to: 'z' } },
        clock,
      }),
    ).toThrow();
    expect(() =>
      defineMachine({
        id: 'x',
        states: ['a', 'b'],
        initial: 'a',
        final: ['b'],
        // @ts-expect-error unknown source state in a list
        events: { go: { from: ['a', 'q'], to: 'b' } },
        clock,
      }),
    ).toThrow();
    // @ts-expect-error unknown state
    expect(rides.allowedEvents('flying')).toEqual([]);
    // @ts-expect-error unknown state
    rides.isFinal('flying');
  });

  it('hitch.fsm.defineMachine and the subpath infer the same types', async () => {
    const hitch = createHitch({ service: { name: 'types' }, metrics: { runtimeMetrics: false }, tracing: { exporter: 'none' }, logging: { level: 'silent' } });
    try {
      const definition = {
        id: 'door',
        states: ['closed', 'open'],
        initial: 'closed',
        events: { open: { from: 'closed', to: 'open' }, close: { from: 'open', to: 'closed' } },
      } as const;
      const doors = hitch.fsm.defineMachine(definition);
      const alone = defineFromSubpath(definition);
      expectTypeOf<StateOf<typeof doors>>().toEqualTypeOf<'closed' | 'open'>();
      expectTypeOf<EventOf<typeof alone>>().toEqualTypeOf<'open' | 'close'>();
      expect(alone.toJSON()).toEqual(doors.toJSON());
      const door = doors.create();
      expectTypeOf(door.data).toEqualTypeOf<undefined>();
      // @ts-expect-error no such event
      expect(() => doors.transition(door, 'lock')).toThrow();
      expect(doors.transition(door, 'open').state).toBe('open');
    } finally {
      await hitch.shutdown();
    }
  });
});
