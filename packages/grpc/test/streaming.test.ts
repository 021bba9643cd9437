// Server-streaming, client-streaming and bidi calls: spans on both sides, the call's context (and
// deadline) active in the handler and its event listeners, typed errors emitted, thrown or
// rejected mapped to their status, and cancellation by the client.
import { CircuitOpenError, NotFoundError, ValidationError } from '@hitch/core';
import { SERVER_ERROR_CODES, callDeadline, callSignal } from '@hitch/grpc';
import type { ServiceError } from '@grpc/grpc-js';
import { Metadata, status } from '@grpc/grpc-js';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { EchoClient, EchoHandlers, EchoReply, ReplyCallback, StreamResult } from './support/grpc-harness.js';
import { STATUS, collect, deferred, remainingMsOf, settledWithin, useHarness } from './support/grpc-harness.js';

const h = useHarness();

/** What a handler answers: the trace it runs in and the time left to its deadline. */
function reply(message: string): EchoReply {
  const deadline = callDeadline();
  return {
    message,
    traceId: trace.getSpan(context.active())?.spanContext().traceId ?? '',
    remainingMs: deadline === undefined || deadline === Infinity ? -1 : deadline - Date.now(),
  };
}

/**
 * Makes a handler fail at the end of its replies: given the call (server and bidi streaming) or
 * the callback (client streaming).
 */
type Failure = (target: unknown) => void;

interface StreamingKind {
  readonly name: string;
  /** The proto method. */
  readonly method: 'ServerStream' | 'ClientStream' | 'Bidi';
  /** Handlers that answer three replies (one for client streaming), or fail as `failure` says after them. */
  handlers(failure?: Failure): EchoHandlers;
  /** Sends three requests (or one) and reads everything back. */
  run(client: EchoClient): Promise<StreamResult>;
}

const deadline = (): { deadline: number } => ({ deadline: Date.now() + 5_000 });

const kinds: readonly StreamingKind[] = [
  {
    name: 'server streaming',
    method: 'ServerStream',
    handlers: (failure) => ({
      serverStream: (call) => {
        for (let i = 0; i < (call.request.count ?? 0); i++) call.write(reply(`s${i}`));
        if (failure === undefined) call.end();
        else failure(call);
      },
    }),
    run: (client) => collect(client.serverStream({ count: 3 }, new Metadata(), deadline())),
  },
  {
    name: 'client streaming',
    method: 'ClientStream',
    handlers: (failure) => ({
      clientStream: (call, callback) => {
        const messages: string[] = [];
        call.on('data', (request: { message?: string }) => messages.push(request.message ?? ''));
        call.on('end', () => {
          if (failure === undefined) callback(null, reply(messages.join(',')));
          else failure(callback);
        });
      },
    }),
    run: (client) =>
      new Promise((resolve) => {
        const call = client.clientStream(new Metadata(), deadline(), (error, answer) => resolve({ replies: answer === undefined ? [] : [answer], error: error ?? undefined }));
        for (const message of ['c0', 'c1', 'c2']) call.write({ message });
        call.end();
      }),
  },
  {
    name: 'bidi streaming',
    method: 'Bidi',
    handlers: (failure) => ({
      bidi: (call) => {
        let seen = 0;
        call.on('data', (request: { message?: string }) => {
          call.write(reply(`echo:${request.message ?? ''}`));
          if (++seen === 3) {
            if (failure === undefined) call.end();
            else failure(call);
          }
        });
      },
    }),
    run: (client) => {
      const call = client.bidi(new Metadata(), deadline());
      const result = collect(call);
      for (const message of ['b0', 'b1', 'b2']) call.write({ message });
      call.end();
      return result;
    },
  },
];

describe.each(kinds)('$name', (kind) => {
  it('gets a CLIENT and a SERVER span of one trace, OK, with the context and deadline active in the handler', async () => {
    h.createHitch();
    const server = await h.serve(kind.handlers());
    const { replies, error } = await kind.run(h.client(server.address));
    expect(error).toBeUndefined();

    const clientSpan = await h.span(SpanKind.CLIENT, kind.method);
    const serverSpan = await h.span(SpanKind.SERVER, kind.method);
    const traceId = clientSpan.spanContext().traceId;
    expect(serverSpan.spanContext().traceId).toBe(traceId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    for (const span of [clientSpan, serverSpan]) {
      expect(span.attributes).toMatchObject({ 'rpc.system.name': 'grpc', 'rpc.method': `hitch.test.Echo/${kind.method}`, 'rpc.status_code': 'OK' });
      expect(span.status.code).toBe(STATUS.UNSET);
    }
    expect(replies.length).toBeGreaterThan(0);
    for (const r of replies) {
      expect(r.traceId).toBe(traceId);
      expect(remainingMsOf(r)).toBeGreaterThan(0);
      expect(remainingMsOf(r)).toBeLessThanOrEqual(5_000);
    }
  });
});

/** `call.emit('error', error)`: how a grpc-js streaming handler fails. */
const emitError =
  (error: unknown): Failure =>
  (call) =>
    (call as { emit(event: string, e: unknown): void }).emit('error', error);

const errorCases = [
  { error: () => new NotFoundError('ride', 7), code: status.NOT_FOUND, codeName: 'NOT_FOUND', details: 'ride 7 was not found' },
  { error: () => new ValidationError('count should be at most 100'), code: status.INVALID_ARGUMENT, codeName: 'INVALID_ARGUMENT', details: 'count should be at most 100' },
  { error: () => new CircuitOpenError('rides-db'), code: status.UNAVAILABLE, codeName: 'UNAVAILABLE', details: 'circuit breaker "rides-db" is open: the call was not made' },
  { error: () => new Error('password=hunter2'), code: status.INTERNAL, codeName: 'INTERNAL', details: 'Internal error' },
] as const;

async function expectFailure(kind: StreamingKind, result: StreamResult, expected: (typeof errorCases)[number], repliesBefore: number): Promise<void> {
  expect(result.error?.code).toBe(expected.code);
  expect(result.error?.details).toBe(expected.details);
  expect(JSON.stringify(result.error?.metadata.toJSON())).not.toContain('hunter2');
  expect(result.replies).toHaveLength(repliesBefore);
  const serverSpan = await h.span(SpanKind.SERVER, kind.method);
  expect(serverSpan.attributes['rpc.status_code']).toBe(expected.codeName);
  expect(serverSpan.status.code).toBe(SERVER_ERROR_CODES.has(expected.code) ? STATUS.ERROR : STATUS.UNSET);
  const clientSpan = await h.span(SpanKind.CLIENT, kind.method);
  expect(clientSpan.attributes['rpc.status_code']).toBe(expected.codeName);
  expect(clientSpan.status.code).toBe(STATUS.ERROR);
}

describe.each([kinds[0]!, kinds[2]!])('errors of a $name handler', (kind) => {
  it.each(errorCases)("call.emit('error') after three replies: $codeName", async (expected) => {
    h.createHitch();
    const server = await h.serve(kind.handlers(emitError(expected.error())));
    const result = await kind.run(h.client(server.address));
    await expectFailure(kind, result, expected, 3);
  });

  it.each(errorCases)('a handler that throws: $codeName', async (expected) => {
    h.createHitch();
    const handler = kind.method === 'ServerStream' ? 'serverStream' : 'bidi';
    const server = await h.serve({
      [handler]: () => {
        throw expected.error();
      },
    });
    await expectFailure(kind, await kind.run(h.client(server.address)), expected, 0);
  });

  it.each(errorCases)('an async handler that rejects: $codeName', async (expected) => {
    h.createHitch();
    const handler = kind.method === 'ServerStream' ? 'serverStream' : 'bidi';
    const server = await h.serve({
      [handler]: async () => {
        await Promise.resolve();
        throw expected.error();
      },
    });
    await expectFailure(kind, await kind.run(h.client(server.address)), expected, 0);
  });
});

describe('errors of a client streaming handler', () => {
  const kind = kinds[1]!;

  it.each(errorCases)('calling back with an error: $codeName', async (expected) => {
    h.createHitch();
    const server = await h.serve(kind.handlers((callback) => (callback as ReplyCallback)(expected.error())));
    await expectFailure(kind, await kind.run(h.client(server.address)), expected, 0);
  });

  it.each(errorCases)('a handler that throws: $codeName', async (expected) => {
    h.createHitch();
    const server = await h.serve({
      clientStream: () => {
        throw expected.error();
      },
    });
    await expectFailure(kind, await kind.run(h.client(server.address)), expected, 0);
  });

  it.each(errorCases)('an async handler that rejects: $codeName', async (expected) => {
    h.createHitch();
    const server = await h.serve({
      clientStream: async () => {
        await Promise.resolve();
        throw expected.error();
      },
    });
    await expectFailure(kind, await kind.run(h.client(server.address)), expected, 0);
  });

  it('records the exception of an unknown error on the SERVER span', async () => {
    h.createHitch();
    const server = await h.serve({
      clientStream: () => {
        throw new RangeError('password=hunter2');
      },
    });
    await kind.run(h.client(server.address));
    const span = await h.span(SpanKind.SERVER, 'ClientStream');
    expect(span.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({ 'exception.type': 'RangeError', 'exception.message': 'password=hunter2' });
  });
});

describe('cancellation of a stream', () => {
  it('a client that cancels a server stream aborts the handler signal; the SERVER span ends CANCELLED', async () => {
    h.createHitch();
    const reason = deferred<unknown>();
    const server = await h.serve({
      serverStream: (call) => {
        const signal = callSignal()!;
        signal.addEventListener('abort', () => reason.resolve(signal.reason), { once: true });
        call.write(reply('first'));
      },
    });
    const stream = h.client(server.address).serverStream({}, new Metadata(), deadline());
    const first = deferred<EchoReply>();
    const ended = deferred<ServiceError>();
    stream.on('data', (r: EchoReply) => first.resolve(r));
    stream.on('error', (error: ServiceError) => ended.resolve(error));
    expect((await first.promise).message).toBe('first');
    stream.cancel();

    expect((await ended.promise).code).toBe(status.CANCELLED);
    expect(await settledWithin(reason.promise, 'the abort of callSignal()')).toMatchObject({ message: 'cancelled by the client' });
    const span = await h.span(SpanKind.SERVER, 'ServerStream');
    expect(span.attributes['rpc.status_code']).toBe('CANCELLED');
    expect(span.status.code).toBe(STATUS.UNSET);
    expect((await h.span(SpanKind.CLIENT, 'ServerStream')).attributes['rpc.status_code']).toBe('CANCELLED');
  });
});
