import type { EventEmitter } from 'node:events';
import type { Context } from '@opentelemetry/api';
import { context as contextApi } from '@opentelemetry/api';
import { InvalidOptionError } from '../errors/hitch-error.js';

/**
 * Returns `fn` bound to the context active now (or to `ctx`): whenever and wherever it is called
 * later (a timer created at start-up, a pool's callback, a queue consumer), it runs in that
 * context, so spans and log lines keep the trace id. `this`, arguments and the return value pass
 * through unchanged.
 */
export function bind<F extends (...args: never[]) => unknown>(fn: F, ctx: Context = contextApi.active()): F {
  if (typeof fn !== 'function') throw new InvalidOptionError('bind.fn', `should be a function, got ${typeof fn}`);
  return contextApi.bind(ctx, fn);
}

/**
 * Which context the listeners of a bound emitter run in.
 * - `'listener'`: the context active when the listener was added.
 * - `'emit'`: the context active at the `emit()` call.
 */
export type EmitterContextMode = 'listener' | 'emit';

type EventName = string | symbol;
type Listener = (...args: unknown[]) => unknown;

/** The methods of an EventEmitter that `bindEmitter` replaces, typed loosely enough to forward any call. */
interface EmitterMethods {
  addListener(event: EventName, listener: Listener): unknown;
  on(event: EventName, listener: Listener): unknown;
  prependListener(event: EventName, listener: Listener): unknown;
  once(event: EventName, listener: Listener): unknown;
  prependOnceListener(event: EventName, listener: Listener): unknown;
  removeListener(event: EventName, listener: Listener): unknown;
  off(event: EventName, listener: Listener): unknown;
  removeAllListeners(...event: [] | [EventName | undefined]): unknown;
  emit(event: EventName, ...args: unknown[]): boolean;
}

const BOUND_MODE = Symbol.for('hitch.tasks.boundEmitterMode');

/**
 * Makes an EventEmitter's listeners run in a chosen OpenTelemetry context, and returns the same
 * emitter (patched in place). Bind it before adding listeners: listeners added earlier are left
 * as they are.
 *
 * - `'listener'` (the default): each listener runs in the context active when it was added with
 *   `on`/`addListener`/`prependListener`/`once`/`prependOnceListener`. This is the case that
 *   loses traces: an emitter created at start-up (a connection, a pool, a client) emits from its
 *   own I/O or timer callbacks, which belong to no request, while each request registers its own
 *   listeners (`conn.once('reply', ...)`). Binding per listener gives each one its request's
 *   trace. It is the default because the other case mostly works without help: a plain emitter
 *   calls its listeners synchronously inside `emit()`, so they already see the emitter's context.
 * - `'emit'`: each listener runs in the context of the `emit()` call that invoked it, whatever the
 *   context it was added in. Use it for an event bus whose listeners are registered once at
 *   start-up and whose events are emitted per request, when something in between would otherwise
 *   switch the context, e.g. an `EventEmitterAsyncResource` (which runs its listeners in the
 *   context where the emitter was created).
 *
 * `removeListener`/`off` keep working with the listener you added (the original function maps
 * to its wrapper, `once` included), as do `removeAllListeners`, `listeners()` and
 * `listenerCount(event, listener)`. Binding the same emitter twice with the same mode is a no-op;
 * with the other mode it throws.
 */
export function bindEmitter<E extends EventEmitter>(emitter: E, mode: EmitterContextMode = 'listener'): E {
  if (typeof emitter !== 'object' || emitter === null || typeof (emitter as Partial<EventEmitter>).on !== 'function') {
    throw new InvalidOptionError('bindEmitter.emitter', 'should be an EventEmitter');
  }
  if (mode !== 'listener' && mode !== 'emit') {
    throw new InvalidOptionError('bindEmitter.mode', `should be 'listener' or 'emit', got ${JSON.stringify(mode)}`);
  }
  const marked = emitter as unknown as Record<symbol, unknown>;
  const bound = marked[BOUND_MODE];
  if (bound === mode) return emitter;
  if (bound !== undefined) {
    throw new InvalidOptionError('bindEmitter.mode', `this emitter is already bound with mode '${String(bound)}', cannot bind it with '${mode}'`);
  }

  const target = emitter as unknown as EmitterMethods;
  const original = {
    addListener: target.addListener,
    on: target.on,
    prependListener: target.prependListener,
    removeListener: target.removeListener,
    off: target.off,
    removeAllListeners: target.removeAllListeners,
    emit: target.emit,
  };
  /** event → original listener → its wrappers, oldest first (a listener may be added more than once). */
  const wrappers = new Map<EventName, Map<Listener, Listener[]>>();
  /** Contexts of the `emit()` calls in progress, innermost last (`'emit'` mode). */
  const emitContexts: Context[] = [];

  const remember = (event: EventName, listener: Listener, wrapped: Listener): void => {
    let byListener = wrappers.get(event);
    if (byListener === undefined) wrappers.set(event, (byListener = new Map()));
    const list = byListener.get(listener);
    if (list === undefined) byListener.set(listener, [wrapped]);
    else list.push(wrapped);
  };

  /** Forgets one wrapper of `listener` (`wrapped`, or the newest) and returns it. */
  const forget = (event: EventName, listener: Listener, wrapped?: Listener): Listener | undefined => {
    const byListener = wrappers.get(event);
    const list = byListener?.get(listener);
    if (byListener === undefined || list === undefined) return undefined;
    const index = wrapped === undefined ? list.length - 1 : list.lastIndexOf(wrapped);
    if (index < 0) return undefined;
    const [found] = list.splice(index, 1);
    if (list.length === 0) byListener.delete(listener);
    if (byListener.size === 0) wrappers.delete(event);
    return found;
  };

  const wrap = (event: EventName, listener: Listener, once: boolean): Listener => {
    const added = contextApi.active();
    let fired = false;
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      if (once) {
        if (fired) return undefined;
        fired = true;
        forget(event, listener, wrapped);
        original.removeListener.call(emitter, event, wrapped);
      }
      const ctx = mode === 'listener' ? added : emitContexts.at(-1);
      return ctx === undefined ? listener.apply(this, args) : contextApi.with(ctx, listener, this, ...args);
    };
    // What Node's own `once` does: `listeners()`, `listenerCount(event, fn)` and 'newListener' see the original.
    (wrapped as Listener & { listener?: Listener }).listener = listener;
    remember(event, listener, wrapped);
    return wrapped;
  };

  const adder = (add: (this: unknown, event: EventName, listener: Listener) => unknown, once: boolean) =>
    function (this: unknown, event: EventName, listener: Listener): unknown {
      // Let the emitter reject a non-function the way it always does.
      if (typeof listener !== 'function') return add.call(this, event, listener);
      return add.call(this, event, wrap(event, listener, once));
    };

  const remover = (remove: (this: unknown, event: EventName, listener: Listener) => unknown) =>
    function (this: unknown, event: EventName, listener: Listener): unknown {
      return remove.call(this, event, forget(event, listener) ?? listener);
    };

  const patch: Partial<EmitterMethods> = {
    addListener: adder(original.addListener, false),
    on: adder(original.on, false),
    prependListener: adder(original.prependListener, false),
    once: adder(original.on, true),
    prependOnceListener: adder(original.prependListener, true),
    removeListener: remover(original.removeListener),
    off: remover(original.off),
    removeAllListeners(this: unknown, ...event: [] | [EventName | undefined]): unknown {
      const [name] = event;
      if (name === undefined) wrappers.clear();
      else wrappers.delete(name);
      return original.removeAllListeners.apply(this, event);
    },
  };
  if (mode === 'emit') {
    patch.emit = function (this: unknown, event: EventName, ...args: unknown[]): boolean {
      emitContexts.push(contextApi.active());
      try {
        return original.emit.call(this, event, ...args);
      } finally {
        emitContexts.pop();
      }
    };
  }
  for (const [key, value] of Object.entries(patch)) {
    Object.defineProperty(emitter, key, { value, writable: true, configurable: true, enumerable: false });
  }
  Object.defineProperty(emitter, BOUND_MODE, { value: mode, configurable: true, enumerable: false });
  return emitter;
}
