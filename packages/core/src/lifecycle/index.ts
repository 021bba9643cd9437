// Lifecycle and health: graceful shutdown on SIGTERM, liveness and readiness probes.
export { createLifecycle, LIFECYCLE_DEFAULTS, ShutdownPriority } from './lifecycle.js';
export type {
  HandleSignalsOptions,
  Lifecycle,
  LifecycleDeps,
  LifecycleOptions,
  LifecycleState,
  ProcessLike,
  ShutdownHook,
  ShutdownHookOptions,
  ShutdownHookResult,
  ShutdownHookStatus,
  ShutdownReport,
} from './lifecycle.js';
export { DEFAULT_CHECK_TIMEOUT_MS } from './health.js';
export type {
  HealthCheck,
  HealthCheckKind,
  HealthCheckOptions,
  HealthCheckResult,
  HealthDetails,
  HealthRegistry,
  HealthReport,
  HealthStatus,
  HealthUnreadyReason,
} from './health.js';
export type { LifecycleLogger } from './logger.js';
