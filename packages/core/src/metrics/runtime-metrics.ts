import { readdirSync } from 'node:fs';
import type { IntervalHistogram } from 'node:perf_hooks';
import { PerformanceObserver, constants as perfConstants, monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import type { MetricsRegistry } from './registry.js';
import type { Gauge } from './types.js';

/**
 * Process and Node.js runtime metrics, named so that `promtool check metrics` finds nothing
 * (prom-client's defaults expose gauges ending in `_total`, which promlint rejects).
 * Returns a function that stops the event-loop monitor and the GC observer.
 */
export function registerRuntimeMetrics(metrics: MetricsRegistry): () => void {
  let lastCpu = process.cpuUsage();
  const cpuUser = metrics.counter({
    name: 'process_cpu_user_seconds_total',
    help: 'User CPU time spent by the process in seconds.',
    collect: () => {
      const now = process.cpuUsage();
      cpuUser.inc((now.user - lastCpu.user) / 1e6);
      cpuSystem.inc((now.system - lastCpu.system) / 1e6);
      cpuTotal.inc((now.user - lastCpu.user + now.system - lastCpu.system) / 1e6);
      lastCpu = now;
    },
  });
  const cpuSystem = metrics.counter({ name: 'process_cpu_system_seconds_total', help: 'System CPU time spent by the process in seconds.' });
  const cpuTotal = metrics.counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent by the process in seconds.' });

  const startTimeSeconds = Math.round((Date.now() - process.uptime() * 1000) / 1000);
  const startTime: Gauge = metrics.gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the Unix epoch in seconds.',
    collect: () => startTime.set(startTimeSeconds),
  });

  const memory = metrics.gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size of the process in bytes.',
    collect: () => {
      const usage = process.memoryUsage();
      memory.set(usage.rss);
      heapTotal.set(usage.heapTotal);
      heapUsed.set(usage.heapUsed);
      external.set(usage.external);
      arrayBuffers.set(usage.arrayBuffers);
    },
  });
  const heapTotal = metrics.gauge({ name: 'nodejs_heap_size_total_bytes', help: 'V8 heap size in bytes.' });
  const heapUsed = metrics.gauge({ name: 'nodejs_heap_size_used_bytes', help: 'V8 heap used in bytes.' });
  const external = metrics.gauge({ name: 'nodejs_external_memory_bytes', help: 'Memory of C++ objects bound to JavaScript objects, in bytes.' });
  const arrayBuffers = metrics.gauge({ name: 'nodejs_array_buffers_bytes', help: 'Memory allocated for ArrayBuffers and SharedArrayBuffers, in bytes.' });

  const heapSpace = metrics.gauge<'space'>({
    name: 'nodejs_heap_space_used_bytes',
    help: 'V8 heap space used in bytes, by space.',
    labels: { space: { maxValues: 16 } },
    collect: () => {
      for (const space of getHeapSpaceStatistics()) heapSpace.set({ space: space.space_name }, space.space_used_size);
    },
  });

  if (process.platform === 'linux') {
    const openFds: Gauge = metrics.gauge({
      name: 'process_open_fds',
      help: 'Number of open file descriptors.',
      collect: () => openFds.set(readdirSync('/proc/self/fd').length - 1),
    });
  }

  const activeHandles = metrics.gauge({
    name: 'nodejs_active_handles',
    help: 'Resources keeping the event loop alive (process.getActiveResourcesInfo()).',
    collect: () => {
      const byType = new Map<string, number>();
      const resources = process.getActiveResourcesInfo();
      for (const type of resources) byType.set(type, (byType.get(type) ?? 0) + 1);
      activeHandles.set(resources.length);
      activeResources.clearAndSet(byType);
    },
  });
  const activeResourcesGauge = metrics.gauge<'type'>({
    name: 'nodejs_active_resources',
    help: 'Resources keeping the event loop alive, by type.',
    labels: { type: { maxValues: 32 } },
  });
  const seenResourceTypes = new Set<string>();
  const activeResources = {
    clearAndSet(byType: Map<string, number>): void {
      for (const type of seenResourceTypes) if (!byType.has(type)) activeResourcesGauge.set({ type }, 0);
      for (const [type, count] of byType) {
        seenResourceTypes.add(type);
        activeResourcesGauge.set({ type }, count);
      }
    },
  };

  const [major, minor, patch] = process.versions.node.split('.');
  const versionInfo = metrics.gauge<'version' | 'major' | 'minor' | 'patch'>({
    name: 'nodejs_version_info',
    help: 'Node.js version info.',
    labels: { version: { maxValues: 1 }, major: { maxValues: 1 }, minor: { maxValues: 1 }, patch: { maxValues: 1 } },
  });
  versionInfo.set({ version: process.version, major: major ?? '', minor: minor ?? '', patch: patch ?? '' }, 1);

  const delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const toSeconds = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
  const delayGauges = {
    min: metrics.gauge({ name: 'nodejs_eventloop_delay_min_seconds', help: 'Minimum event loop delay since the last scrape, in seconds.' }),
    max: metrics.gauge({ name: 'nodejs_eventloop_delay_max_seconds', help: 'Maximum event loop delay since the last scrape, in seconds.' }),
    mean: metrics.gauge({ name: 'nodejs_eventloop_delay_mean_seconds', help: 'Mean event loop delay since the last scrape, in seconds.' }),
    p50: metrics.gauge({ name: 'nodejs_eventloop_delay_p50_seconds', help: 'Median event loop delay since the last scrape, in seconds.' }),
    p90: metrics.gauge({ name: 'nodejs_eventloop_delay_p90_seconds', help: '90th percentile event loop delay since the last scrape, in seconds.' }),
    p99: metrics.gauge({
      name: 'nodejs_eventloop_delay_p99_seconds',
      help: '99th percentile event loop delay since the last scrape, in seconds.',
      collect: () => {
        if (delay.count === 0) return;
        delayGauges.min.set(toSeconds(delay.min));
        delayGauges.max.set(toSeconds(delay.max));
        delayGauges.mean.set(toSeconds(delay.mean));
        delayGauges.p50.set(toSeconds(delay.percentile(50)));
        delayGauges.p90.set(toSeconds(delay.percentile(90)));
        delayGauges.p99.set(toSeconds(delay.percentile(99)));
        delay.reset();
      },
    }),
  };

  const gcDuration = metrics.histogram<'kind'>({
    name: 'nodejs_gc_duration_seconds',
    help: 'Garbage collection pauses in seconds, by kind.',
    labels: { kind: { values: ['minor', 'major', 'incremental', 'weakcb', 'other'] } },
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    exemplars: false,
  });
  const gcKinds = new Map<number, string>([
    [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
    [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
    [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
    [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
  ]);
  const gcBound = new Map([...new Set([...gcKinds.values(), 'other'])].map((kind) => [kind, gcDuration.bind({ kind })]));
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = gcKinds.get(((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind ?? -1) ?? 'other';
      gcBound.get(kind)?.observe(entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  return () => {
    delay.disable();
    observer.disconnect();
  };
}
