import type { CircuitBreaker, CircuitBreakerOptions, Hitch, KeyedBreakers, Policy, RetryOptions } from '@hitch/core';
import type { Interceptor, InterceptorOptions, Listener, NextCall, StatusObject } from '@grpc/grpc-js';
import { InterceptingCall, Metadata, status as Status } from '@grpc/grpc-js';
import { InvalidOptionError, buckets, isBulkheadRejectedError, isCircuitOpenError, isRetryBudgetExceededError, isTimeoutError } from '@hitch/core';
import type { Context, Span } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import { incomingCall } from './call-context.js';
import { metadataSetter } from './metadata.js';
import { methodName } from './method-path.js';
import { STATUS_NAMES, statusName } from './status.js';

/** Per-method policy settings. */
export interface MethodPolicyOptions {
  /**
   * The method may run twice without harm (a read, or a write with an idempotency key), so a
   * failed attempt may be retried. Defaults to `false`: only marked methods are retried.
   */
  readonly idempotent?: boolean;
  /** Status codes retried for this method. Defaults to the policy's `retryableCodes`. */
  readonly retryableCodes?: readonly Status[];
  /** Timeout of each attempt, in milliseconds. Defaults to the policy's `timeoutMs`. */
  readonly timeoutMs?: number;
}

/** What the client interceptor does around each call. */
export interface ClientPolicyOptions {
  /**
   * Retries of unary calls to idempotent methods that failed with a retryable code: options of
   * `@hitch/core`'s `retry` (attempts, backoff, budget), or `false`. Defaults to 3 attempts with
   * the default backoff and retry budget.
   */
  readonly retry?: Omit<RetryOptions, 'retryOn' | 'clock' | 'name' | 'instrumentation'> | false;
  /**
   * A circuit breaker per target and method (a bounded map, see `maxBreakers`): options of
   * `circuitBreaker`, or `false`. An open breaker answers UNAVAILABLE locally, unary and streaming
   * calls alike. Each attempt of a unary call counts; a streaming call counts as a success once
   * its first response message arrives, else by the status it ends with. Defaults to the
   * breaker's defaults.
   */
  readonly breaker?: Omit<CircuitBreakerOptions, 'name' | 'clock' | 'instrumentation'> | false;
  /** Breakers kept (least recently used dropped first). Defaults to `1_000`. */
  readonly maxBreakers?: number;
  /** Timeout of each attempt, in milliseconds; the call's deadline still bounds the whole. Defaults to none. */
  readonly timeoutMs?: number;
  /** Status codes retried (for idempotent methods). Defaults to `[UNAVAILABLE]`. */
  readonly retryableCodes?: readonly Status[];
  /** By method: `'Method'` or `'package.Service/Method'` (the full name wins). */
  readonly methods?: Readonly<Record<string, MethodPolicyOptions>>;
}

/** Options of {@link clientInterceptor}. */
export interface ClientInterceptorOptions {
  /** The Hitch instance. Required. */
  readonly hitch: Hitch;
  /** The server's address (`host:port`): `server.address` on spans, and the breakers' key. Defaults to `'unknown'`. */
  readonly target?: string;
  /** Retry, breaker and timeout for the calls; omitted: none (spans, metrics and deadlines only). */
  readonly policy?: ClientPolicyOptions;
  /** Methods known to be idempotent (e.g. from the proto's `idempotency_level`), by full name. */
  readonly idempotentMethods?: Iterable<string>;
}

/** A call that ended with a status other than OK, as the policies see it. */
export class RpcStatusError extends Error {
  readonly isRpcStatusError = true;
  readonly status: StatusObject;
  constructor(status: StatusObject) {
    super(`${statusName(status.code)}: ${status.details}`);
    this.name = 'RpcStatusError';
    this.status = status;
  }
}

function isRpcStatusError(error: unknown): error is RpcStatusError {
  return typeof error === 'object' && error !== null && (error as { isRpcStatusError?: unknown }).isRpcStatusError === true;
}

/** Codes that say the server or the network is in trouble: they count against the breaker. */
const BREAKER_FAILURE_CODES: ReadonlySet<number> = new Set([
  Status.UNKNOWN,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.INTERNAL,
  Status.UNAVAILABLE,
  Status.DATA_LOSS,
]);

/** The status the caller gets for an error of the policies. */
function statusOfPolicyError(error: unknown, fallbackDetails: string): StatusObject {
  if (isRpcStatusError(error)) return error.status;
  if (isRetryBudgetExceededError(error)) return statusOfPolicyError(error.cause, fallbackDetails);
  const metadata = new Metadata();
  if (isCircuitOpenError(error) || isBulkheadRejectedError(error)) return { code: Status.UNAVAILABLE, details: error.message, metadata };
  if (isTimeoutError(error)) return { code: Status.DEADLINE_EXCEEDED, details: error.message, metadata };
  return { code: Status.UNKNOWN, details: error instanceof Error ? error.message : fallbackDetails, metadata };
}

function deadlineMs(deadline: InterceptorOptions['deadline']): number {
  if (deadline === undefined || deadline === null) return Infinity;
  const ms = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Number.isNaN(ms) ? Infinity : ms;
}

interface Resolved {
  readonly idempotent: boolean;
  readonly retryable: ReadonlySet<number>;
  readonly timeoutMs: number | undefined;
}

/** A method's metric labels, and its label objects per status code, made once. */
interface MethodLabels {
  readonly rpc_service: string;
  readonly rpc_method: string;
  readonly byStatus: Map<number, { rpc_service: string; rpc_method: string; rpc_status_code: string }>;
}

/** One instrument set per Hitch instance. */
const clientMetrics = new WeakMap<Hitch, ReturnType<typeof createClientMetrics>>();
function createClientMetrics(hitch: Hitch) {
  return hitch.metrics.histogram({
    name: 'rpc_client_call_duration_seconds',
    help: 'Duration of gRPC calls (each attempt) made by this client',
    labels: { rpc_service: { maxValues: 50 }, rpc_method: { maxValues: 500 }, rpc_status_code: { values: STATUS_NAMES } },
    buckets: buckets.httpLatencySeconds,
  });
}

/**
 * A streaming call under its method's breaker: admitted, or answered UNAVAILABLE locally while the
 * breaker is open (nothing goes on the wire). Its outcome counts: a success once the first
 * response message arrives (so a long-lived stream is not held as a half-open probe, nor timed
 * out as one), else the status it ends with. A call the caller cancels is not counted.
 */
function streamThroughBreaker(breaker: CircuitBreaker, call: ReturnType<NextCall>, begin: (metadata: Metadata) => (listener: Listener) => Listener): InterceptingCall {
  const caller = new AbortController();
  return new InterceptingCall(call, {
    start: (metadata, listener, nextStart) => {
      let admitted = false;
      const run = (): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          admitted = true;
          let counted = false;
          const count = (failure: RpcStatusError | undefined): void => {
            if (counted) return;
            counted = true;
            if (failure === undefined) resolve();
            else reject(failure);
          };
          const listen = begin(metadata);
          nextStart(
            metadata,
            listen({
              onReceiveMetadata: (m: Metadata) => listener.onReceiveMetadata(m),
              onReceiveMessage: (m: unknown) => {
                count(undefined);
                listener.onReceiveMessage(m);
              },
              onReceiveStatus: (status: StatusObject) => {
                count(status.code === Status.OK ? undefined : new RpcStatusError(status));
                listener.onReceiveStatus(status);
              },
            }),
          );
        });
      breaker.execute(run, { signal: caller.signal }).then(
        () => undefined,
        (error: unknown) => {
          // Admitted: the call's own status reaches the caller.
          if (admitted) return;
          listener.onReceiveStatus(statusOfPolicyError(error, 'call rejected'));
          // Never started: free its slot on the channel (and its deadline timer).
          call.cancelWithStatus(Status.CANCELLED, 'not started: the circuit breaker is open');
        },
      );
    },
    cancel: (next) => {
      caller.abort(new Error('cancelled by the caller'));
      next();
    },
  });
}

/**
 * A grpc-js client interceptor: a CLIENT span per attempt (context injected into the metadata),
 * `rpc_client_call_duration_seconds`, deadline propagation (a call made while handling an
 * incoming call gets the earlier of its own deadline and the incoming one; one whose budget is
 * already spent fails with DEADLINE_EXCEEDED without touching the network), and, with `policy`,
 * retries of idempotent unary calls on retryable codes, a breaker per target and method, and
 * per-attempt timeouts.
 */
export function clientInterceptor(options: ClientInterceptorOptions): Interceptor {
  if (typeof options !== 'object' || options === null || typeof options.hitch !== 'object' || options.hitch === null) {
    throw new InvalidOptionError('clientInterceptor.hitch', 'is required: pass the instance from createHitch()');
  }
  const { hitch } = options;
  const target = options.target ?? 'unknown';
  const policyOptions = options.policy;
  const tracer = hitch.tracer;
  const propagator = hitch.tracing.propagator;
  const clock = hitch.clock;
  let duration = clientMetrics.get(hitch);
  if (duration === undefined) {
    duration = createClientMetrics(hitch);
    clientMetrics.set(hitch, duration);
  }
  const histogram = duration;
  const idempotentMethods = new Set(options.idempotentMethods ?? []);
  const labelsByPath = new Map<string, MethodLabels>();

  const defaultRetryable = new Set<number>(policyOptions?.retryableCodes ?? [Status.UNAVAILABLE]);
  const defaultTimeoutMs = policyOptions?.timeoutMs;
  if (defaultTimeoutMs !== undefined && (!(defaultTimeoutMs > 0) || !Number.isFinite(defaultTimeoutMs))) {
    throw new InvalidOptionError('clientInterceptor.policy.timeoutMs', `should be a positive number of milliseconds, got ${String(defaultTimeoutMs)}`);
  }
  const methodOptions = policyOptions?.methods ?? {};
  for (const [name, m] of Object.entries(methodOptions)) {
    const ms = m?.timeoutMs;
    if (ms !== undefined && (!(ms > 0) || !Number.isFinite(ms))) {
      throw new InvalidOptionError(`clientInterceptor.policy.methods.${name}.timeoutMs`, `should be a positive number of milliseconds, got ${String(ms)}`);
    }
  }
  const resolvedCache = new Map<string, Resolved>();
  const resolve = (full: string, method: string): Resolved => {
    let resolved = resolvedCache.get(full);
    if (resolved === undefined) {
      const m = methodOptions[full] ?? methodOptions[method] ?? {};
      resolved = {
        idempotent: m.idempotent ?? idempotentMethods.has(full),
        retryable: m.retryableCodes !== undefined ? new Set<number>(m.retryableCodes) : defaultRetryable,
        timeoutMs: m.timeoutMs ?? defaultTimeoutMs,
      };
      resolvedCache.set(full, resolved);
    }
    return resolved;
  };

  const retryPolicy =
    policyOptions === undefined || policyOptions.retry === false
      ? undefined
      : hitch.resilience.retry({
          ...(policyOptions.retry ?? {}),
          name: `grpc ${target}`,
          retryOn: (error) => {
            if (!isRpcStatusError(error)) return false;
            const current = retrying.get(error);
            return current !== undefined && current.idempotent && current.retryable.has(error.status.code);
          },
        });
  // Which method settings an error came from (retryOn only sees the error).
  const retrying = new WeakMap<RpcStatusError, Resolved>();
  const breakers: KeyedBreakers | undefined =
    policyOptions === undefined || policyOptions.breaker === false
      ? undefined
      : hitch.resilience.keyedBreakers({
          maxKeys: policyOptions.maxBreakers ?? 1_000,
          create: (key) => ({
            ...(policyOptions.breaker === undefined ? {} : policyOptions.breaker),
            name: key,
            isFailure: (error: unknown) => !isRpcStatusError(error) || BREAKER_FAILURE_CODES.has(error.status.code),
          }),
        });

  /** One attempt: its own CLIENT span and underlying call. */
  const startAttempt = (
    parent: Context,
    full: string,
    labels: MethodLabels,
    metadata: Metadata,
  ): { span: Span; ctx: Context; listen: (listener: Listener) => Listener } => {
    const startMs = clock.now();
    const span = tracer.startSpan(full, { kind: SpanKind.CLIENT, startTime: startMs, attributes: { 'rpc.system.name': 'grpc', 'rpc.method': full, 'server.address': target } }, parent);
    const ctx = trace.setSpan(parent, span);
    propagator.inject(ctx, metadata, metadataSetter);
    let ended = false;
    const listen = (listener: Listener): Listener => ({
      ...listener,
      onReceiveStatus: (status, next) => {
        if (!ended) {
          ended = true;
          const name = statusName(status.code);
          span.setAttribute('rpc.status_code', name);
          if (status.code !== Status.OK) {
            span.setAttribute('error.type', name);
            span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
          }
          span.end();
          const seconds = Math.max(0, clock.now() - startMs) / 1000;
          let statusLabels = labels.byStatus.get(status.code);
          if (statusLabels === undefined) {
            statusLabels = { rpc_service: labels.rpc_service, rpc_method: labels.rpc_method, rpc_status_code: name };
            labels.byStatus.set(status.code, statusLabels);
          }
          const observed = statusLabels;
          const observe = (): void => histogram.observe(observed, seconds);
          if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) context.with(ctx, observe);
          else observe();
        }
        if (listener.onReceiveStatus !== undefined) listener.onReceiveStatus(status, next);
        else next(status);
      },
    });
    return { span, ctx, listen };
  };

  return (callOptions, nextCall) => {
    const { full, service, method } = methodName(callOptions.method_definition.path);
    let labels = labelsByPath.get(callOptions.method_definition.path);
    if (labels === undefined) {
      labels = { rpc_service: service, rpc_method: method, byStatus: new Map() };
      if (labelsByPath.size < 10_000) labelsByPath.set(callOptions.method_definition.path, labels);
    }
    const parent = context.active();
    const settings = resolve(full, method);
    const incoming = incomingCall(parent)?.deadline ?? Infinity;
    const deadline = Math.min(deadlineMs(callOptions.deadline), incoming);
    const next = (): ReturnType<typeof nextCall> => nextCall(deadline === Infinity ? callOptions : { ...callOptions, deadline: new Date(deadline) });

    // The budget is spent, or the caller of the incoming call has gone: answer locally, nothing
    // goes on the wire (work for a caller who stopped waiting only adds load).
    const expired = deadline <= Date.now();
    if (expired || incomingCall(parent)?.ended === true) {
      const status: StatusObject = expired
        ? { code: Status.DEADLINE_EXCEEDED, details: `deadline already passed before ${full} was sent`, metadata: new Metadata() }
        : { code: Status.CANCELLED, details: `the incoming call ended before ${full} was sent`, metadata: new Metadata() };
      const unused = next();
      return new InterceptingCall(unused, {
        start: (_metadata, listener) => {
          const { listen } = startAttempt(parent, full, labels, new Metadata());
          setImmediate(() => {
            // The call grpc-js made for this interceptor is never started: cancel it so its deadline timer goes.
            unused.cancelWithStatus(status.code, status.details);
            listen({ onReceiveStatus: (s, n) => n(s) }).onReceiveStatus!(status, (s) => listener.onReceiveStatus(s));
          });
        },
        sendMessage: () => undefined,
        halfClose: () => undefined,
        cancel: () => undefined,
      });
    }

    const def = callOptions.method_definition;
    const unary = !def.requestStream && !def.responseStream;
    const breaker = breakers?.get(`${target} ${full}`);
    const policies: Policy[] = [];
    if (unary && retryPolicy !== undefined && settings.idempotent) policies.push(retryPolicy);
    if (breaker !== undefined) policies.push(breaker);
    const attemptTimeout = settings.timeoutMs;

    if (!unary || (policies.length === 0 && attemptTimeout === undefined)) {
      // Streaming calls, or no policy: one attempt, passed straight through.
      if (breaker === undefined || unary) {
        return new InterceptingCall(next(), {
          start: (metadata, listener, nextStart) => {
            const { listen } = startAttempt(parent, full, labels, metadata);
            nextStart(metadata, listen(listener));
          },
        });
      }
      return streamThroughBreaker(breaker, next(), (metadata) => startAttempt(parent, full, labels, metadata).listen);
    }

    // Unary with policies: the request is kept, each attempt is a new call under the policies.
    // The call grpc-js hands this interceptor is never started (each attempt is a call of its
    // own); it is cancelled once the call is over, or its deadline timer would keep the process
    // alive, and the channel would count it as in flight, until the deadline.
    const shell = next();
    let outer: Listener | undefined;
    let requestMetadata = new Metadata();
    let message: unknown;
    let current: ReturnType<typeof nextCall> | undefined;
    let cancelled: StatusObject | undefined;
    // Aborted when the caller cancels: no further attempt, no backoff waited out.
    const caller = new AbortController();
    const composed: Policy | undefined =
      policies.length === 0 ? undefined : policies.length === 1 ? policies[0]! : hitch.resilience.compose(...(policies as [Policy, Policy]));

    type AttemptResult = { metadata: Metadata | undefined; message: unknown; status: StatusObject };
    const attemptOnce = (signal: AbortSignal): Promise<AttemptResult> =>
      new Promise<AttemptResult>((resolveAttempt, rejectAttempt) => {
        if (cancelled !== undefined) {
          rejectAttempt(new RpcStatusError(cancelled));
          return;
        }
        const attemptDeadline = Math.min(deadline, attemptTimeout === undefined ? Infinity : Date.now() + attemptTimeout);
        const call = nextCall(attemptDeadline === Infinity ? callOptions : { ...callOptions, deadline: new Date(attemptDeadline) });
        current = call;
        let receivedMetadata: Metadata | undefined;
        let receivedMessage: unknown;
        const onAbort = (): void => call.cancelWithStatus(Status.CANCELLED, 'attempt abandoned by the policy');
        signal.addEventListener('abort', onAbort, { once: true });
        const metadata = requestMetadata.clone();
        const { listen } = startAttempt(parent, full, labels, metadata);
        const listener = listen({
          onReceiveStatus: (status, n) => {
            signal.removeEventListener('abort', onAbort);
            if (status.code === Status.OK) resolveAttempt({ metadata: receivedMetadata, message: receivedMessage, status });
            else rejectAttempt(new RpcStatusError(status));
            n(status);
          },
        });
        call.start(metadata, {
          onReceiveMetadata: (m) => {
            receivedMetadata = m;
          },
          onReceiveMessage: (m) => {
            receivedMessage = m;
          },
          onReceiveStatus: (s) => listener.onReceiveStatus!(s, () => undefined),
        });
        call.sendMessage(message);
        call.halfClose();
      });
    const attempt = async (signal: AbortSignal): Promise<AttemptResult> => {
      try {
        return await attemptOnce(signal);
      } catch (error) {
        if (isRpcStatusError(error)) retrying.set(error, settings);
        throw error;
      }
    };

    return new InterceptingCall(shell, {
      start: (metadata, listener) => {
        requestMetadata = metadata;
        outer = listener as Listener;
      },
      sendMessage: (m) => {
        message = m;
      },
      halfClose: () => {
        const deliver = outer!;
        const release = (): void => shell.cancelWithStatus(Status.CANCELLED, 'the call is over');
        const executeOptions = deadline === Infinity ? { signal: caller.signal } : { signal: caller.signal, deadline };
        const run = composed === undefined ? attempt(caller.signal) : composed.execute(attempt, executeOptions);
        run.then(
          (result) => {
            release();
            if (result.metadata !== undefined) deliver.onReceiveMetadata?.(result.metadata, () => undefined);
            deliver.onReceiveMessage?.(result.message, () => undefined);
            deliver.onReceiveStatus?.(result.status, () => undefined);
          },
          (error: unknown) => {
            release();
            deliver.onReceiveStatus?.(statusOfPolicyError(error, 'call failed'), () => undefined);
          },
        );
      },
      cancel: () => {
        if (cancelled !== undefined) return;
        cancelled = { code: Status.CANCELLED, details: 'cancelled by the caller', metadata: new Metadata() };
        current?.cancelWithStatus(Status.CANCELLED, 'cancelled by the caller');
        caller.abort(new RpcStatusError(cancelled));
      },
    });
  };
}
