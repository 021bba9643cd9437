import type { Hitch } from '@hitch/core';
import type { Metadata, ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import { ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status as Status } from '@grpc/grpc-js';
import { InvalidOptionError, buckets } from '@hitch/core';
import type { Context, Span } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import { IncomingCallState, withIncomingCall } from './call-context.js';
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
  const observe = (labels: { rpc_service: string; rpc_method: string; rpc_status_code: string }, seconds: number): void => duration.observe(labels, seconds);
  const tracer = hitch.tracer;
  const propagator = hitch.tracing.propagator;
  const clock = hitch.clock;

  /** Label objects per method, made once (a call spreads nothing). */
  const labelsByPath = new Map<string, { readonly active: { rpc_service: string; rpc_method: string }; readonly byStatus: Map<number, { rpc_service: string; rpc_method: string; rpc_status_code: string }> }>();
  const labelsFor = (path: string) => {
    let entry = labelsByPath.get(path);
    if (entry === undefined) {
      const name = methodName(path);
      entry = { active: { rpc_service: name.service, rpc_method: name.method }, byStatus: new Map() };
      if (labelsByPath.size < 10_000) labelsByPath.set(path, entry);
    }
    return entry;
  };

  return (methodDescriptor, call: ServerInterceptingCallInterface) => {
    // Health probes come every few seconds from the orchestrator: no span, no metric.
    if (methodDescriptor.path.startsWith('/grpc.health.v1.Health/')) return new ServerInterceptingCall(call);
    const name = methodName(methodDescriptor.path);
    const methodLabels = labelsFor(methodDescriptor.path);
    const labels = methodLabels.active;
    // grpc-js runs a unary or server-streaming handler at half-close, a client-streaming or bidi
    // one at metadata (and emits its 'data' events at each message): only those steps need the context.
    const streamingRequest = methodDescriptor.requestStream;
    const startMs = clock.now();
    const deadlineValue = call.getDeadline();
    const deadline = deadlineValue instanceof Date ? deadlineValue.getTime() : Number(deadlineValue);
    const incoming = new IncomingCallState(Number.isFinite(deadline) ? deadline : Infinity);
    let span: Span | undefined;
    let ctx: Context = ROOT_CONTEXT;
    let ended = false;

    const end = (code: number, details: string | undefined): void => {
      if (ended || span === undefined) return;
      ended = true;
      const current = span;
      active.dec(labels);
      const codeName = statusName(code);
      if (SERVER_ERROR_CODES.has(code)) {
        const handlerError = takeHandlerError(ctx);
        if (handlerError !== undefined) current.recordException(handlerError instanceof Error ? handlerError : String(handlerError));
        current.setAttributes({ 'rpc.status_code': codeName, 'error.type': codeName });
        current.setStatus({ code: SpanStatusCode.ERROR, message: details });
      } else {
        current.setAttribute('rpc.status_code', codeName);
      }
      current.end();
      incoming.end(`call ended with ${codeName}`);
      const seconds = Math.max(0, clock.now() - startMs) / 1000;
      let statusLabels = methodLabels.byStatus.get(code);
      if (statusLabels === undefined) {
        statusLabels = { ...labels, rpc_status_code: codeName };
        methodLabels.byStatus.set(code, statusLabels);
      }
      if ((current.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) context.with(ctx, observe, undefined, statusLabels, seconds);
      else observe(statusLabels, seconds);
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
            attributes: peer !== undefined && peer !== 'unknown' ? { 'rpc.system.name': 'grpc', 'rpc.method': name.full, 'network.peer.address': peer } : { 'rpc.system.name': 'grpc', 'rpc.method': name.full },
          },
          parent,
        );
        ctx = withIncomingCall(withHandlerErrorSlot(trace.setSpan(parent, span)), incoming);
        active.inc(labels);
        if (streamingRequest) context.with(ctx, next, undefined, metadata);
        else next(metadata);
      })
      .withOnReceiveMessage((message: unknown, next) => {
        if (streamingRequest) context.with(ctx, next, undefined, message);
        else next(message);
      })
      .withOnReceiveHalfClose((next) => context.with(ctx, next))
      .withOnCancel(() => {
        // Every call ends with a cancel notification; one that arrives before a status means
        // the client went away or the deadline passed (grpc-js answers that itself).
        if (!ended) {
          const expired = Number.isFinite(deadline) && Date.now() >= deadline;
          const reason = expired ? 'deadline exceeded' : 'cancelled by the client';
          incoming.end(reason);
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
