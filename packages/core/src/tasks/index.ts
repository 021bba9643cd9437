// Task runners and context propagation across timers, emitters and threads.
export { createTaskRunner } from './task-runner.js';
export type {
  DrainOptions,
  DrainResult,
  SubmitOptions,
  TaskInstrumentation,
  TaskOutcome,
  TaskRunner,
  TaskRunnerDeps,
  TaskRunnerOptions,
} from './task-runner.js';
export { bind, bindEmitter } from './context-binding.js';
export type { EmitterContextMode } from './context-binding.js';
export { injectContext, runWithExtractedContext } from './worker-context.js';
