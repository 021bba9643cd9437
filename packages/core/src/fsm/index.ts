// @hitch/core/fsm: typed state machines defined as data, with versioned immutable entities.
export { defineMachine } from './define-machine.js';
export { Machine } from './machine.js';
export type { EntityOf, EventOf, StateOf } from './machine.js';
export type {
  Entity,
  EntityIn,
  EventDefinition,
  EventDefinitions,
  EventName,
  EventsFrom,
  FromOf,
  FsmInstrumentation,
  MachineDefinition,
  MachineDescription,
  MachineInstrumentation,
  MachineJSON,
  PayloadArgs,
  PayloadOf,
  ToOf,
  TransitionRecorder,
} from './types.js';
export { IllegalTransitionError, isIllegalTransitionError } from '../errors/domain-errors.js';
export { GuardRejectedError, VersionConflictError, isGuardRejectedError, isVersionConflictError } from '../errors/fsm-errors.js';
export { systemClock } from '../clock/clock.js';
export type { Clock, TimerHandle } from '../clock/clock.js';
