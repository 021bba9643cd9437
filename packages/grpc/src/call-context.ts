import type { Context } from '@opentelemetry/api';
import { context, createContextKey } from '@opentelemetry/api';

/** What an incoming call gives the code that handles it. */
export interface IncomingCall {
  /** When the caller stops waiting, in epoch milliseconds; `Infinity` without a deadline. */
  readonly deadline: number;
  /** Aborts when the call is cancelled or its deadline passes. */
  readonly signal: AbortSignal;
  /** Whether the call is over: cancelled, past its deadline, or answered (reading it creates no signal). */
  readonly ended: boolean;
}

/**
 * An incoming call's deadline and cancellation. The AbortSignal is made only when a handler asks
 * for it: creating one costs microseconds, and most handlers never read it.
 */
export class IncomingCallState implements IncomingCall {
  private controller: AbortController | undefined;
  /** Why the call is over (cancelled, deadline passed, or answered); the Error is built only if a signal needs it. */
  private endedBecause: string | undefined;

  constructor(readonly deadline: number) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.endedBecause !== undefined) this.controller.abort(new Error(this.endedBecause));
    }
    return this.controller.signal;
  }

  get ended(): boolean {
    return this.endedBecause !== undefined;
  }

  /**
   * The call is over: the client cancelled, the deadline passed, or it was answered (work the
   * handler left behind should stop too). Aborts the signal if one was handed out.
   */
  end(because: string): void {
    if (this.endedBecause !== undefined) return;
    this.endedBecause = because;
    if (this.controller !== undefined && !this.controller.signal.aborted) this.controller.abort(new Error(because));
  }
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
