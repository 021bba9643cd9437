import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Hitch, HitchOptions } from '../src/index.js';
import { HitchPropagator, createHitch } from '../src/index.js';

let hitch: Hitch | undefined;
afterEach(async () => {
  await hitch?.shutdown();
  hitch = undefined;
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

function make(tracing: HitchOptions['tracing'] = {}): Hitch {
  hitch = createHitch({
    service: { name: 'tracing', version: '1.4.0', environment: 'prod' },
    tracing: { exporter: 'memory', ...tracing },
    metrics: { runtimeMetrics: false },
    logging: { level: 'silent' },
  });
  return hitch;
}

describe('withSpan', () => {
  it('runs fn in an active span, ends it and returns its value', () => {
    const { tracing } = make();
    const result = tracing.withSpan('work', (span) => {
      expect(trace.getActiveSpan()).toBe(span);
      return 42;
    });
    expect(result).toBe(42);
    const [span] = tracing.finishedSpans();
    expect(span!.name).toBe('work');
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.ended).toBe(true);
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('records a throw as an exception with ERROR status and rethrows it', () => {
    const { tracing } = make();
    class RideNotFound extends Error {
      override name = 'RideNotFound';
    }
    expect(() => tracing.withSpan('lookup', () => { throw new RideNotFound('ride 7'); })).toThrow(RideNotFound);
    const [span] = tracing.finishedSpans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ride 7' });
    expect(span!.attributes['error.type']).toBe('RideNotFound');
    const event = span!.events.find((e) => e.name === 'exception')!;
    expect(event.attributes!['exception.message']).toBe('ride 7');
  });

  it('waits for a promise: ends the span when it settles, records a rejection', async () => {
    const { tracing } = make();
    await expect(
      tracing.withSpan('async', async () => {
        await new Promise((resolve) => setImmediate(resolve));
        expect(trace.getActiveSpan()).toBeDefined();
        throw new TypeError('bad input');
      }),
    ).rejects.toThrow('bad input');
    const [span] = tracing.finishedSpans();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['error.type']).toBe('TypeError');
  });

  it('records a non-Error throw', () => {
    const { tracing } = make();
    expect(() => tracing.withSpan('odd', () => { throw 'just a string'; })).toThrow();
    expect(tracing.finishedSpans()[0]!.attributes['error.type']).toBe('_OTHER');
  });

  it('nests, takes kind, attributes and links, and can start a new root', () => {
    const { tracing } = make();
    tracing.withSpan('outer', (outer) => {
      tracing.withSpan('inner', () => undefined, { kind: SpanKind.CLIENT, attributes: { 'rpc.method': 'Match' } });
      tracing.withSpan('detached', () => undefined, { root: true, links: [{ context: outer.spanContext() }] });
    });
    const spans = tracing.finishedSpans();
    const outer = spans.find((s) => s.name === 'outer')!;
    const inner = spans.find((s) => s.name === 'inner')!;
    const detached = spans.find((s) => s.name === 'detached')!;
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(inner.kind).toBe(SpanKind.CLIENT);
    expect(inner.attributes['rpc.method']).toBe('Match');
    expect(detached.spanContext().traceId).not.toBe(outer.spanContext().traceId);
    expect(detached.links[0]!.context.spanId).toBe(outer.spanContext().spanId);
  });

  it('is also hitch.withSpan', () => {
    const h = make();
    h.withSpan('short', () => undefined);
    expect(h.tracing.finishedSpans().map((s) => s.name)).toEqual(['short']);
  });
});

describe('resource and sampling', () => {
  it('describes the service with semantic-convention attributes', () => {
    const { tracing } = make();
    tracing.withSpan('x', () => undefined);
    expect(tracing.finishedSpans()[0]!.resource.attributes).toMatchObject({
      'service.name': 'tracing',
      'service.version': '1.4.0',
      'deployment.environment.name': 'prod',
    });
  });

  it('samples new traces at sampleRatio but always follows a sampled parent', () => {
    const { tracing } = make({ sampleRatio: 0 });
    tracing.withSpan('root', (span) => expect(span.isRecording()).toBe(false));
    const parent = tracing.extract({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    tracing.withSpan('child', (span) => expect(span.isRecording()).toBe(true), { context: parent });
    expect(tracing.finishedSpans().map((s) => s.name)).toEqual(['child']);
  });

  it('does not sample under an unsampled parent even at ratio 1', () => {
    const { tracing } = make({ sampleRatio: 1 });
    const parent = tracing.extract({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' });
    tracing.withSpan('child', () => undefined, { context: parent });
    expect(tracing.finishedSpans()).toHaveLength(0);
  });

  it.each([
    ['always_off', undefined, 0],
    ['parentbased_traceidratio', '0', 0],
    ['parentbased_traceidratio', '1', 1],
    ['always_on', undefined, 1],
  ])('honors OTEL_TRACES_SAMPLER=%s (arg %s) when sampleRatio is not set', (sampler, arg, expected) => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', sampler);
    if (arg !== undefined) vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', arg);
    const { tracing } = make();
    tracing.withSpan('x', () => undefined);
    expect(tracing.finishedSpans()).toHaveLength(expected);
  });

  it('lets sampleRatio win over OTEL_TRACES_SAMPLER', () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_off');
    const { tracing } = make({ sampleRatio: 1 });
    tracing.withSpan('x', () => undefined);
    expect(tracing.finishedSpans()).toHaveLength(1);
  });
});

describe('exporters and options', () => {
  it('takes the exporter from OTEL_TRACES_EXPORTER when the option is silent', () => {
    vi.stubEnv('OTEL_TRACES_EXPORTER', 'console');
    hitch = createHitch({ service: { name: 'x' }, metrics: { runtimeMetrics: false }, logging: { level: 'silent' } });
    expect(hitch.tracing.exporter).toBe('console');
  });

  it("prints finished spans with exporter 'console'", () => {
    const dir = vi.spyOn(console, 'dir').mockImplementation(() => undefined);
    const { tracing } = make({ exporter: 'console' });
    tracing.withSpan('printed', () => undefined);
    expect(dir).toHaveBeenCalledWith(expect.objectContaining({ name: 'printed' }), expect.anything());
  });

  it("keeps nothing with exporter 'none' but still samples (exemplars need sampled spans)", () => {
    const { tracing } = make({ exporter: 'none' });
    tracing.withSpan('kept nowhere', (span) => expect(span.isRecording()).toBe(true));
    expect(tracing.finishedSpans()).toEqual([]);
  });

  it.each([
    [{ exporter: 'jaeger' }, `tracing.exporter: should be one of 'otlp', 'console', 'memory', 'none', got "jaeger"`],
    [{ sampleRatio: 1.5 }, 'tracing.sampleRatio: should be a number in [0, 1], got 1.5'],
    [{ exporter: 'otlp', endpoint: 'not a url' }, 'tracing.endpoint: should be an absolute URL like http://collector:4318/v1/traces, got "not a url"'],
  ])('rejects %j', (tracing, message) => {
    expect(() => createHitch({ service: { name: 'x' }, tracing: tracing as HitchOptions['tracing'], logging: { level: 'silent' } })).toThrow(message);
  });

  it('registers its provider and propagator globally, and unregisters them on shutdown', async () => {
    const h = make();
    expect(propagation.fields()).toEqual(['traceparent', 'tracestate', 'baggage']);
    trace.getTracer('someone-else').startActiveSpan('via global', (span) => span.end());
    expect(h.tracing.finishedSpans().map((s) => s.name)).toEqual(['via global']);
    await h.shutdown();
    expect(propagation.fields()).toEqual([]);
  });

  it('leaves the globals alone with registerGlobal: false', () => {
    const h = make({ registerGlobal: false });
    expect(propagation.fields()).toEqual([]);
    // Context still flows: Hitch registers a context manager when none is.
    h.withSpan('outer', (outer) => {
      expect(trace.getSpan(context.active())).toBe(outer);
    });
  });

  it('injects and extracts through a plain headers object', () => {
    const { tracing } = make();
    const headers: Record<string, string> = {};
    tracing.withSpan('outgoing', (span) => {
      tracing.inject(headers);
      expect(headers.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-03`);
    });
    const extracted = tracing.extract(headers);
    expect(trace.getSpanContext(extracted)?.traceId).toBe(headers.traceparent!.slice(3, 35));
    expect(new HitchPropagator().fields()).toEqual(['traceparent', 'tracestate', 'baggage']);
  });
});
