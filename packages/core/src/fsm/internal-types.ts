import type { TransitionRecorder } from './types.js';

/** A guard or an update as the machine calls them: the public types are checked at definition. */
export type AnyGuard = (entity: unknown, payload: unknown) => boolean | string;
export type AnyUpdate = (data: unknown, payload: unknown) => unknown;

/** One event as validated: `from` always a list. */
export interface NormalizedEvent {
  readonly name: string;
  readonly from: readonly string[];
  readonly to: string;
  readonly guard: AnyGuard | undefined;
  readonly update: AnyUpdate | undefined;
}

/** A definition after validation: every name checked, events in definition order. */
export interface NormalizedDefinition {
  readonly id: string;
  readonly states: readonly string[];
  readonly initial: string;
  readonly final: readonly string[];
  readonly events: readonly NormalizedEvent[];
}

/**
 * One (from, event) pair of the lookup table, built once at definition. Every edge has the same
 * shape, so the transition code sees one hidden class.
 */
export class Edge {
  constructor(
    readonly from: string,
    readonly event: string,
    readonly to: string,
    readonly guard: AnyGuard | undefined,
    readonly update: AnyUpdate | undefined,
    readonly recorder: TransitionRecorder | undefined,
  ) {}
}
