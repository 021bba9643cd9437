import { afterEach, describe, expect, it } from 'vitest';
import type { Hitch } from '../src/index.js';
import { GuardRejectedError, IllegalTransitionError, createHitch, defineMachine } from '../src/index.js';
import type { EntityIn, EntityOf, EventOf, FsmInstrumentation, MachineDescription } from '../src/index.js';
import { samplesOf, valueOf } from './support/exposition.js';
import { FakeClock } from './support/fake-clock.js';

let hitch: Hitch | undefined;
afterEach(async () => {
  await hitch?.shutdown();
  hitch = undefined;
});

function make(): { hitch: Hitch; clock: FakeClock } {
  const clock = new FakeClock();
  hitch = createHitch({
    service: { name: 'fsm' },
    clock,
    tracing: { exporter: 'memory' },
    metrics: { runtimeMetrics: false },
    logging: { level: 'silent' },
  });
  return { hitch, clock };
}

const definition = {
  id: 'ride',
  states: ['pending', 'matched', 'accepted', 'in_ride', 'completed', 'cancelled'],
  initial: 'pending',
  final: ['completed', 'cancelled'],
  events: {
    match: { from: 'pending', to: 'matched' },
    accept: { from: 'matched', to: 'accepted', guard: (_ride: unknown, driverOnline: boolean) => driverOnline || 'the driver went offline' },
    start: { from: 'accepted', to: 'in_ride' },
    complete: { from: 'in_ride', to: 'completed' },
    cancel: { from: ['pending', 'matched', 'accepted', 'in_ride'], to: 'cancelled' },
  },
} as const;

describe('hitch.fsm.defineMachine reports through the instance', () => {
  it('registers nothing until a machine is defined, then binds one series per edge', async () => {
    const { hitch } = make();
    expect((await hitch.metrics.render()).body).not.toContain('hitch_fsm_');
    hitch.fsm.defineMachine(definition);
    const { body } = await hitch.metrics.render();
    const series = samplesOf(body, 'hitch_fsm_transitions_total');
    expect(series.map((s) => `${s.labels.from} -${s.labels.event}-> ${s.labels.to}`).sort()).toEqual(
      [
        'pending -match-> matched',
        'matched -accept-> accepted',
        'accepted -start-> in_ride',
        'in_ride -complete-> completed',
        'pending -cancel-> cancelled',
        'matched -cancel-> cancelled',
        'accepted -cancel-> cancelled',
        'in_ride -cancel-> cancelled',
      ].sort(),
    );
    expect(series.every((s) => s.value === 0 && s.labels.machine === 'ride')).toBe(true);
  });

  it('counts transitions, times states and uses the instance clock', async () => {
    const { hitch, clock } = make();
    const rides = hitch.fsm.defineMachine(definition);
    let ride = rides.create();
    expect(ride.enteredAt).toBe(clock.now());
    clock.advance(30_000); // 30 s pending
    ride = rides.transition(ride, 'match');
    clock.advance(2_000); // 2 s matched
    ride = rides.transition(ride, 'accept', true);
    clock.advance(400_000); // 400 s accepted
    ride = rides.transition(ride, 'cancel');
    expect(ride).toMatchObject({ state: 'cancelled', version: 3, enteredAt: clock.now() });

    const { body } = await hitch.metrics.render();
    const transitions = (from: string, event: string, to: string) => valueOf(body, 'hitch_fsm_transitions_total', { machine: 'ride', from, event, to });
    expect(transitions('pending', 'match', 'matched')).toBe(1);
    expect(transitions('matched', 'accept', 'accepted')).toBe(1);
    expect(transitions('accepted', 'cancel', 'cancelled')).toBe(1);
    expect(transitions('pending', 'cancel', 'cancelled')).toBe(0);

    const time = (state: string, le: string) => valueOf(body, 'hitch_fsm_time_in_state_seconds_bucket', { machine: 'ride', state, le });
    expect(time('pending', '15')).toBe(0);
    expect(time('pending', '30')).toBe(1);
    expect(time('matched', '1')).toBe(0);
    expect(time('matched', '5')).toBe(1);
    expect(time('accepted', '300')).toBe(0);
    expect(time('accepted', '600')).toBe(1);
    expect(valueOf(body, 'hitch_fsm_time_in_state_seconds_sum', { machine: 'ride', state: 'pending' })).toBe(30);
    expect(valueOf(body, 'hitch_fsm_time_in_state_seconds_count', { machine: 'ride', state: 'accepted' })).toBe(1);
    // Nothing has left in_ride yet: its series exists (bound at definition) and is empty.
    expect(valueOf(body, 'hitch_fsm_time_in_state_seconds_count', { machine: 'ride', state: 'in_ride' })).toBe(0);
  });

  it('an entity from a clock ahead of this one spent 0 s in its state, never a negative time', async () => {
    const { hitch, clock } = make();
    const rides = hitch.fsm.defineMachine(definition);
    rides.transition({ state: 'pending', version: 0, enteredAt: clock.now() + 5_000, data: undefined }, 'match');
    const { body } = await hitch.metrics.render();
    expect(valueOf(body, 'hitch_fsm_time_in_state_seconds_sum', { machine: 'ride', state: 'pending' })).toBe(0);
    expect(valueOf(body, 'hitch_fsm_time_in_state_seconds_bucket', { machine: 'ride', state: 'pending', le: '0.1' })).toBe(1);
  });

  it('counts illegal events and guard refusals; names outside the definition fold into one series', async () => {
    const { hitch } = make();
    const rides = hitch.fsm.defineMachine(definition);
    const pending = rides.create();
    expect(() => rides.transition(pending, 'accept' as EventOf<typeof rides>, true)).toThrow(IllegalTransitionError);
    // Event names from requests: a thousand distinct ones stay one series.
    for (let i = 0; i < 1000; i++) expect(() => rides.transition(pending, `event_${i}` as EventOf<typeof rides>)).toThrow(IllegalTransitionError);
    // A stored entity in a state the machine does not have.
    expect(() => rides.transition({ ...pending, state: 'waiting' } as unknown as typeof pending, 'match')).toThrow(IllegalTransitionError);
    const matched = rides.transition(pending, 'match');
    expect(() => rides.transition(matched, 'accept', false)).toThrow(new GuardRejectedError('ride', 'matched', 'accept', 'the driver went offline'));

    const { body } = await hitch.metrics.render();
    const illegal = samplesOf(body, 'hitch_fsm_illegal_transitions_total');
    expect(illegal.map((s) => [s.labels.state, s.labels.event, s.value])).toEqual([
      ['pending', 'accept', 1],
      ['pending', '__overflow__', 1000],
      ['__overflow__', 'match', 1],
    ]);
    expect(valueOf(body, 'hitch_fsm_guard_rejections_total', { machine: 'ride', state: 'matched', event: 'accept' })).toBe(1);
    expect(valueOf(body, 'hitch_fsm_transitions_total', { machine: 'ride', from: 'matched', event: 'accept', to: 'accepted' })).toBe(0);
    // The registry never had to fold anything itself.
    expect(body).not.toMatch(/hitch_metric_label_overflow_total\{[^}]*metric="hitch_fsm/);
  });

  it('adds a span event per transition to the active span, and one per refusal', async () => {
    const { hitch } = make();
    const rides = hitch.fsm.defineMachine(definition);
    hitch.withSpan('PATCH /rides/:id', () => {
      const matched = rides.transition(rides.create(), 'match');
      expect(() => rides.transition(matched, 'accept', false)).toThrow(GuardRejectedError);
      expect(() => rides.transition(matched, 'complete' as never)).toThrow(IllegalTransitionError);
      rides.transition(matched, 'cancel');
    });
    // Outside any span: nothing to add to, nothing fails.
    rides.transition(rides.create(), 'cancel');

    const span = hitch.tracing.finishedSpans().find((s) => s.name === 'PATCH /rides/:id')!;
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
      ['hitch.fsm.transition', { 'hitch.fsm.machine': 'ride', 'hitch.fsm.event': 'match', 'hitch.fsm.from': 'pending', 'hitch.fsm.to': 'matched', 'hitch.fsm.version': 1 }],
      ['hitch.fsm.guard_rejected', { 'hitch.fsm.machine': 'ride', 'hitch.fsm.event': 'accept', 'hitch.fsm.state': 'matched', 'hitch.fsm.reason': 'the driver went offline' }],
      ['hitch.fsm.illegal_transition', { 'hitch.fsm.machine': 'ride', 'hitch.fsm.event': 'complete', 'hitch.fsm.state': 'matched' }],
      ['hitch.fsm.transition', { 'hitch.fsm.machine': 'ride', 'hitch.fsm.event': 'cancel', 'hitch.fsm.from': 'matched', 'hitch.fsm.to': 'cancelled', 'hitch.fsm.version': 2 }],
    ]);
  });

  it('each event goes to the span active at its transition, across nested and successive spans', () => {
    const { hitch } = make();
    const rides = hitch.fsm.defineMachine(definition);
    let ride = rides.create();
    hitch.withSpan('outer', () => {
      ride = rides.transition(ride, 'match');
      hitch.withSpan('inner', () => {
        ride = rides.transition(ride, 'accept', true);
      });
      // The compiler cannot see the assignment inside the callback above: ride is accepted by now.
      ride = rides.transition(ride as EntityOf<typeof rides>, 'start');
    });
    hitch.withSpan('next', () => {
      ride = rides.transition(ride, 'complete');
    });
    const events = (name: string) => hitch.tracing.finishedSpans().find((s) => s.name === name)!.events.map((e) => e.attributes?.['hitch.fsm.event']);
    expect(events('outer')).toEqual(['match', 'start']);
    expect(events('inner')).toEqual(['accept']);
    expect(events('next')).toEqual(['complete']);
  });

  it('options given win over the instance: a clock of its own', () => {
    const { hitch } = make();
    const own = new FakeClock(42_000);
    const rides = hitch.fsm.defineMachine({ ...definition, clock: own });
    expect(rides.create().enteredAt).toBe(42_000);
  });
});

describe('defineMachine({ instrumentation }) without a Hitch instance', () => {
  it('asks for one recorder per (from, event) edge at definition, then reports through them', () => {
    const calls: string[] = [];
    const described: MachineDescription[] = [];
    const instrumentation: FsmInstrumentation = {
      machine(description) {
        described.push(description);
        return {
          edge(from, event, to) {
            calls.push(`edge ${from} -${event}-> ${to}`);
            return {
              transitioned(left: EntityIn<string, unknown>, entered: EntityIn<string, unknown>) {
                calls.push(`${event}: ${left.state}@${left.version} -> ${entered.state}@${entered.version} after ${entered.enteredAt - left.enteredAt} ms`);
              },
            };
          },
          illegal: (state, event) => calls.push(`illegal ${state} ${event}`),
          guardRejected: (state, event, reason) => calls.push(`refused ${state} ${event} ${String(reason)}`),
        };
      },
    };
    const clock = new FakeClock();
    const doors = defineMachine({
      id: 'door',
      states: ['closed', 'open', 'locked'],
      initial: 'closed',
      clock,
      instrumentation,
      events: {
        open: { from: 'closed', to: 'open' },
        close: { from: 'open', to: 'closed' },
        lock: { from: 'closed', to: 'locked', guard: (_door, key: string) => key === 'k' },
        unlock: { from: 'locked', to: 'closed' },
      },
    });
    expect(described).toEqual([{ id: 'door', states: ['closed', 'open', 'locked'], events: ['open', 'close', 'lock', 'unlock'] }]);
    expect(calls.splice(0)).toEqual(['edge closed -open-> open', 'edge closed -lock-> locked', 'edge open -close-> closed', 'edge locked -unlock-> closed']);

    const door = doors.create();
    clock.advance(250);
    const open = doors.transition(door, 'open');
    expect(() => doors.transition(open, 'unlock' as never)).toThrow(IllegalTransitionError);
    expect(() => doors.transition(doors.transition(open, 'close'), 'lock', 'wrong')).toThrow(GuardRejectedError);
    expect(doors.can(door, 'lock', 'wrong')).toBe(false);
    expect(calls).toEqual(['open: closed@0 -> open@1 after 250 ms', 'illegal open unlock', 'close: open@1 -> closed@2 after 0 ms', 'refused closed lock undefined']);
  });
});
