import type { Context } from '@opentelemetry/api';
import { context, createContextKey } from '@opentelemetry/api';

// The error a handler failed with, handed from the implementation wrapper (which sees it) to
// the server interceptor (which sees only the status grpc-js makes of it) through the call's context.

const SLOT = createContextKey('hitch.grpc.handler-error');
type Slot = { error: unknown; set: boolean };

export function withHandlerErrorSlot(ctx: Context): Context {
  const slot: Slot = { error: undefined, set: false };
  return ctx.setValue(SLOT, slot);
}

/** Remembers the first error of the call being handled in the active context. */
export function rememberHandlerError(error: unknown): void {
  const slot = context.active().getValue(SLOT) as Slot | undefined;
  if (slot !== undefined && !slot.set) {
    slot.error = error;
    slot.set = true;
  }
}

export function takeHandlerError(ctx: Context): unknown {
  const slot = ctx.getValue(SLOT) as Slot | undefined;
  return slot?.set === true ? slot.error : undefined;
}
