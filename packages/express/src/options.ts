import type { Hitch } from '@hitch/core';
import { InvalidOptionError } from '@hitch/core';

/** Where and how `/metrics` is served. */
export interface MetricsRouteOptions {
  /** Path of the metrics route. Defaults to `'/metrics'`. */
  readonly path?: string;
  /**
   * When set, `/metrics` answers 401 unless the request carries `Authorization: Bearer <token>`
   * (compared in constant time). Defaults to none: the route is open, as Prometheus expects.
   */
  readonly bearerToken?: string;
  /**
   * Serve metrics on this separate port (through `hitch.metrics.serve`) instead of on the
   * application's server; `0` picks a free port. Defaults to none: same server as the app.
   */
  readonly port?: number;
  /** Interface of the separate metrics server. Defaults to `'0.0.0.0'`. Only with `port`. */
  readonly host?: string;
}

/** Paths of the probes. */
export interface HealthRouteOptions {
  /** Liveness probe. Defaults to `'/healthz'`. */
  readonly livenessPath?: string;
  /** Readiness probe: 503 with the failing checks while not ready or draining. Defaults to `'/readyz'`. */
  readonly readinessPath?: string;
}

/** Options of {@link hitchExpress}. */
export interface HitchExpressOptions {
  /** The Hitch instance whose tracer, metrics, logger and lifecycle are used. Required. */
  readonly hitch: Hitch;
  /** `/metrics` on the same server (default), on a separate port, or `false` for none. */
  readonly metrics?: MetricsRouteOptions | false;
  /** `/healthz` and `/readyz` (default), or `false` for none. */
  readonly health?: HealthRouteOptions | false;
  /**
   * More paths (exact, without query) to leave out of spans, metrics and request logs, e.g. a
   * load balancer's own check. The metrics and health paths are always left out unless
   * `instrumentHealthRoutes` is `true`. Defaults to none.
   */
  readonly ignorePaths?: readonly string[];
  /** Give the metrics and health routes spans, metrics and log lines too. Defaults to `false`. */
  readonly instrumentHealthRoutes?: boolean;
  /**
   * Level of the one log line written per request (method, route, status, duration, trace ids),
   * or `false` for none. Defaults to `'info'`.
   */
  readonly requestLog?: 'info' | 'debug' | false;
  /**
   * Distinct route templates the metrics keep apart; further ones are counted under the
   * overflow value. Templates come from the app's code, so this is a guard against a router
   * built at run time, not a limit you should reach. Defaults to `200`.
   */
  readonly maxRoutes?: number;
  /**
   * Also record `http_server_request_body_size_bytes` and `http_server_response_body_size_bytes`
   * (from `Content-Length`, and the bytes written when it is absent). Defaults to `false`.
   */
  readonly sizeHistograms?: boolean;
}

export interface NormalizedOptions {
  readonly hitch: Hitch;
  readonly metricsPath: string | undefined;
  readonly metricsToken: string | undefined;
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  readonly livenessPath: string | undefined;
  readonly readinessPath: string | undefined;
  /** Paths answered by Hitch itself (metrics, health) when they are excluded from telemetry. */
  readonly ignored: ReadonlySet<string>;
  readonly instrumentHealthRoutes: boolean;
  readonly requestLog: 'info' | 'debug' | false;
  readonly maxRoutes: number;
  readonly sizeHistograms: boolean;
}

function path(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('?') || value.includes('#')) {
    throw new InvalidOptionError(option, `should be a path starting with "/" (no query), got ${JSON.stringify(value)}`);
  }
  return value;
}

function optionsObject<T>(option: string, value: T | false | undefined): Partial<T> | undefined {
  if (value === false) return undefined;
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new InvalidOptionError(option, `should be an options object or false, got ${JSON.stringify(value)}`);
  return value;
}

export function normalizeOptions(options: HitchExpressOptions): NormalizedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('hitchExpress', 'expects (app, { hitch }): pass the instance from createHitch()');
  }
  const hitch = options.hitch as Hitch | undefined;
  if (typeof hitch !== 'object' || hitch === null || typeof hitch.tracer !== 'object' || typeof hitch.metrics !== 'object') {
    throw new InvalidOptionError('hitchExpress.hitch', 'is required: pass the instance from createHitch()');
  }
  const metrics = optionsObject('hitchExpress.metrics', options.metrics);
  const health = optionsObject('hitchExpress.health', options.health);
  let metricsPath: string | undefined;
  let metricsToken: string | undefined;
  let metricsPort: number | undefined;
  let metricsHost = '0.0.0.0';
  if (metrics !== undefined) {
    metricsPath = path('hitchExpress.metrics.path', metrics.path, '/metrics');
    if (metrics.bearerToken !== undefined && (typeof metrics.bearerToken !== 'string' || metrics.bearerToken.length === 0)) {
      throw new InvalidOptionError('hitchExpress.metrics.bearerToken', 'should be a non-empty string');
    }
    metricsToken = metrics.bearerToken;
    if (metrics.port !== undefined) {
      if (!Number.isInteger(metrics.port) || metrics.port < 0 || metrics.port > 65535) {
        throw new InvalidOptionError('hitchExpress.metrics.port', `should be an integer in 0..65535, got ${String(metrics.port)}`);
      }
      if (metricsToken !== undefined) {
        throw new InvalidOptionError('hitchExpress.metrics.bearerToken', 'is only supported on the application server: protect the separate metrics port at the network level');
      }
      metricsPort = metrics.port;
    }
    if (metrics.host !== undefined) {
      if (metricsPort === undefined) throw new InvalidOptionError('hitchExpress.metrics.host', 'only applies with metrics.port');
      if (typeof metrics.host !== 'string' || metrics.host.length === 0) throw new InvalidOptionError('hitchExpress.metrics.host', 'should be a non-empty string');
      metricsHost = metrics.host;
    }
  }
  const livenessPath = health === undefined ? undefined : path('hitchExpress.health.livenessPath', health.livenessPath, '/healthz');
  const readinessPath = health === undefined ? undefined : path('hitchExpress.health.readinessPath', health.readinessPath, '/readyz');
  const served = [metricsPort === undefined ? metricsPath : undefined, livenessPath, readinessPath].filter((p): p is string => p !== undefined);
  if (new Set(served).size !== served.length) throw new InvalidOptionError('hitchExpress', `the metrics and health paths must differ, got ${served.join(', ')}`);

  const instrumentHealthRoutes = options.instrumentHealthRoutes ?? false;
  if (typeof instrumentHealthRoutes !== 'boolean') throw new InvalidOptionError('hitchExpress.instrumentHealthRoutes', 'should be a boolean');
  const ignorePaths = options.ignorePaths ?? [];
  if (!Array.isArray(ignorePaths)) throw new InvalidOptionError('hitchExpress.ignorePaths', 'should be an array of paths');
  const ignored = new Set<string>(ignorePaths.map((p, i) => path(`hitchExpress.ignorePaths[${i}]`, p, '/')));
  if (!instrumentHealthRoutes) for (const p of served) ignored.add(p);

  const requestLog = options.requestLog ?? 'info';
  if (requestLog !== 'info' && requestLog !== 'debug' && requestLog !== false) {
    throw new InvalidOptionError('hitchExpress.requestLog', `should be 'info', 'debug' or false, got ${JSON.stringify(requestLog)}`);
  }
  const maxRoutes = options.maxRoutes ?? 200;
  if (!Number.isInteger(maxRoutes) || maxRoutes < 1) throw new InvalidOptionError('hitchExpress.maxRoutes', `should be a positive integer, got ${String(maxRoutes)}`);
  const sizeHistograms = options.sizeHistograms ?? false;
  if (typeof sizeHistograms !== 'boolean') throw new InvalidOptionError('hitchExpress.sizeHistograms', 'should be a boolean');
  return {
    hitch,
    metricsPath,
    metricsToken,
    metricsPort,
    metricsHost,
    livenessPath,
    readinessPath,
    ignored,
    instrumentHealthRoutes,
    requestLog,
    maxRoutes,
    sizeHistograms,
  };
}
