import type { Logger } from 'pino';
import type { MetricsRegistry } from '../metrics/registry.js';
import { buckets } from '../metrics/buckets.js';
import type { TaskInstrumentation } from '../tasks/index.js';

/** Task runner gauges, the duration histogram, and a counted, logged failure per detached task. */
export function createTaskInstrumentation(metrics: MetricsRegistry, logger: Logger): TaskInstrumentation {
  const runner = { maxValues: 200 };
  const inFlight = metrics.gauge({ name: 'hitch_tasks_in_flight', help: 'Tasks running now, by runner.', labels: { runner } });
  const queued = metrics.gauge({ name: 'hitch_tasks_queued', help: 'Tasks waiting for a slot, by runner.', labels: { runner } });
  const duration = metrics.histogram({
    name: 'hitch_task_duration_seconds',
    help: 'Task run time (queue wait excluded), by runner and outcome.',
    labels: { runner, outcome: { values: ['success', 'error', 'timeout', 'aborted'] } },
    buckets: buckets.httpLatencySeconds,
  });
  const detachedFailures = metrics.counter({
    name: 'hitch_task_detached_failures_total',
    help: 'Detached tasks that failed or could not run (their errors are logged, never thrown).',
    labels: { runner },
  });
  return {
    inFlight: (name, count) => inFlight.set({ runner: name }, count),
    queued: (name, count) => queued.set({ runner: name }, count),
    finished: (name, outcome, seconds) => duration.observe({ runner: name, outcome }, seconds),
    detachedFailed(name, task, error) {
      detachedFailures.inc({ runner: name });
      logger.error({ err: error, runner: name, task }, `detached task "${task}" on runner "${name}" failed`);
    },
  };
}
