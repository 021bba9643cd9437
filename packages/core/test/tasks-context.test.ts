import { EventEmitter, EventEmitterAsyncResource } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Span, SpanContext } from '@opentelemetry/api';
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors/hitch-error.js';
import { bind, bindEmitter, createTaskRunner, injectContext, runWithExtractedContext } from '../src/tasks/index.js';
import { deferred } from './support/async.js';
import { useTestTracer } from './support/test-tracer.js';

const { tracer, exporter } = useTestTracer('tasks-context-test');

/** The trace id seen by the code running now, if any. */
const activeTraceId = (): string | undefined => trace.getSpanContext(context.active())?.traceId;

/** Runs `fn` inside a new span (ended right after, like a request that queued work and returned). */
function inRequest<T>(fn: (span: Span) => T): { traceId: string; spanId: string; result: T } {
  return tracer.startActiveSpan('request', (span) => {
    const result = fn(span);
    span.end();
    return { ...span.spanContext(), result };
  });
}

/**
 * What services do at start-up: one timer, created outside any span, that drains a queue of work
 * items pushed later from inside requests. The timer's callbacks run in the context where it was
 * created (none), not in the context of whoever pushed the item.
 */
function startupLoop(): { push(item: () => void): void; stop(): void; readonly inTick: boolean } {
  return context.with(ROOT_CONTEXT, () => {
    const items: (() => void)[] = [];
    let inTick = false;
    const timer = setInterval(() => {
      inTick = true;
      try {
        for (const item of items.splice(0)) item();
      } finally {
        inTick = false;
      }
    }, 1);
    return {
      push: (item: () => void) => void items.push(item),
      stop: () => clearInterval(timer),
      get inTick() {
        return inTick;
      },
    };
  });
}

describe('trace id across a queue drained by a timer created at start-up', () => {
  it('is lost by the naive version', async () => {
    const loop = startupLoop();
    try {
      const seen = deferred<{ traceId: string | undefined; inTick: boolean }>();
      const request = inRequest(() => loop.push(() => seen.resolve({ traceId: activeTraceId(), inTick: loop.inTick })));
      const { traceId, inTick } = await seen.promise;
      expect(inTick).toBe(true);
      expect(request.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(traceId).toBeUndefined();
    } finally {
      loop.stop();
    }
  });

  it('is kept when the item is wrapped with bind()', async () => {
    const loop = startupLoop();
    try {
      const seen = deferred<{ traceId: string | undefined; inTick: boolean }>();
      const request = inRequest(() => loop.push(bind(() => seen.resolve({ traceId: activeTraceId(), inTick: loop.inTick }))));
      const { traceId, inTick } = await seen.promise;
      expect(inTick).toBe(true);
      expect(traceId).toBe(request.traceId);
    } finally {
      loop.stop();
    }
  });

  it('is kept by submit() when the timer is what starts the queued tasks', async () => {
    const loop = startupLoop();
    const runner = createTaskRunner({ name: 'mailer', concurrency: 1 }, { tracer });
    try {
      // The slot is held by a task that only the start-up timer releases, so every queued task
      // below is started from inside the timer's callback.
      const release = new AbortController();
      const holder = runner.submit('hold', () => new Promise<never>(() => undefined), { signal: release.signal });
      holder.catch(() => undefined);
      const requests = [1, 2, 3].map((n) =>
        inRequest(() => runner.submit(`send ${n}`, () => ({ traceId: activeTraceId(), inTick: loop.inTick }))),
      );
      loop.push(() => release.abort(new Error('released by the start-up timer')));
      for (const request of requests) {
        const seen = await request.result;
        expect(seen.traceId).toBe(request.traceId);
      }
      expect((await requests[0]!.result).inTick).toBe(true);
      const spans = exporter.getFinishedSpans().filter((span) => span.name.startsWith('task send'));
      expect(spans.map((span) => span.parentSpanContext?.spanId)).toEqual(requests.map((request) => request.spanId));
    } finally {
      loop.stop();
    }
  });
});

describe('bind', () => {
  it('keeps this, arguments and the return value, and accepts an explicit context', () => {
    const request = inRequest(() =>
      bind(function (this: { base: number }, a: number, b: number) {
        return { sum: this.base + a + b, traceId: activeTraceId() };
      }),
    );
    const bound = request.result;
    expect(bound.call({ base: 1 }, 2, 3)).toEqual({ sum: 6, traceId: request.traceId });

    const unbound = inRequest(() => bind(() => activeTraceId(), ROOT_CONTEXT));
    expect(unbound.result()).toBeUndefined();
    expect(() => bind('nope' as unknown as () => void)).toThrow(InvalidOptionError);
  });
});

describe('bindEmitter', () => {
  it("'listener' mode: a listener added in a request keeps its trace when the start-up timer emits", async () => {
    const loop = startupLoop();
    // A connection-like emitter created at start-up; each request waits for its own reply.
    const { naive, bound } = context.with(ROOT_CONTEXT, () => ({ naive: new EventEmitter(), bound: bindEmitter(new EventEmitter()) }));
    try {
      const seenNaive = deferred<string | undefined>();
      const seenBound = deferred<string | undefined>();
      const request = inRequest(() => {
        naive.once('reply', () => seenNaive.resolve(activeTraceId()));
        bound.once('reply', () => seenBound.resolve(activeTraceId()));
      });
      loop.push(() => {
        naive.emit('reply');
        bound.emit('reply');
      });
      expect(await seenNaive.promise).toBeUndefined();
      expect(await seenBound.promise).toBe(request.traceId);
      expect(bound.listenerCount('reply')).toBe(0);
    } finally {
      loop.stop();
    }
  });

  it("'emit' mode: listeners registered at start-up run in the context of each emit() call", async () => {
    const loop = startupLoop();
    // An EventEmitterAsyncResource runs its listeners in the context it was created in: the
    // start-up context, whoever emits. 'emit' mode restores the emitter's context.
    const { naive, bound, plain } = context.with(ROOT_CONTEXT, () => ({
      naive: new EventEmitterAsyncResource({ name: 'naive-bus' }),
      bound: bindEmitter(new EventEmitterAsyncResource({ name: 'bus' }), 'emit'),
      plain: bindEmitter(new EventEmitter(), 'emit'),
    }));
    try {
      const seen: Record<string, string | undefined> = {};
      const all = deferred();
      context.with(ROOT_CONTEXT, () => {
        naive.on('job', (name: string) => (seen[`naive ${name}`] = activeTraceId()));
        bound.on('job', (name: string) => (seen[`bound ${name}`] = activeTraceId()));
        plain.on('job', (name: string) => (seen[`plain ${name}`] = activeTraceId()));
      });
      // Requests push the emit as a bound work item; the start-up timer runs it.
      const first = inRequest(() =>
        loop.push(
          bind(() => {
            for (const emitter of [naive, bound, plain]) emitter.emit('job', 'first');
          }),
        ),
      );
      const second = inRequest(() =>
        loop.push(
          bind(() => {
            for (const emitter of [naive, bound, plain]) emitter.emit('job', 'second');
            all.resolve();
          }),
        ),
      );
      await all.promise;
      expect(seen).toEqual({
        'naive first': undefined,
        'bound first': first.traceId,
        'plain first': first.traceId,
        'naive second': undefined,
        'bound second': second.traceId,
        'plain second': second.traceId,
      });
    } finally {
      loop.stop();
      naive.emitDestroy();
      bound.emitDestroy();
    }
  });

  it("'emit' mode uses the innermost emit() context of nested emits", () => {
    const bus = bindEmitter(new EventEmitter(), 'emit');
    const seen: (string | undefined)[] = [];
    bus.on('inner', () => seen.push(activeTraceId()));
    const outer = inRequest(() => {
      bus.on('outer', () => {
        seen.push(activeTraceId());
        context.with(ROOT_CONTEXT, () => bus.emit('inner'));
        seen.push(activeTraceId());
      });
      bus.emit('outer');
    });
    expect(seen).toEqual([outer.traceId, undefined, outer.traceId]);
  });

  it('keeps removeListener/off, once, prepend, listeners() and removeAllListeners working with the original listeners', () => {
    const emitter = bindEmitter(new EventEmitter());
    const calls: string[] = [];
    const a = (): void => void calls.push('a');
    const b = (): void => void calls.push('b');
    const c = (): void => void calls.push('c');

    emitter.on('e', a);
    emitter.addListener('e', a); // twice: removeListener removes one at a time
    emitter.prependListener('e', b);
    emitter.once('e', c);
    expect(emitter.listeners('e')).toEqual([b, a, a, c]);
    expect(emitter.listenerCount('e', a)).toBe(2);

    emitter.emit('e');
    expect(calls).toEqual(['b', 'a', 'a', 'c']);
    emitter.emit('e');
    expect(calls).toEqual(['b', 'a', 'a', 'c', 'b', 'a', 'a']); // once ran once

    emitter.removeListener('e', a);
    expect(emitter.listenerCount('e')).toBe(2);
    emitter.off('e', a);
    emitter.off('e', b);
    expect(emitter.listenerCount('e')).toBe(0);

    // A once listener removed before it fires.
    emitter.once('e', c);
    emitter.prependOnceListener('e', b);
    emitter.off('e', c);
    emitter.off('e', b);
    expect(emitter.listenerCount('e')).toBe(0);

    emitter.on('x', a);
    emitter.on('y', b);
    emitter.removeAllListeners('x');
    expect(emitter.listenerCount('x')).toBe(0);
    expect(emitter.listenerCount('y')).toBe(1);
    emitter.removeAllListeners();
    expect(emitter.eventNames()).toEqual([]);
    // Removing something never added is still a no-op.
    emitter.off('y', a);
  });

  it('calls listeners with the emitter as this and the emitted arguments', () => {
    const emitter = bindEmitter(new EventEmitter());
    let received: unknown[] = [];
    let calledOnEmitter = false;
    emitter.on('data', function (this: unknown, ...args: unknown[]) {
      calledOnEmitter = this === emitter;
      received = args;
    });
    expect(emitter.emit('data', 1, 'two')).toBe(true);
    expect(calledOnEmitter).toBe(true);
    expect(received).toEqual([1, 'two']);
    expect(emitter.emit('nothing')).toBe(false);
  });

  it('is idempotent for the same mode and pins its messages', () => {
    const emitter = new EventEmitter();
    expect(bindEmitter(emitter)).toBe(emitter);
    expect(bindEmitter(emitter, 'listener')).toBe(emitter);
    expect(() => bindEmitter(emitter, 'emit')).toThrow(
      "bindEmitter.mode: this emitter is already bound with mode 'listener', cannot bind it with 'emit'",
    );
    expect(() => bindEmitter(new EventEmitter(), 'sometimes' as 'emit')).toThrow(
      `bindEmitter.mode: should be 'listener' or 'emit', got "sometimes"`,
    );
    expect(() => bindEmitter({} as EventEmitter)).toThrow('bindEmitter.emitter: should be an EventEmitter');
  });
});

describe('injectContext / runWithExtractedContext', () => {
  it('carry the trace in a plain object', () => {
    const request = inRequest(() => injectContext());
    expect(request.result).toEqual({ traceparent: `00-${request.traceId}-${request.spanId}-01` });
    expect(injectContext()).toEqual({});

    const continued = runWithExtractedContext(request.result, () => {
      const remote = trace.getSpanContext(context.active());
      const child = tracer.startActiveSpan('continued', (span) => {
        span.end();
        return span;
      });
      return { remote, child };
    });
    expect(continued.remote).toMatchObject({ traceId: request.traceId, spanId: request.spanId, isRemote: true });
    expect(continued.child.spanContext().traceId).toBe(request.traceId);
  });

  it('runs fn in the active context when there is no usable carrier', () => {
    expect(runWithExtractedContext(undefined, () => 7)).toBe(7);
    const request = inRequest(() => runWithExtractedContext(undefined, activeTraceId));
    expect(request.result).toBe(request.traceId);
    expect(runWithExtractedContext({ traceparent: 42 } as unknown as Record<string, string>, activeTraceId)).toBeUndefined();
    expect(runWithExtractedContext('garbage' as unknown as Record<string, string>, () => 'ran')).toBe('ran');
  });

  it('an explicit context is injected instead of the active one', () => {
    const request = inRequest((span) => trace.setSpan(ROOT_CONTEXT, span));
    expect(injectContext(request.result)).toEqual({ traceparent: `00-${request.traceId}-${request.spanId}-01` });
  });
});

describe('trace id across a worker thread', () => {
  it('arrives in the worker with the message, and comes back', async () => {
    const worker = new Worker(new URL('./fixtures/task-worker.mjs', import.meta.url));
    try {
      const reply = new Promise<{ payload: unknown; traceId?: string; spanId?: string; carrier: Record<string, string> }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const request = inRequest(() => worker.postMessage({ carrier: injectContext(), payload: { invoice: 7 } }));
      const answer = await reply;
      expect(answer.payload).toEqual({ invoice: 7 });
      expect(answer.traceId).toBe(request.traceId);
      expect(answer.spanId).toBe(request.spanId);

      // The parent continues the trace from what the worker sent back.
      const continued = runWithExtractedContext(answer.carrier, () =>
        tracer.startActiveSpan('after worker', (span) => {
          span.end();
          return span.spanContext() satisfies SpanContext;
        }),
      );
      expect(continued.traceId).toBe(request.traceId);
    } finally {
      await worker.terminate();
    }
  });
});
