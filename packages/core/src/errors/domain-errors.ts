import { ErrorCode, HitchError } from './hitch-error.js';

// Errors application code throws from request handlers. The HTTP and gRPC adapters map each
// code to a status in one table (@hitch/express: 400 / 404 / 409; @hitch/grpc: INVALID_ARGUMENT /
// NOT_FOUND / FAILED_PRECONDITION), so a handler says what went wrong, not how to answer it.

/** One invalid field of a request: where it is and what is wrong with it. */
export interface ValidationIssue {
  /** Path of the field, e.g. `pickup.lat`; `''` for the whole input. */
  readonly path: string;
  readonly message: string;
}

/** The caller sent invalid input (HTTP 400, gRPC INVALID_ARGUMENT). */
export class ValidationError extends HitchError {
  readonly code = ErrorCode.Validation;
  readonly isValidationError = true;
  /** Every problem found, for the response body; at least one. */
  readonly issues: readonly ValidationIssue[];

  /**
   * @param message shown to the caller: say what is wrong and what is expected.
   * @param issues the fields at fault; defaults to one issue with `path: ''` and `message`.
   */
  constructor(message: string, issues?: readonly ValidationIssue[]) {
    super(message);
    this.issues = issues !== undefined && issues.length > 0 ? issues : [{ path: '', message }];
  }
}

export function isValidationError(error: unknown): error is ValidationError {
  return typeof error === 'object' && error !== null && (error as { isValidationError?: unknown }).isValidationError === true;
}

/** The thing a request names does not exist (HTTP 404, gRPC NOT_FOUND). */
export class NotFoundError extends HitchError {
  readonly code = ErrorCode.NotFound;
  readonly isNotFoundError = true;
  /** What kind of thing was looked up, e.g. `ride`. */
  readonly resource: string;
  /** The id that was looked up. */
  readonly id: string;

  constructor(resource: string, id: string | number | bigint) {
    super(`${resource} ${String(id)} was not found`);
    this.resource = resource;
    this.id = String(id);
  }
}

export function isNotFoundError(error: unknown): error is NotFoundError {
  return typeof error === 'object' && error !== null && (error as { isNotFoundError?: unknown }).isNotFoundError === true;
}

/** An event is not allowed in the entity's current state (HTTP 409, gRPC FAILED_PRECONDITION). */
export class IllegalTransitionError extends HitchError {
  readonly code = ErrorCode.IllegalTransition;
  readonly isIllegalTransitionError = true;
  /** Name of the state machine, e.g. `ride`. */
  readonly machine: string;
  /** The state the entity was in. */
  readonly from: string;
  /** The event that was refused. */
  readonly event: string;
  /**
   * The events the entity's state does allow, when the thrower knows them (`@hitch/core/fsm`
   * always passes them; empty in a final state). Undefined otherwise.
   */
  readonly allowedEvents: readonly string[] | undefined;

  /**
   * @param detail appended to the message, e.g. why the event makes no sense now.
   * @param allowedEvents the events allowed in `from`; the message lists them.
   */
  constructor(machine: string, from: string, event: string, detail?: string, allowedEvents?: readonly string[]) {
    super(
      `${machine}: event "${event}" is not allowed in state "${from}"${detail !== undefined ? `: ${detail}` : ''}` +
        (allowedEvents === undefined ? '' : allowedEvents.length === 0 ? ' (no event is allowed in it)' : ` (allowed: ${allowedEvents.join(', ')})`),
    );
    this.machine = machine;
    this.from = from;
    this.event = event;
    this.allowedEvents = allowedEvents === undefined ? undefined : Object.freeze([...allowedEvents]);
  }
}

export function isIllegalTransitionError(error: unknown): error is IllegalTransitionError {
  return typeof error === 'object' && error !== null && (error as { isIllegalTransitionError?: unknown }).isIllegalTransitionError === true;
}
