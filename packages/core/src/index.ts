// The public surface of @hitch/core. Every export is named here; nothing else is public.
export { createHitch } from './hitch.js';
export type { Hitch, HitchFsm, HitchOptions, HitchResilience, HitchTasks, HttpClientOptions, MetricsOptions, ServiceOptions } from './hitch.js';

export type { Tracing, TracingOptions, TraceExporterKind } from './tracing/tracing.js';
export { recordError } from './tracing/with-span.js';
export type { WithSpanOptions } from './tracing/with-span.js';
export {
  HitchBaggagePropagator,
  HitchPropagator,
  HitchTraceContextPropagator,
  HitchTraceState,
  formatTraceparent,
  parseBaggage,
  parseTraceparent,
  parseTracestate,
  serializeBaggage,
  serializeTracestate,
} from './tracing/propagation/index.js';
export type { BaggageMember, BaggageProperty, TraceparentFields, TracestateMember } from './tracing/propagation/index.js';

export { DEFAULT_REDACT_KEYS } from './logging/index.js';
export type { LogLevel, Logger, LoggingOptions } from './logging/index.js';

export type { ClientDurationLabels, HitchFetch, HitchRequestInit } from './http-client/fetch.js';
export type { Policy, PolicyExecuteOptions } from './policy/policy.js';

// Resilience: also available alone as @hitch/core/resilience.
export {
  Backoff,
  BulkheadPolicy,
  CircuitBreaker,
  CircuitState,
  ComposedPolicy,
  FallbackPolicy,
  KeyedBreakers,
  RetryBudget,
  RetryOutcome,
  RetryPolicy,
  TimeoutPolicy,
  bulkhead,
  circuitBreaker,
  circuitBreakerDefaults,
  compose,
  defaultRetryOn,
  fallback,
  keyedBreakers,
  retry,
  retryBudget,
  timeout,
} from './resilience/index.js';
export type {
  AdaptiveModeOptions,
  BackoffOptions,
  BulkheadOptions,
  CircuitBreakerMode,
  CircuitBreakerOptions,
  ComposablePolicy,
  ConstantBackoffOptions,
  DecorrelatedJitterBackoffOptions,
  ExecuteOptions,
  FallbackOptions,
  FullJitterBackoffOptions,
  KeyedBreakersOptions,
  PolicyBaseOptions,
  ResilienceInstrumentation,
  ResiliencePolicy,
  RetryBudgetOptions,
  RetryOptions,
  TimeoutOptions,
} from './resilience/index.js';
export {
  BulkheadRejectedError,
  CircuitOpenError,
  RetryBudgetExceededError,
  TaskQueueFullError,
  TaskRunnerClosedError,
  TimeoutError,
  isBulkheadRejectedError,
  isCircuitOpenError,
  isRetryBudgetExceededError,
  isTaskQueueFullError,
  isTaskRunnerClosedError,
  isTimeoutError,
} from './errors/resilience-errors.js';

// State machines: also available alone as @hitch/core/fsm.
export { Machine, defineMachine } from './fsm/index.js';
export type {
  Entity,
  EntityIn,
  EntityOf,
  EventDefinition,
  EventDefinitions,
  EventName,
  EventOf,
  EventsFrom,
  FromOf,
  FsmInstrumentation,
  MachineDefinition,
  MachineDescription,
  MachineInstrumentation,
  MachineJSON,
  PayloadArgs,
  PayloadOf,
  StateOf,
  ToOf,
  TransitionRecorder,
} from './fsm/index.js';
export { GuardRejectedError, VersionConflictError, isGuardRejectedError, isVersionConflictError } from './errors/fsm-errors.js';

export { bind, bindEmitter, createTaskRunner, injectContext, runWithExtractedContext } from './tasks/index.js';
export type { DrainOptions, DrainResult, EmitterContextMode, SubmitOptions, TaskInstrumentation, TaskOutcome, TaskRunner, TaskRunnerOptions } from './tasks/index.js';

export { LIFECYCLE_DEFAULTS, ShutdownPriority, createLifecycle } from './lifecycle/index.js';
export type {
  HandleSignalsOptions,
  HealthCheck,
  HealthCheckKind,
  HealthCheckOptions,
  HealthCheckResult,
  HealthDetails,
  HealthRegistry,
  HealthReport,
  HealthStatus,
  Lifecycle,
  LifecycleLogger,
  LifecycleOptions,
  LifecycleState,
  ShutdownHookOptions,
  ShutdownReport,
} from './lifecycle/index.js';

export { systemClock } from './clock/clock.js';
export type { Clock, TimerHandle } from './clock/clock.js';

export {
  ErrorCode,
  HitchError,
  InvalidOptionError,
  ShutdownError,
  isHitchError,
  isInvalidOptionError,
  isShutdownError,
} from './errors/hitch-error.js';
export {
  IllegalTransitionError,
  NotFoundError,
  ValidationError,
  isIllegalTransitionError,
  isNotFoundError,
  isValidationError,
} from './errors/domain-errors.js';
export type { ValidationIssue } from './errors/domain-errors.js';
export { MetricNameError, MetricRegistrationError, isMetricNameError, isMetricRegistrationError } from './errors/metric-errors.js';

export { MetricsRegistry, MAX_LABEL_VALUES } from './metrics/registry.js';
export type { MetricsServer, ServeOptions } from './metrics/registry.js';
export { buckets, exponentialBuckets, linearBuckets } from './metrics/buckets.js';
export { OVERFLOW_VALUE, MAX_LABEL_VALUE_LENGTH } from './metrics/label-policy.js';
export { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './metrics/content-negotiation.js';
export { InvalidObservationReason, MetricsWarningCode } from './metrics/types.js';
export type {
  BoundCounter,
  BoundGauge,
  BoundHistogram,
  Counter,
  CounterOptions,
  Gauge,
  GaugeOptions,
  Histogram,
  HistogramOptions,
  LabelDeclaration,
  LabelDeclarations,
  LabelValue,
  LabelValues,
  MetricsWarning,
  RenderedMetrics,
} from './metrics/types.js';

export type { MetricType, NamingProblem } from './naming/index.js';
