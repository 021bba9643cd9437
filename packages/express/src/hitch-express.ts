import type { BoundGauge, Hitch, MetricsServer } from '@hitch/core';
import { InvalidOptionError, buckets } from '@hitch/core';
import type { Context, Span, TextMapGetter } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { hitchRoutes } from './health-routes.js';
import { METHOD_VALUES, normalizeMethod, pathOf, requestAttributes } from './http-attributes.js';
import type { HitchExpressOptions, NormalizedOptions } from './options.js';
import { normalizeOptions } from './options.js';
import type { RequestState } from './request-state.js';
import { attachState, stateOf } from './request-state.js';
import type { LayerLike } from './route-template.js';
import { RouteResolver, UNMATCHED_ROUTE, instrumentRouter } from './route-template.js';
import { recordRequestError } from './record-error.js';

/** What {@link hitchExpress} installed on an app. */
export interface HitchExpressInstrumentation {
  readonly hitch: Hitch;
  /** The separate metrics server, when `metrics.port` was given (resolves once it listens). */
  readonly metricsServer: Promise<MetricsServer> | undefined;
}

/** The parts of an Express 4 or 5 application Hitch uses. */
export interface ExpressAppLike {
  use(...handlers: unknown[]): unknown;
  handle?: unknown;
}

interface Installation extends HitchExpressInstrumentation {
  readonly options: NormalizedOptions;
}

const installations = new WeakMap<object, Installation>();

/** With `sizeHistograms`: body bytes written per response (a chunked response has no Content-Length). */
const bodyBytes = new WeakMap<ServerResponse, number>();

function chunkLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

function countBodyBytes(res: ServerResponse): void {
  bodyBytes.set(res, 0);
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    bodyBytes.set(this, (bodyBytes.get(this) ?? 0) + chunkLength(chunk, rest[0]));
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') bodyBytes.set(this, (bodyBytes.get(this) ?? 0) + chunkLength(chunk, rest[0]));
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
}

/** The installation on `app`, for `listen` and friends. */
export function installationOf(app: object): Installation | undefined {
  return installations.get(app);
}

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

type Next = (error?: unknown) => void;
type RouterLayer = { name?: string; handle?: unknown };
type RouterStack = RouterLayer[];

function isServerSpan(span: Span): boolean {
  return (span as unknown as { kind?: unknown }).kind === SpanKind.SERVER;
}

/** Express 4 keeps its router in `app._router` (created by `lazyrouter()`); Express 5 in `app.router`. */
function rootRouter(app: ExpressAppLike): { stack: RouterStack; handle: (req: unknown, res: unknown, done: Next) => unknown } | undefined {
  const v4 = app as { lazyrouter?: () => void; _router?: unknown };
  if (typeof v4.lazyrouter === 'function') {
    v4.lazyrouter();
    return v4._router as ReturnType<typeof rootRouter>;
  }
  return (app as { router?: unknown }).router as ReturnType<typeof rootRouter>;
}

/**
 * Instruments an Express 5 (or 4) application: a SERVER span per request named by its route
 * template, RED metrics, a request log line, and the `/metrics`, `/healthz` and `/readyz`
 * routes. Call it once per app; routes may be added before or after.
 *
 * ```ts
 * const app = express();
 * hitchExpress(app, { hitch });
 * app.get('/rides/:id', getRide);
 * ```
 */
export function hitchExpress(app: ExpressAppLike, options: HitchExpressOptions): HitchExpressInstrumentation {
  if ((typeof app !== 'function' && typeof app !== 'object') || app === null || typeof app.use !== 'function') {
    throw new InvalidOptionError('hitchExpress', 'expects an Express application as its first argument');
  }
  if (installations.has(app)) throw new InvalidOptionError('hitchExpress', 'is already installed on this app: call it once per app');
  const opts = normalizeOptions(options);
  const { hitch } = opts;
  const tracer = hitch.tracer;
  const propagator = hitch.tracing.propagator;
  const clock = hitch.clock;
  const logger = hitch.logger;
  const routes = hitchRoutes(opts);
  const ignored = opts.ignored;
  const requestLog = opts.requestLog;

  const duration = hitch.metrics.histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests, by route template',
    labels: { method: { values: METHOD_VALUES }, route: { maxValues: opts.maxRoutes }, status_code: { maxValues: 100 } },
    buckets: buckets.httpLatencySeconds,
  });
  const active = hitch.metrics.gauge({
    name: 'http_server_active_requests',
    help: 'HTTP server requests in progress',
    labels: { method: { values: METHOD_VALUES } },
  });
  // Bound on first use, so /metrics lists only the methods this server has seen.
  const activeByMethod = new Map<string, BoundGauge>();
  const activeFor = (method: string): BoundGauge => {
    let bound = activeByMethod.get(method);
    if (bound === undefined) {
      bound = active.bind({ method });
      activeByMethod.set(method, bound);
    }
    return bound;
  };
  const sizes = opts.sizeHistograms
    ? {
        request: hitch.metrics.histogram({
          name: 'http_server_request_body_size_bytes',
          help: 'Size of HTTP server request bodies (Content-Length)',
          labels: { method: { values: METHOD_VALUES }, route: { maxValues: opts.maxRoutes } },
          buckets: buckets.bytes,
        }),
        response: hitch.metrics.histogram({
          name: 'http_server_response_body_size_bytes',
          help: 'Size of HTTP server response bodies',
          labels: { method: { values: METHOD_VALUES }, route: { maxValues: opts.maxRoutes }, status_code: { maxValues: 100 } },
          buckets: buckets.bytes,
        }),
      }
    : undefined;

  const root = rootRouter(app);
  if (root === undefined || !Array.isArray(root.stack)) throw new InvalidOptionError('hitchExpress', 'could not find the router of this app: is it an Express 4 or 5 application?');
  const resolver = new RouteResolver(() => rootRouter(app)?.stack as readonly LayerLike[] | undefined);

  /** The request's route template, resolved once. */
  const resolveRoute = (state: RequestState): string => {
    state.route ??= resolver.resolve((state.req as { route?: unknown }).route, state.path) ?? UNMATCHED_ROUTE;
    return state.route;
  };

  /** Sets `http.route` and the span name; once, before the first header is written. */
  const applyRoute = (state: RequestState): string => {
    const route = resolveRoute(state);
    if (!state.routeApplied) {
      state.routeApplied = true;
      const span = state.span;
      if (route !== UNMATCHED_ROUTE) span.setAttribute('http.route', route);
      span.updateName(state.method === '_OTHER' ? `HTTP ${route}` : `${state.method} ${route}`);
    }
    return route;
  };

  const record = (state: RequestState, route: string, status: number, seconds: number): void => {
    const statusCode = String(status);
    duration.observe({ method: state.method, route, status_code: statusCode }, seconds);
    if (sizes !== undefined) {
      const requestLength = Number(state.req.headers['content-length']);
      if (requestLength >= 0) sizes.request.observe({ method: state.method, route }, requestLength);
      const header = state.res.getHeader('content-length');
      const responseLength = header === undefined ? (bodyBytes.get(state.res) ?? 0) : Number(header);
      if (responseLength >= 0) sizes.response.observe({ method: state.method, route, status_code: statusCode }, responseLength);
    }
    if (requestLog !== false && logger.isLevelEnabled(requestLog)) {
      logger[requestLog]({ http: { method: state.req.method, route, status_code: status, duration_ms: Math.round(seconds * 1e6) / 1e3 } }, `${state.req.method ?? '-'} ${route} ${status}`);
    }
  };

  const end = (state: RequestState, disconnected: boolean): void => {
    if (state.ended) return;
    state.ended = true;
    const res = state.res;
    activeFor(state.method).dec();
    // An enriched span was named as the headers went out (and the other instrumentation may have
    // ended it since); only the route is needed here.
    const route = state.ownsSpan || state.routeApplied ? applyRoute(state) : (state.route ?? resolveRoute(state));
    // A client that went away before the response finished: 499 in the metrics (nginx's "client
    // closed request"), no error status on the span (the server did not fail).
    const status = disconnected ? 499 : res.statusCode;
    const seconds = Math.max(0, clock.now() - state.startMs) / 1000;
    const span = state.span;
    if (state.ownsSpan) {
      if (disconnected) {
        if (res.headersSent) span.setAttribute('http.response.status_code', res.statusCode);
        span.addEvent('client disconnected');
      } else if (status >= 500) {
        // Server span rules: 5xx is an error, 4xx is the client's and leaves the status unset.
        span.setAttributes(state.errorRecorded ? { 'http.response.status_code': status } : { 'http.response.status_code': status, 'error.type': String(status) });
        span.setStatus({ code: SpanStatusCode.ERROR });
      } else {
        span.setAttribute('http.response.status_code', status);
      }
      span.end();
    }
    const sampled = (span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
    // Inside the request's context, so the observation carries the trace id as an exemplar and the log line has it.
    if (sampled || (requestLog !== false && logger.isLevelEnabled(requestLog))) context.with(state.ctx, record, undefined, state, route, status, seconds);
    else record(state, route, status, seconds);
  };

  const begin = (req: IncomingMessage, res: ServerResponse, path: string): RequestState => {
    const method = normalizeMethod(req.method);
    const startMs = clock.now();
    const current = context.active();
    const existing = trace.getSpan(current);
    let span: Span;
    let ctx: Context;
    let ownsSpan: boolean;
    if (existing !== undefined && isServerSpan(existing)) {
      // Another instrumentation (e.g. @opentelemetry/instrumentation-http) made the server span: enrich it.
      span = existing;
      ctx = current;
      ownsSpan = false;
    } else {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
      span = tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: SpanKind.SERVER, attributes: requestAttributes(req, method, path), startTime: startMs }, parent);
      ctx = trace.setSpan(parent, span);
      ownsSpan = true;
    }
    const state: RequestState = { span, ctx, ownsSpan, method, path, startMs, route: undefined, routeApplied: false, error: undefined, errorRecorded: false, ended: false, req, res };
    attachState(state);
    activeFor(method).inc();
    // 'close' follows 'finish' on every response (and comes alone when the client went away first).
    // `on`, not `once`: 'close' is emitted once, and `once` would allocate a wrapper per request.
    res.on('close', () => end(state, !res.writableFinished));
    if (sizes !== undefined) countBodyBytes(res);
    if (!ownsSpan) {
      // The other instrumentation ends its span when the response finishes, before our listener
      // runs: name it as the headers go out, once routing is done.
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        applyRoute(state);
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as typeof res.writeHead;
    }
    return state;
  };

  const middleware = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const path = pathOf(req.url);
    const own = routes.get(path);
    if (ignored.has(path)) {
      if (own !== undefined) own(req, res, next);
      else next();
      return;
    }
    let state: RequestState;
    try {
      state = begin(req, res, path);
    } catch (error) {
      // Telemetry never fails a request.
      logger.warn({ err: error }, 'hitch: could not instrument a request');
      next();
      return;
    }
    if (own === undefined) {
      context.with(state.ctx, next);
    } else {
      state.route = path;
      context.with(state.ctx, own, undefined, req, res, next);
    }
  };
  Object.defineProperty(middleware, 'name', { value: 'hitchExpress' });

  app.use(middleware);
  // First in the stack whenever it is called (after Express 4's own query parser and init).
  const stack = root.stack;
  const index = stack.findIndex((layer) => layer.handle === middleware);
  if (index > 0) {
    const [layer] = stack.splice(index, 1);
    let at = 0;
    while (at < stack.length && (stack[at]!.name === 'query' || stack[at]!.name === 'expressInit')) at++;
    stack.splice(at, 0, layer!);
  }
  instrumentRouter(root);

  // Errors no error handler took reach the router's final callback: record them on the span.
  const handle = root.handle;
  if (typeof handle === 'function') {
    Object.defineProperty(root, 'handle', {
      value: function (this: unknown, req: IncomingMessage, res: ServerResponse, done: Next) {
        return handle.call(this, req, res, (error?: unknown) => {
          // A target the router could not parse never reached the middleware: trace and count it still.
          if (stateOf(req) === undefined) {
            const path = pathOf(req.url);
            if (!ignored.has(path)) {
              try {
                begin(req, res, path);
              } catch (problem) {
                logger.warn({ err: problem }, 'hitch: could not instrument a request');
              }
            }
          }
          if (error !== undefined && error !== null && error !== 'route' && error !== 'router') recordRequestError(req, error);
          done(error);
        });
      },
      writable: true,
      configurable: true,
    });
  }

  let metricsServer: Promise<MetricsServer> | undefined;
  if (opts.metricsPort !== undefined && opts.metricsPath !== undefined) {
    metricsServer = hitch.metrics.serve({ port: opts.metricsPort, host: opts.metricsHost, path: opts.metricsPath });
    metricsServer.catch((error: unknown) => logger.error({ err: error }, `hitch: the metrics server could not listen on port ${String(opts.metricsPort)}`));
  }
  const installation: Installation = { hitch, options: opts, metricsServer };
  installations.set(app, installation);
  return { hitch, metricsServer };
}

