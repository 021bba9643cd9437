import type { Clock } from '../clock/clock.js';

/**
 * An entity in one state of a machine: what `create` and `transition` return. Plain data, so it
 * can be stored and sent as is; Hitch never mutates one (every transition returns a new object).
 *
 * For a union of states it is a union of objects (one per state), so a check of `entity.state`
 * narrows it, and then `transition` accepts only the events allowed in the narrowed states.
 */
export type Entity<S extends string = string, D = unknown> = S extends string ? EntityIn<S, D> : never;

/** An entity in exactly the states `S` (no distribution over a union): see {@link Entity}. */
export interface EntityIn<S extends string, D> {
  /** The state the entity is in. */
  readonly state: S;
  /** 0 when created, +1 per transition: the version for optimistic concurrency (`applyIfVersion`). */
  readonly version: number;
  /** When the entity entered its state, in clock milliseconds since the Unix epoch. */
  readonly enteredAt: number;
  /** The application's data, carried from one state to the next (or replaced by an event's `update`). */
  readonly data: D;
}

/**
 * One event: the states it leaves (`from`), the state it enters (`to`), and optionally a guard
 * and an update of the entity's data. `guard` and `update` are method signatures so that an
 * annotated payload parameter (`guard: (ride, p: { seats: number }) => ...`) is accepted and
 * becomes the event's payload type.
 */
export interface EventDefinition<S extends string = string, D = unknown> {
  /** The state, or the states, the event may leave. */
  readonly from: S | readonly S[];
  /** The state the event enters. */
  readonly to: S;
  /**
   * Decides whether the transition may happen: `true` allows it, `false` refuses it, a string
   * refuses it and is the reason (in `GuardRejectedError.reason`). Called with the entity before
   * the transition and the payload given to `transition`. Must not have side effects: `can()`
   * calls it too. Defaults to none (always allowed).
   */
  guard?(entity: Entity<S, D>, payload: unknown): boolean | string;
  /**
   * The data of the new entity, from the data of the old one and the payload (return a new
   * object; do not mutate `data`). Called after the guard allowed the transition. Defaults to
   * none: the new entity carries the same `data`.
   */
  update?(data: D, payload: unknown): D;
}

/** Events by name. */
export type EventDefinitions<S extends string = string, D = unknown> = Readonly<Record<string, EventDefinition<S, D>>>;

/** What `defineMachine` takes. */
export interface MachineDefinition<S extends string, E extends EventDefinitions<S, D>, D> {
  /** Name of the machine in errors, metrics (`machine` label) and span events, e.g. `ride`. */
  readonly id: string;
  /** Every state, in the order diagrams and `toJSON()` list them. Names are identifiers: letters, digits and `_`. */
  readonly states: readonly S[];
  /** The state `create()` puts an entity in. */
  readonly initial: NoInfer<S>;
  /** Events by name (letters, digits and `_`), each `{ from, to, guard?, update? }`. */
  readonly events: E;
  /** States no event leaves. Every other state must have an event out of it. Defaults to none. */
  readonly final?: readonly NoInfer<S>[];
  /**
   * Source of `enteredAt` (and of the time in state). Defaults to `systemClock`, read coarsely:
   * at most every 10 ms while transitions happen (one clock read costs as much as the rest of a
   * transition), never older than the event loop has been blocked.
   * `hitch.fsm.defineMachine` passes the instance's clock.
   */
  readonly clock?: Clock;
  /** Where transitions are reported. Defaults to none (`hitch.fsm.defineMachine` passes the instance's). */
  readonly instrumentation?: FsmInstrumentation;
  /**
   * Type carrier, never read at run time: `types: {} as { data: RideData }` sets the type of
   * `entity.data`. Defaults to `undefined` data.
   */
  readonly types?: { readonly data?: D };
}

/**
 * What machines report. The fsm code never imports metrics or tracing: `createHitch` passes an
 * implementation (`hitch.fsm.defineMachine`) that turns these calls into metrics and span events.
 */
export interface FsmInstrumentation {
  /** Called once per machine, when it is defined, with its states and events. */
  machine(description: MachineDescription): MachineInstrumentation;
}

/** The states and events of a machine, for its instrumentation's label allow-lists. */
export interface MachineDescription {
  readonly id: string;
  readonly states: readonly string[];
  readonly events: readonly string[];
}

/** One machine's reporting. Every method is called synchronously in the caller's context. */
export interface MachineInstrumentation {
  /**
   * Called once per (from, event) pair of the definition, when the machine is defined; the
   * returned recorder is called on every transition along that edge (the hot path: bind what
   * can be bound here).
   */
  edge(from: string, event: string, to: string): TransitionRecorder;
  /** An event was refused because the state allows no such transition. `state` and `event` are the caller's and may be outside the definition. */
  illegal(state: string, event: string): void;
  /** An event was refused by its guard. */
  guardRejected(state: string, event: string, reason: string | undefined): void;
}

/**
 * Records the transitions along one edge. Gets both entities rather than numbers: a number
 * passed to a call that is not inlined is boxed, and the hot path allocates nothing but the new
 * entity. The time in the state left is `entered.enteredAt - left.enteredAt` (negative when the
 * entity was created by a process whose clock is ahead).
 */
export interface TransitionRecorder {
  transitioned(left: EntityIn<string, unknown>, entered: EntityIn<string, unknown>): void;
}

/** `machine.toJSON()`: the definition as data, for persistence and documentation. */
export interface MachineJSON<S extends string = string, K extends string = string> {
  readonly id: string;
  readonly initial: S;
  readonly states: readonly S[];
  readonly final: readonly S[];
  /** Events in definition order; `from` is always a list. */
  readonly events: { readonly [Name in K]: { readonly from: readonly S[]; readonly to: S; readonly guarded: boolean; readonly updates: boolean } };
}

/** Names of the events of an events object. */
export type EventName<E> = keyof E & string;

/** The states an event may leave. */
export type FromOf<Ev> = Ev extends { readonly from: infer F } ? (F extends readonly (infer X)[] ? X : F) : never;

/** The state an event enters. */
export type ToOf<Ev> = Ev extends { readonly to: infer T } ? T : never;

/**
 * The payload an event takes: the second parameter of its guard, else of its update; `undefined`
 * when it has neither (nothing would read a payload).
 */
export type PayloadOf<Ev> = Ev extends { guard(entity: never, payload: infer P): unknown }
  ? P
  : Ev extends { update(data: never, payload: infer P): unknown }
    ? P
    : undefined;

/** The events allowed in at least one of the states `X`. */
export type EventsFrom<E, X extends string> = {
  [K in EventName<E>]: [Extract<FromOf<E[K]>, X>] extends [never] ? never : K;
}[EventName<E>];

/**
 * The payload argument of an event: optional when the payload type accepts `undefined`. For
 * `never` (no event is allowed) it is optional too, so the compiler reports the event, not the
 * number of arguments.
 */
export type PayloadArgs<P> = [P] extends [never] ? [payload?: undefined] : undefined extends P ? [payload?: P] : [payload: P];
