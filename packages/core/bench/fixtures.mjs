// Test doubles shared by the tracing, fetch and logging benchmarks. Each side of a comparison
// gets its own instance of the same class, so both pay exactly the same for it.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MetricReader } from '@opentelemetry/sdk-metrics';

/**
 * A span processor that only counts: the cheapest processor there is, identical on every side.
 * The counts prove after the run that every span was really started and ended (or, unsampled,
 * never reached a processor).
 */
export class CountingSpanProcessor {
  started = 0;
  ended = 0;
  onStart() {
    this.started++;
  }
  onEnd() {
    this.ended++;
  }
  forceFlush() {
    return Promise.resolve();
  }
  shutdown() {
    return Promise.resolve();
  }
}

/** A log record processor (OpenTelemetry Logs SDK) that only counts the records it is given. */
export class CountingLogRecordProcessor {
  emitted = 0;
  onEmit() {
    this.emitted++;
  }
  forceFlush() {
    return Promise.resolve();
  }
  shutdown() {
    return Promise.resolve();
  }
}

/**
 * A log destination that drops what it is given after pino has fully serialized it: counts the
 * lines and their characters and keeps a reference to the last one (checked after the run).
 * No syscall, so the comparison measures the loggers, not the disk.
 */
export class DiscardStream {
  lines = 0;
  chars = 0;
  last = '';
  write(chunk) {
    this.lines++;
    this.chars += chunk.length;
    this.last = chunk;
    return true;
  }
}

/** A metric reader that never exports: the SDK aggregates, nobody collects during the bench. */
export class NoopMetricReader extends MetricReader {
  onForceFlush() {
    return Promise.resolve();
  }
  onShutdown() {
    return Promise.resolve();
  }
}

/** Options of every NodeSDK in the benchmarks: no resource detection, no exporter from the environment. */
export const NODE_SDK_BASE = Object.freeze({ serviceName: 'bench', autoDetectResources: false });

/** The installed version of a package, as this directory resolves it (read from its package.json). */
export function packageVersion(name) {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(name));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      if (pkg.name === name) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
