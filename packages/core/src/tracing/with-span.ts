import type { Attributes, Context, Link, Span, SpanKind, Tracer } from '@opentelemetry/api';
import { SpanStatusCode, context as contextApi } from '@opentelemetry/api';

/** Options of {@link withSpan}. */
export interface WithSpanOptions {
  /** Defaults to `SpanKind.INTERNAL`. */
  readonly kind?: SpanKind;
  /** Attributes set when the span starts. Defaults to none. */
  readonly attributes?: Attributes;
  /** Links to other spans (e.g. the trace that queued this work). Defaults to none. */
  readonly links?: Link[];
  /** Parent context. Defaults to the active context. */
  readonly context?: Context;
  /** Start a new trace even when a span is active. Defaults to `false`. */
  readonly root?: boolean;
}

/**
 * Runs `fn(span)` inside a new active span and always ends it. A throw or a rejection records
 * the exception, sets `error.type` and ERROR status, and is rethrown unchanged.
 */
export function withSpan<T>(tracer: Tracer, name: string, fn: (span: Span) => T, options: WithSpanOptions = {}): T {
  const parent = options.context ?? contextApi.active();
  return tracer.startActiveSpan(
    name,
    { kind: options.kind, attributes: options.attributes, links: options.links, root: options.root },
    parent,
    (span) => {
      let result: T;
      try {
        result = fn(span);
      } catch (error) {
        recordError(span, error);
        span.end();
        throw error;
      }
      if (isPromiseLike(result)) {
        return result.then(
          (value) => {
            span.end();
            return value;
          },
          (error: unknown) => {
            recordError(span, error);
            span.end();
            throw error;
          },
        ) as T;
      }
      span.end();
      return result;
    },
  );
}

/** Records `error` on `span` the way the semantic conventions ask: exception event, error.type, ERROR status. */
export function recordError(span: Span, error: unknown): void {
  if (error instanceof Error) {
    span.recordException(error);
    span.setAttribute('error.type', error.name === 'Error' ? error.constructor.name : error.name);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else {
    span.recordException(String(error));
    span.setAttribute('error.type', '_OTHER');
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
  }
}

function isPromiseLike<T>(value: T): value is T & PromiseLike<Awaited<T>> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
