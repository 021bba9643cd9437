// The status a caller gets for what a handler of a `createServer` server fails with: typed Hitch
// errors through the one table, errors that carry a gRPC code as they are, anything else INTERNAL
// with nothing of the error on the wire. Asserted on a plain grpc-js client: what the wire shows.
import type { HitchError } from '@hitch/core';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  GuardRejectedError,
  IllegalTransitionError,
  NotFoundError,
  RetryBudgetExceededError,
  TaskQueueFullError,
  TaskRunnerClosedError,
  TimeoutError,
  ValidationError,
  VersionConflictError,
} from '@hitch/core';
import { GRPC_STATUS_BY_ERROR_CODE, statusFor } from '@hitch/grpc';
import type { ServiceError } from '@grpc/grpc-js';
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { EchoHandlers } from './support/grpc-harness.js';
import { deferred, unary, unaryError, useHarness } from './support/grpc-harness.js';

const h = useHarness();

/** The three ways a unary handler fails. */
const failureModes: readonly (readonly [string, (error: unknown) => EchoHandlers['echo']])[] = [
  [
    'throws',
    (error) => () => {
      throw error;
    },
  ],
  ['rejects', (error) => async () => Promise.reject(error)],
  ['calls back with', (error) => (_call, callback) => callback(error)],
];

async function errorFrom(handler: EchoHandlers['echo']): Promise<ServiceError> {
  h.createHitch();
  const server = await h.serve({ echo: handler });
  return unaryError(h.plainClient(server.address), 'echo', { message: 'x' });
}

interface TypedCase {
  readonly name: string;
  readonly create: () => HitchError;
  readonly code: status;
  readonly codeName: string;
}

const typedErrors: readonly TypedCase[] = [
  { name: 'ValidationError', create: () => new ValidationError('pickup.lat should be between -90 and 90', [{ path: 'pickup.lat', message: 'out of range' }]), code: status.INVALID_ARGUMENT, codeName: 'INVALID_ARGUMENT' },
  { name: 'NotFoundError', create: () => new NotFoundError('ride', 42), code: status.NOT_FOUND, codeName: 'NOT_FOUND' },
  { name: 'IllegalTransitionError', create: () => new IllegalTransitionError('ride', 'completed', 'cancel'), code: status.FAILED_PRECONDITION, codeName: 'FAILED_PRECONDITION' },
  { name: 'GuardRejectedError', create: () => new GuardRejectedError('ride', 'pending', 'match', 'no seats'), code: status.FAILED_PRECONDITION, codeName: 'FAILED_PRECONDITION' },
  { name: 'VersionConflictError', create: () => new VersionConflictError('ride', 3, 4), code: status.ABORTED, codeName: 'ABORTED' },
  { name: 'CircuitOpenError', create: () => new CircuitOpenError('payments', 1_500), code: status.UNAVAILABLE, codeName: 'UNAVAILABLE' },
  { name: 'BulkheadRejectedError', create: () => new BulkheadRejectedError('db', 4, 0), code: status.UNAVAILABLE, codeName: 'UNAVAILABLE' },
  { name: 'RetryBudgetExceededError', create: () => new RetryBudgetExceededError('quotes', new Error('upstream down')), code: status.UNAVAILABLE, codeName: 'UNAVAILABLE' },
  { name: 'TaskQueueFullError', create: () => new TaskQueueFullError('emails', 100), code: status.UNAVAILABLE, codeName: 'UNAVAILABLE' },
  { name: 'TaskRunnerClosedError', create: () => new TaskRunnerClosedError('emails'), code: status.UNAVAILABLE, codeName: 'UNAVAILABLE' },
  { name: 'TimeoutError', create: () => new TimeoutError(250, 'quote lookup'), code: status.DEADLINE_EXCEEDED, codeName: 'DEADLINE_EXCEEDED' },
];

it('the cases below cover every entry of GRPC_STATUS_BY_ERROR_CODE', () => {
  const covered = new Set(typedErrors.map((c) => c.create().code));
  expect(new Set(Object.keys(GRPC_STATUS_BY_ERROR_CODE))).toEqual(covered);
});

describe.each(failureModes)('a handler that %s', (_mode, failWith) => {
  it.each(typedErrors)('a $name answers $codeName, with its message', async ({ create, code }) => {
    const error = await errorFrom(failWith(create()));

    const original = create();
    expect(error.code).toBe(code);
    expect(error.details).toBe(original.message);
    // The table and statusFor say what the wire shows.
    expect(GRPC_STATUS_BY_ERROR_CODE[original.code]).toBe(code);
    expect(statusFor(original)).toEqual({ code, details: original.message });
  });

  it.each([
    ['an Error', () => new Error('password=hunter2 rejected by db at 10.0.0.7')],
    ['a TypeError', () => new TypeError('password=hunter2 is not a function')],
    ['a Node system error (string code)', () => Object.assign(new Error('ENOENT: /etc/password=hunter2'), { code: 'ENOENT', errno: -2 })],
    ['an error with code 0 (OK)', () => Object.assign(new Error('password=hunter2'), { code: 0 })],
    ['an error with an out-of-range code', () => Object.assign(new Error('password=hunter2'), { code: 99, details: 'password=hunter2' })],
    ['an error with secret metadata', () => Object.assign(new Error('password=hunter2'), { metadata: secretMetadata() })],
    ['a string', () => 'password=hunter2'],
    ['an object that is not an Error', () => ({ message: 'password=hunter2' })],
  ])('%s answers INTERNAL "Internal error", leaking nothing', async (_name, create) => {
    const error = await errorFrom(failWith(create()));

    expect(error.code).toBe(status.INTERNAL);
    expect(error.details).toBe('Internal error');
    expect(error.message).toBe('13 INTERNAL: Internal error');
    const wire = JSON.stringify({ details: error.details, message: error.message, metadata: error.metadata.toJSON() });
    expect(wire).not.toContain('hunter2');
    expect(wire).not.toMatch(/\bat .*:\d+:\d+/); // no stack frame
    expect(statusFor(create())).toEqual({ code: status.INTERNAL, details: 'Internal error' });
  });

  it('an error that carries a gRPC code keeps it, with its details', async () => {
    const create = (): Error => Object.assign(new Error('quota used up'), { code: status.RESOURCE_EXHAUSTED, details: 'at most 10 quotes per second' });
    const error = await errorFrom(failWith(create()));

    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.details).toBe('at most 10 quotes per second');
    expect(statusFor(create())).toEqual({ code: status.RESOURCE_EXHAUSTED, details: 'at most 10 quotes per second' });
  });
});

function secretMetadata(): Metadata {
  const metadata = new Metadata();
  metadata.set('x-debug', 'password=hunter2');
  return metadata;
}

describe('errors that carry a gRPC code', () => {
  it('a plain status object ({ code, details }) keeps its code and details', async () => {
    const error = await errorFrom((_call, callback) => callback({ code: status.PERMISSION_DENIED, details: 'riders cannot see other riders' }));
    expect(error.code).toBe(status.PERMISSION_DENIED);
    expect(error.details).toBe('riders cannot see other riders');
  });

  it('an Error with a code and no details answers its message', async () => {
    const error = await errorFrom(() => {
      throw Object.assign(new Error('ride 7 already exists'), { code: status.ALREADY_EXISTS });
    });
    expect(error.code).toBe(status.ALREADY_EXISTS);
    expect(error.details).toBe('ride 7 already exists');
  });

  it('a ServiceError from a downstream call keeps its code, details and trailers', async () => {
    h.createHitch();
    const downstream = await h.serve({
      echo: (_call, callback) => {
        const trailers = new Metadata();
        trailers.set('retry-after-ms', '250');
        callback({ code: status.UNAVAILABLE, details: 'draining', metadata: trailers });
      },
    });
    const toDownstream = h.client(downstream.address);
    const server = await h.serve({
      relay: (call, callback) => toDownstream.echo(call.request, new Metadata(), {}, (error, reply) => callback(error, reply)),
    });
    const error = await unaryError(h.plainClient(server.address), 'relay', {});

    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toBe('draining');
    expect(error.metadata.get('retry-after-ms')).toEqual(['250']);
  });

  it('trailers passed to the callback with an error reach the caller', async () => {
    const trailers = new Metadata();
    trailers.set('x-ride-state', 'completed');
    const error = await errorFrom((_call, callback) => callback({ code: status.FAILED_PRECONDITION, details: 'ride is over' }, null, trailers));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.metadata.get('x-ride-state')).toEqual(['completed']);
  });

  it('trailers of a typed error answer reach the caller', async () => {
    const trailers = new Metadata();
    trailers.set('x-ride-state', 'completed');
    const error = await errorFrom((_call, callback) => callback(new IllegalTransitionError('ride', 'completed', 'cancel'), null, trailers));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.metadata.get('x-ride-state')).toEqual(['completed']);
  });
});

describe('handlers that answer', () => {
  it('an async handler may return its reply', async () => {
    h.createHitch();
    const server = await h.serve({
      echo: async (call) => {
        await Promise.resolve();
        return { message: `async:${call.request.message ?? ''}` };
      },
    });
    expect(await unary(h.plainClient(server.address), 'echo', { message: 'x' })).toMatchObject({ message: 'async:x' });
  });

  it('an async handler may call back instead of returning', async () => {
    h.createHitch();
    const server = await h.serve({
      echo: async (call, callback) => {
        await Promise.resolve();
        callback(null, { message: `callback:${call.request.message ?? ''}` });
      },
    });
    expect(await unary(h.plainClient(server.address), 'echo', { message: 'x' })).toMatchObject({ message: 'callback:x' });
  });

  it('only the first answer counts: a rejection after the callback is ignored', async () => {
    h.createHitch();
    const answered = deferred();
    const server = await h.serve({
      echo: async (_call, callback) => {
        callback(null, { message: 'first' });
        answered.resolve();
        throw new Error('too late');
      },
    });
    expect(await unary(h.plainClient(server.address), 'echo', {})).toMatchObject({ message: 'first' });
    await answered.promise;
    // The next call on the same server is unaffected.
    expect(await unary(h.plainClient(server.address), 'echo', {})).toMatchObject({ message: 'first' });
  });
});
