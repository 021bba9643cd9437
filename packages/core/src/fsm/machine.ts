import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { systemCoarseTime } from '../clock/coarse-time.js';
import { IllegalTransitionError } from '../errors/domain-errors.js';
import { GuardRejectedError, VersionConflictError } from '../errors/fsm-errors.js';
import { Edge } from './internal-types.js';
import type { NormalizedDefinition } from './internal-types.js';
import { renderMermaid } from './mermaid.js';
import type {
  Entity,
  EventDefinitions,
  EventName,
  EventsFrom,
  FsmInstrumentation,
  MachineInstrumentation,
  MachineJSON,
  PayloadArgs,
  PayloadOf,
  ToOf,
} from './types.js';

/** Entity as the implementation handles it: the public signatures are the typed overloads. */
type AnyEntity = Entity<string, unknown>;

const NO_EVENTS: readonly string[] = Object.freeze([]);

/**
 * Hands out `enteredAt` readings: the same number, not just an equal one, while the clock reading
 * does not change (with the coarse system clock, for up to 10 ms of transitions).
 *
 * Why: V8 stores a field that has only ever held non-integer numbers as a number box owned by the
 * object, a second allocation of 16 bytes per entity. A field that has held anything else holds a
 * pointer, and entities can then share one box. `Machine.shapeSeed` makes `enteredAt` such a field.
 * Without either, entities only cost 16 bytes more: nothing depends on it but memory.
 */
class Timestamps {
  private raw = Number.NaN;
  private shared: number | undefined = undefined;

  constructor(private readonly time: { now(): number }) {}

  now(): number {
    const raw = this.time.now();
    if (raw !== this.raw) {
      this.raw = raw;
      this.shared = raw;
    }
    return this.shared as number;
  }
}

/**
 * A state machine defined once as data (see `defineMachine`). Holds no entity: entities are
 * plain objects the application stores where it likes, and every method takes one.
 *
 * Type parameters: `S` the states, `E` the events object as written, `D` the entity data.
 */
export class Machine<S extends string, E extends EventDefinitions<S, D>, D> {
  /** An entity-shaped object whose `enteredAt` is not a number, created before any entity: see {@link Timestamps}. */
  private static readonly shapeSeed: unknown = { state: '', version: 0, enteredAt: undefined, data: undefined };

  /** The machine's name (`machine` label, errors, span events). */
  readonly id: string;
  /** Every state, in definition order. */
  readonly states: readonly S[];
  /** The state `create()` uses. */
  readonly initial: S;
  /** The final states: no event leaves them. */
  readonly final: readonly S[];
  /** Every event name, in definition order. */
  readonly events: readonly EventName<E>[];

  private readonly definition: NormalizedDefinition;
  /**
   * state -> event -> edge, built once: a transition is two property loads. Plain objects without
   * a prototype (so no `toString` or `__proto__` is ever found in them), filled before the
   * prototype is dropped so that V8 keeps them in its fast mode, where a load by a name it has seen
   * is a cache hit; `Object.create(null)` would make hash tables.
   */
  private readonly table: Readonly<Record<string, Readonly<Record<string, Edge | undefined>> | undefined>>;
  private readonly allowed: ReadonlyMap<string, readonly string[]>;
  private readonly time: Timestamps;
  private readonly instrumentation: MachineInstrumentation | undefined;

  /** @internal Use `defineMachine`, which validates the definition first. */
  constructor(definition: NormalizedDefinition, clock: Clock | undefined, instrumentation: FsmInstrumentation | undefined) {
    this.definition = definition;
    this.id = definition.id;
    this.states = Object.freeze([...definition.states]) as readonly S[];
    this.initial = definition.initial as S;
    this.final = Object.freeze([...definition.final]) as readonly S[];
    this.events = Object.freeze(definition.events.map((e) => e.name)) as readonly EventName<E>[];
    // A clock read costs as much as the rest of a transition: the system clock is read coarsely
    // (see CoarseTime); an injected clock (tests) exactly.
    this.time = new Timestamps(clock === undefined || clock === systemClock ? systemCoarseTime() : clock);
    this.instrumentation = instrumentation?.machine({ id: this.id, states: this.states, events: this.events });

    const table: Record<string, Record<string, Edge>> = {};
    const allowed = new Map<string, readonly string[]>();
    for (const state of definition.states) {
      const row: Record<string, Edge> = {};
      for (const event of definition.events) {
        if (!event.from.includes(state)) continue;
        row[event.name] = new Edge(state, event.name, event.to, event.guard, event.update, this.instrumentation?.edge(state, event.name, event.to));
      }
      const names = Object.keys(row);
      table[state] = Object.setPrototypeOf(row, null) as Record<string, Edge>;
      allowed.set(state, names.length === 0 ? NO_EVENTS : Object.freeze(names));
    }
    this.table = Object.setPrototypeOf(table, null) as typeof table;
    this.allowed = allowed;
  }

  /**
   * A new entity in the initial state: `{ state: initial, version: 0, enteredAt: now, data }`.
   */
  create(...data: PayloadArgs<D>): Entity<S, D>;
  create(data?: unknown): AnyEntity {
    return { state: this.definition.initial, version: 0, enteredAt: this.time.now(), data };
  }

  /**
   * The entity after `event`: a new object `{ state: to, version: version + 1, enteredAt: now,
   * data }` (`data` from the event's `update`, else the same). The entity passed in is not
   * changed. Throws `IllegalTransitionError` when the entity's state has no such event (with the
   * events it does allow), `GuardRejectedError` when the event's guard refuses. Never ignores an
   * event silently.
   *
   * Typed: `event` must be an event of the machine allowed in at least one of the states the
   * entity's type admits (after `if (ride.state === 'completed')`, none), and the payload is the
   * one the event's guard or update declares.
   */
  transition<Ent extends Entity<S, D>, K extends EventsFrom<E, Ent['state']>>(
    entity: Ent,
    event: K,
    ...payload: PayloadArgs<PayloadOf<E[K]>>
  ): Entity<ToOf<E[K]> & string, D>;
  transition(entity: AnyEntity, event: string, payload?: unknown): AnyEntity {
    const row = this.table[entity.state];
    const edge = row === undefined ? undefined : row[event];
    if (edge === undefined) throw this.illegal(entity.state, event);
    if (edge.guard !== undefined) {
      const verdict = edge.guard(entity, payload);
      if (verdict !== true) throw this.rejected(edge, typeof verdict === 'string' ? verdict : undefined);
    }
    const now = this.time.now();
    const next = {
      state: edge.to,
      version: entity.version + 1,
      enteredAt: now,
      data: edge.update === undefined ? entity.data : edge.update(entity.data, payload),
    };
    if (edge.recorder !== undefined) edge.recorder.transitioned(entity, next);
    return next;
  }

  /**
   * `transition`, if the entity is still at `expectedVersion` (the version the caller read, e.g.
   * from an `If-Match` header); otherwise throws `VersionConflictError` and changes nothing.
   * The check is against the entity passed in: compare-and-set in the store is the caller's.
   */
  applyIfVersion<Ent extends Entity<S, D>, K extends EventsFrom<E, Ent['state']>>(
    entity: Ent,
    expectedVersion: number,
    event: K,
    ...payload: PayloadArgs<PayloadOf<E[K]>>
  ): Entity<ToOf<E[K]> & string, D>;
  applyIfVersion(entity: AnyEntity, expectedVersion: number, event: string, payload?: unknown): AnyEntity {
    if (entity.version !== expectedVersion) throw new VersionConflictError(this.id, expectedVersion, entity.version);
    return (this as unknown as Machine<string, EventDefinitions, unknown>).transition(entity, event, payload as never);
  }

  /**
   * Whether `transition(entity, event, payload)` would succeed now: the state allows the event
   * and its guard (called with the payload) allows it. Reports nothing.
   */
  can<K extends EventName<E>>(entity: Entity<S, D>, event: K, ...payload: PayloadArgs<PayloadOf<E[K]>>): boolean;
  can(entity: AnyEntity, event: string, payload?: unknown): boolean {
    const row = this.table[entity.state];
    const edge = row === undefined ? undefined : row[event];
    if (edge === undefined) return false;
    return edge.guard === undefined || edge.guard(entity, payload) === true;
  }

  /** The events the state allows, guards aside, in definition order; empty for a final (or unknown) state. */
  allowedEvents<X extends S>(state: X): readonly EventsFrom<E, X>[];
  allowedEvents(state: string): readonly string[] {
    return this.allowed.get(state) ?? NO_EVENTS;
  }

  /** Whether no event leaves `state`. */
  isFinal(state: S): boolean {
    return this.definition.final.includes(state);
  }

  /** The definition as data (`from` always a list, guards and updates as flags), for persistence and documentation. */
  toJSON(): MachineJSON<S, EventName<E>> {
    const { id, initial, states, final } = this.definition;
    const events: Record<string, MachineJSON['events'][string]> = {};
    for (const e of this.definition.events) events[e.name] = { from: [...e.from], to: e.to, guarded: e.guard !== undefined, updates: e.update !== undefined };
    return { id, initial, states: [...states], final: [...final], events } as unknown as MachineJSON<S, EventName<E>>;
  }

  /** The machine as a Mermaid `stateDiagram-v2`: `[*] --> initial`, an edge per (from, event) labelled by the event, `final --> [*]`. */
  toMermaid(): string {
    return renderMermaid(this.toJSON());
  }

  private illegal(state: string, event: string): IllegalTransitionError {
    this.instrumentation?.illegal(state, event);
    const allowed = this.allowed.get(state);
    let detail: string | undefined;
    if (allowed === undefined) detail = `it is not a state of this machine, whose states are ${this.definition.states.join(', ')}`;
    else if (!(this.events as readonly string[]).includes(event)) detail = `"${event}" is not an event of this machine`;
    return new IllegalTransitionError(this.id, state, event, detail, allowed ?? NO_EVENTS);
  }

  private rejected(edge: Edge, reason: string | undefined): GuardRejectedError {
    this.instrumentation?.guardRejected(edge.from, edge.event, reason);
    return new GuardRejectedError(this.id, edge.from, edge.event, reason);
  }
}

/** The entity type of a machine: `type Ride = EntityOf<typeof rides>`. */
export type EntityOf<M> = M extends Machine<infer S, infer _E, infer D> ? Entity<S, D> : never;
/** The state names of a machine. */
export type StateOf<M> = M extends Machine<infer S, infer _E, infer _D> ? S : never;
/** The event names of a machine. */
export type EventOf<M> = M extends Machine<infer _S, infer E, infer _D> ? EventName<E> : never;
