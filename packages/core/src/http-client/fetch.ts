import type { Attributes, Context, Span, TextMapPropagator, TextMapSetter, Tracer } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, context as contextApi, trace } from '@opentelemetry/api';
import type { Clock } from '../clock/clock.js';
import type { Policy } from '../policy/policy.js';

/** `init` of {@link HitchFetch}: the global `fetch`'s plus Hitch's options. */
export interface HitchRequestInit extends RequestInit {
  /** Runs the request through a resilience policy (retries make one CLIENT span per attempt). Defaults to none. */
  readonly policy?: Policy;
  /** Span name. Defaults to the HTTP method, as the semantic conventions say (`GET`). */
  readonly spanName?: string;
  /**
   * With a policy: which responses count as a failed attempt (so retries and breakers see them).
   * If the policy gives up on such a response, `hitch.fetch` still resolves with it, as `fetch`
   * would. Defaults to status 5xx and 429.
   */
  readonly failOn?: (response: Response) => boolean;
}

/** The error a failing response (see `failOn`) becomes inside a policy; carries the response. */
export class HttpResponseError extends Error {
  readonly response: Response;
  readonly isHttpResponseError = true;

  constructor(response: Response) {
    super(`HTTP ${response.status} ${response.statusText}`.trim());
    this.name = 'HttpResponseError';
    this.response = response;
  }
}

export function defaultFailOn(response: Response): boolean {
  return response.status >= 500 || response.status === 429;
}

/** `hitch.fetch`: the global `fetch`, traced, measured and propagating context. */
export type HitchFetch = (input: string | URL | Request, init?: HitchRequestInit) => Promise<Response>;

/** Labels of `http_client_request_duration_seconds`. */
export type ClientDurationLabels = { method: string; server_address: string; status_code: string };

export interface FetchDependencies {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  readonly clock: Clock;
  readonly duration: { observe(labels: ClientDurationLabels, seconds: number): void };
}

/** Methods the semantic conventions know; anything else is `_OTHER`. */
export const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;
const knownMethods: ReadonlySet<string> = new Set(KNOWN_METHODS);

const headersSetter: TextMapSetter<Headers> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/**
 * Builds `hitch.fetch`. Each attempt gets a CLIENT span with the HTTP semantic-convention
 * attributes (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-client-span),
 * `traceparent`/`tracestate`/`baggage` headers, and one observation of
 * `http_client_request_duration_seconds{method,server_address,status_code}`.
 */
export function createFetch(deps: FetchDependencies): HitchFetch {
  const { tracer, propagator, clock, duration } = deps;

  return async function hitchFetch(input, init = {}) {
    const { policy, spanName, failOn = defaultFailOn, ...requestInit } = init;
    const target = describeTarget(input, requestInit);
    const parent = contextApi.active();
    let resendCount = 0;

    const attempt = async (signal: AbortSignal | undefined): Promise<Response> => {
      const attributes: Attributes = { ...target.attributes };
      if (resendCount > 0) attributes['http.request.resend_count'] = resendCount;
      resendCount++;
      const span = tracer.startSpan(spanName ?? target.defaultSpanName, { kind: SpanKind.CLIENT, attributes }, parent);
      const ctx = trace.setSpan(parent, span);
      const headers = new Headers(requestInit.headers ?? (input instanceof Request ? input.headers : undefined));
      propagator.inject(ctx, headers, headersSetter);
      const start = clock.now();
      try {
        const response = await contextApi.with(ctx, () => fetch(input, { ...requestInit, headers, ...(signal ? { signal } : {}) }));
        span.setAttribute('http.response.status_code', response.status);
        // Client spans: every 4xx and 5xx is an error (semconv, HTTP client span status).
        if (response.status >= 400) {
          span.setAttribute('error.type', String(response.status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        observe(ctx, start, target, String(response.status));
        return response;
      } catch (error) {
        recordFailure(span, error);
        observe(ctx, start, target, 'error');
        throw error;
      } finally {
        span.end();
      }
    };

    if (policy === undefined) return attempt(requestInit.signal ?? undefined);
    let previous: Response | undefined;
    try {
      return await policy.execute(async (signal) => {
        // A failed response that is being retried is dropped: free its connection.
        if (previous !== undefined) void previous.body?.cancel().catch(() => undefined);
        const response = await attempt(signal);
        if (failOn(response)) {
          previous = response;
          throw new HttpResponseError(response);
        }
        return response;
      }, requestInit.signal ? { signal: requestInit.signal } : undefined);
    } catch (error) {
      if (error instanceof HttpResponseError) return error.response;
      if (error instanceof Error && error.cause instanceof HttpResponseError) {
        // e.g. a retry budget refusal whose cause is the last failed response.
        return error.cause.response;
      }
      throw error;
    }
  };

  function observe(ctx: Context, start: number, target: Target, statusCode: string): void {
    const seconds = Math.max(0, (clock.now() - start) / 1000);
    // Observed inside the CLIENT span's context so the exemplar points at this request.
    contextApi.with(ctx, () => duration.observe({ method: target.method, server_address: target.serverAddress, status_code: statusCode }, seconds));
  }
}

interface Target {
  readonly method: string;
  readonly serverAddress: string;
  readonly defaultSpanName: string;
  readonly attributes: Attributes;
}

function describeTarget(input: string | URL | Request, init: RequestInit): Target {
  const rawUrl = input instanceof Request ? input.url : input instanceof URL ? input.href : String(input);
  const rawMethod = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const method = knownMethods.has(rawMethod) ? rawMethod : '_OTHER';
  const attributes: Attributes = { 'http.request.method': method };
  if (method === '_OTHER') attributes['http.request.method_original'] = init.method ?? rawMethod;
  let serverAddress = '';
  try {
    const url = new URL(rawUrl);
    serverAddress = url.hostname;
    attributes['server.address'] = url.hostname;
    attributes['server.port'] = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    attributes['url.scheme'] = url.protocol.replace(/:$/, '');
    // Credentials never go into telemetry (semconv: url.full).
    if (url.username !== '' || url.password !== '') {
      url.username = 'REDACTED';
      url.password = 'REDACTED';
    }
    attributes['url.full'] = url.href;
  } catch {
    // fetch itself will reject the URL; the span still records the attempt.
  }
  return { method, serverAddress, defaultSpanName: method === '_OTHER' ? 'HTTP' : method, attributes };
}

function recordFailure(span: Span, error: unknown): void {
  span.setAttribute('error.type', errorType(error));
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** `error.type`: the network error code when undici gives one (ECONNREFUSED), else the error's name. */
function errorType(error: unknown): string {
  if (!(error instanceof Error)) return '_OTHER';
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error.name === 'Error' ? error.constructor.name : error.name;
}
