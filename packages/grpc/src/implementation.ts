import type { Logger } from '@hitch/core';
import type { MethodDefinition, ServiceDefinition, UntypedHandleCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { rememberHandlerError } from './handler-errors.js';
import { grpcCodeOf, statusFor } from './status.js';

/** An error grpc-js sends as a status: `code`, `details`, `metadata`. */
export interface StatusError extends Error {
  readonly code: Status;
  readonly details: string;
  readonly metadata: Metadata;
}

/**
 * The status error grpc-js sends for a handler's `error`. Trailers are the ones the handler passed
 * with it (`callback(error, null, trailer)`), else those of an error that carries its own gRPC
 * code (a downstream `ServiceError` keeps its trailers, as grpc-js would send them); the metadata
 * of any other error is its internals and stays on the server.
 */
function toStatusError(error: unknown, path: string, logger: Logger | undefined, trailer?: Metadata): StatusError {
  rememberHandlerError(error);
  const { code, details } = statusFor(error);
  if (code === Status.INTERNAL && logger !== undefined) logger.error({ err: error as Error }, `${path} failed`);
  const own = grpcCodeOf(error) === undefined ? undefined : (error as { metadata?: unknown }).metadata;
  const statusError = new Error(details) as Error & { code: Status; details: string; metadata: Metadata };
  statusError.code = code;
  statusError.details = details;
  statusError.metadata = isMetadata(trailer) ? trailer : isMetadata(own) ? own : new Metadata();
  return statusError;
}

/** Duck-typed: the handler's `Metadata` may come from another copy of grpc-js. */
function isMetadata(value: unknown): value is Metadata {
  return typeof value === 'object' && value !== null && typeof (value as { getMap?: unknown }).getMap === 'function' && typeof (value as { toHttp2Headers?: unknown }).toHttp2Headers === 'function';
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

type Callback = (error: unknown, value?: unknown, trailer?: Metadata, flags?: number) => void;
type UnaryLike = (call: unknown, callback: Callback) => unknown;
type StreamLike = (call: { emit: (event: string | symbol, ...args: unknown[]) => boolean }) => unknown;

/**
 * Wraps one handler so that typed errors become the status of the table (see
 * `GRPC_STATUS_BY_ERROR_CODE`) and unknown errors INTERNAL without their message; thrown errors
 * and rejected promises are answered, never lost; a unary handler may also return (a promise
 * of) its response instead of calling back.
 */
function wrapHandler(definition: MethodDefinition<unknown, unknown>, handler: UntypedHandleCall, logger: Logger | undefined): UntypedHandleCall {
  const path = definition.path;
  if (!definition.responseStream) {
    // Unary and client-streaming: (call, callback).
    const original = handler as unknown as UnaryLike;
    const wrapped: UnaryLike = (call, callback) => {
      let answered = false;
      const done: Callback = (error, value, trailer, flags) => {
        if (answered) return;
        answered = true;
        if (error !== null && error !== undefined) callback(toStatusError(error, path, logger, trailer));
        else callback(null, value, trailer, flags);
      };
      try {
        const result = original(call, done);
        if (isThenable(result)) {
          result.then(
            (value) => {
              if (value !== undefined) done(null, value);
            },
            (error: unknown) => done(error ?? new Error('handler rejected')),
          );
        }
      } catch (error) {
        done(error ?? new Error('handler threw'));
      }
    };
    return wrapped as unknown as UntypedHandleCall;
  }
  // Server-streaming and bidi: errors travel as an 'error' event on the call.
  const original = handler as unknown as StreamLike;
  const wrapped: StreamLike = (call) => {
    const emit = call.emit;
    call.emit = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'error') return emit.call(this, event, toStatusError(args[0], path, logger));
      return emit.call(this, event, ...args);
    };
    try {
      const result = original(call);
      if (isThenable(result)) result.then(undefined, (error: unknown) => call.emit('error', error ?? new Error('handler rejected')));
    } catch (error) {
      call.emit('error', error ?? new Error('handler threw'));
    }
  };
  return wrapped as unknown as UntypedHandleCall;
}

/** Wraps every handler of a service implementation (see {@link wrapHandler}). Methods missing from `implementation` stay missing (UNIMPLEMENTED). */
export function wrapImplementation(service: ServiceDefinition, implementation: UntypedServiceImplementation, logger?: Logger): UntypedServiceImplementation {
  const wrapped: UntypedServiceImplementation = {};
  for (const [name, definition] of Object.entries(service)) {
    const method = definition as MethodDefinition<unknown, unknown> & { originalName?: string };
    const handler = implementation[name] ?? (method.originalName !== undefined ? implementation[method.originalName] : undefined);
    if (typeof handler !== 'function') continue;
    wrapped[name] = wrapHandler(method, handler, logger);
    if (method.originalName !== undefined) wrapped[method.originalName] = wrapped[name];
  }
  return wrapped;
}
