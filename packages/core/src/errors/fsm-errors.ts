import { ErrorCode, HitchError } from './hitch-error.js';

// Errors of `@hitch/core/fsm` beside IllegalTransitionError (domain-errors.ts), which request
// handlers throw too. Like it, both say the request cannot apply to the entity as it is now.

/** A transition exists for the entity's state, but its guard refused it. */
export class GuardRejectedError extends HitchError {
  readonly code = ErrorCode.GuardRejected;
  readonly isGuardRejectedError = true;
  /** Name of the state machine, e.g. `ride`. */
  readonly machine: string;
  /** The state the entity was in. */
  readonly from: string;
  /** The event whose guard refused. */
  readonly event: string;
  /** What the guard said (a guard refuses with `false`, or with a string: the reason). Undefined for `false`. */
  readonly reason: string | undefined;

  constructor(machine: string, from: string, event: string, reason?: string) {
    super(`${machine}: the guard of event "${event}" refused it in state "${from}"${reason !== undefined ? `: ${reason}` : ''}`);
    this.machine = machine;
    this.from = from;
    this.event = event;
    this.reason = reason;
  }
}

export function isGuardRejectedError(error: unknown): error is GuardRejectedError {
  return typeof error === 'object' && error !== null && (error as { isGuardRejectedError?: unknown }).isGuardRejectedError === true;
}

/**
 * The entity is not at the version the caller read (optimistic concurrency): someone else changed
 * it in between. Reload it and decide again.
 */
export class VersionConflictError extends HitchError {
  readonly code = ErrorCode.VersionConflict;
  readonly isVersionConflictError = true;
  /** Name of the state machine, e.g. `ride`. */
  readonly machine: string;
  /** The version the caller expected. */
  readonly expectedVersion: number;
  /** The version the entity is at. */
  readonly actualVersion: number;

  constructor(machine: string, expectedVersion: number, actualVersion: number) {
    super(`${machine}: expected version ${expectedVersion}, but the entity is at version ${actualVersion}: it changed since it was read; reload it and retry`);
    this.machine = machine;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

export function isVersionConflictError(error: unknown): error is VersionConflictError {
  return typeof error === 'object' && error !== null && (error as { isVersionConflictError?: unknown }).isVersionConflictError === true;
}
