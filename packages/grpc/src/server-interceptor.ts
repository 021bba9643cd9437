import type { Hitch } from '@hitch/core';
import type { Metadata, ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import { ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status as Status } from '@grpc/grpc-js';
import { InvalidOptionError, buckets } from '@hitch/core';
import type { Context, Span } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import { withIncomingCall } from './call-context.js';
import { metadataGetter } from './metadata.js';
import { methodName } from './method-path.js';
import { SERVER_ERROR_CODES, STATUS_NAMES, statusName } from './status.js';
import { takeHandlerError, withHandlerErrorSlot } from './handler-errors.js';

/** The status a responder sees (grpc-js does not export the type by name). */
type PartialStatusObject = Parameters<Parameters<ResponderBuilder['withSendStatus']>[0]>[0];

/** Options of {@link serverInterceptor}. */
export interface ServerInterceptorOptions {
  /** The Hitch instance whose tracer and metrics are used. Required. */
  readonly hitch: Hitch;
  /** Distinct `rpc_service` / `rpc_method` label values kept apart; more count under `__overflow__`. Defaults to `50` / `500`. */
  readonly maxServices?: number;
  readonly maxMethods?: number;
}

/** One instrument set per Hitch instance: both interceptors of a process share them. */
const serverMetrics = new WeakMap<Hitch, ReturnType<typeof createServerMetrics>>();

function createServerMetrics(hitch: Hitch, maxServices: number, maxMethods: number) {
  return {
    duration: hitch.metrics.histogram({
      name: 'rpc_server_call_duration_seconds',
      help: 'Duration of gRPC calls handled by this server',
      labels: { rpc_service: { maxValues: maxServices }, rpc_method: { maxValues: maxMethods }, rpc_status_code: { values: STATUS_NAMES } },
      buckets: buckets.httpLatencySeconds,
    }),
    active: hitch.metrics.gauge({
      name: 'rpc_server_active_calls',
      help: 'gRPC calls this server is handling',
      labels: { rpc_service: { maxValues: maxServices }, rpc_method: { maxValues: maxMethods } },
    }),
  };
}

function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new InvalidOptionError(option, `should be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * A grpc-js server interceptor: a SERVER span per call named `package.Service/Method`, the
 * trace context taken from the call's metadata, the handler run inside the span's context (with
 * the call's deadline and cancellation as `callSignal()` / `callDeadline()`), and
 * `rpc_server_call_duration_seconds` / `rpc_server_active_calls`. Unary and streaming calls.
 */
export function serverInterceptor(options: ServerInterceptorOptions): ServerInterceptor {
  if (typeof options !== 'object' || options === null || typeof options.hitch !== 'object' || options.hitch === null) {
    throw new InvalidOptionError('serverInterceptor.hitch', 'is required: pass the instance from createHitch()');
  }
  const { hitch } = options;
  const maxServices = positiveInteger('serverInterceptor.maxServices', options.maxServices, 50);
  const maxMethods = positiveInteger('serverInterceptor.maxMethods', options.maxMethods, 500);
  let metrics = serverMetrics.get(hitch);
  if (metrics === undefined) {
    metrics = createServerMetrics(hitch, maxServices, maxMethods);
    serverMetrics.set(hitch, metrics);
  }
  const { duration, active } = metrics;
  const tracer = hitch.tracer;
  const propagator = hitch.tracing.propagator;
  const clock = hitch.clock;

  return (methodDescriptor, call: ServerInterceptingCallInterface) => {
    // Health probes come every few seconds from the orchestrator: no span, no metric.
    if (methodDescriptor.path.startsWith('/grpc.health.v1.Health/')) return new ServerInterceptingCall(call);
    const name = methodName(methodDescriptor.path);
    const labels = { rpc_service: name.service, rpc_method: name.method };
    const startMs = clock.now();
    const controller = new AbortController();
    const deadlineValue = call.getDeadline();
    const deadline = deadlineValue instanceof Date ? deadlineValue.getTime() : Number(deadlineValue);
    let span: Span | undefined;
    let ctx: Context = ROOT_CONTEXT;
    let ended = false;

    const end = (code: number, details: string | undefined): void => {
      if (ended || span === undefined) return;
      ended = true;
      const current = span;
      active.dec(labels);
      const codeName = statusName(code);
      current.setAttribute('rpc.status_code', codeName);
      const handlerError = takeHandlerError(ctx);
      if (SERVER_ERROR_CODES.has(code)) {
        if (handlerError !== undefined) current.recordException(handlerError instanceof Error ? handlerError : String(handlerError));
        current.setAttribute('error.type', codeName);
        current.setStatus({ code: SpanStatusCode.ERROR, message: details });
      }
      current.end();
      const seconds = Math.max(0, clock.now() - startMs) / 1000;
      const sampled = (current.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
      const observe = (): void => duration.observe({ ...labels, rpc_status_code: codeName }, seconds);
      if (sampled) context.with(ctx, observe);
      else observe();
      if (!controller.signal.aborted) controller.abort(new Error(`call ended with ${codeName}`));
    };

    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata: Metadata, next) => {
        const parent = propagator.extract(ROOT_CONTEXT, metadata, metadataGetter);
        const peer = call.getPeer();
        span = tracer.startSpan(
          name.full,
          {
            kind: SpanKind.SERVER,
            startTime: startMs,
            attributes: { 'rpc.system.name': 'grpc', 'rpc.method': name.full, ...(peer !== undefined && peer !== 'unknown' ? { 'network.peer.address': peer } : {}) },
          },
          parent,
        );
        ctx = withIncomingCall(withHandlerErrorSlot(trace.setSpan(parent, span)), { deadline: Number.isFinite(deadline) ? deadline : Infinity, signal: controller.signal });
        active.inc(labels);
        context.with(ctx, next, undefined, metadata);
      })
      .withOnReceiveMessage((message: unknown, next) => context.with(ctx, next, undefined, message))
      .withOnReceiveHalfClose((next) => context.with(ctx, next))
      .withOnCancel(() => {
        // Every call ends with a cancel notification; one that arrives before a status means
        // the client went away or the deadline passed (grpc-js answers that itself).
        if (!ended) {
          const expired = Number.isFinite(deadline) && Date.now() >= deadline;
          const reason = expired ? 'deadline exceeded' : 'cancelled by the client';
          controller.abort(new Error(reason));
          end(expired ? Status.DEADLINE_EXCEEDED : Status.CANCELLED, reason);
        }
      })
      .build();

    const responder = new ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status: PartialStatusObject, next) => {
        end(status.code, status.details);
        next(status);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
