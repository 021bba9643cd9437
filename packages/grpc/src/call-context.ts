import type { Context } from '@opentelemetry/api';
import { context, createContextKey } from '@opentelemetry/api';

/** What an incoming call gives the code that handles it. */
export interface IncomingCall {
  /** When the caller stops waiting, in epoch milliseconds; `Infinity` without a deadline. */
  readonly deadline: number;
  /** Aborts when the call is cancelled or its deadline passes. */
  readonly signal: AbortSignal;
}

const INCOMING_CALL = createContextKey('hitch.grpc.incoming-call');

export function withIncomingCall(ctx: Context, call: IncomingCall): Context {
  return ctx.setValue(INCOMING_CALL, call);
}

/** The incoming gRPC call being handled in the active context, if any. */
export function incomingCall(ctx: Context = context.active()): IncomingCall | undefined {
  return ctx.getValue(INCOMING_CALL) as IncomingCall | undefined;
}

/**
 * The signal of the incoming call being handled: aborts when the caller cancels or the
 * deadline passes. Pass it to the work the handler does. `undefined` outside a handler.
 */
export function callSignal(): AbortSignal | undefined {
  return incomingCall()?.signal;
}

/** The deadline of the incoming call being handled (epoch ms, `Infinity` for none); `undefined` outside a handler. */
export function callDeadline(): number | undefined {
  return incomingCall()?.deadline;
}
