// Options are validated once, when an interceptor, server or client is made: a typed
// InvalidOptionError that names the option and says the fix, never a TypeError later on a call.
import { isInvalidOptionError } from '@hitch/core';
import { addHealthService, clientInterceptor, createClient, createServer, serverInterceptor, shutdownGracefully } from '@hitch/grpc';
import { Server } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Echo, useHarness } from './support/grpc-harness.js';

const h = useHarness();

/** The error `fn` throws (fails the test when it throws nothing). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, nothing was thrown');
}

function expectInvalidOption(fn: () => unknown, option: string, message: string): void {
  const error = thrownBy(fn);
  expect(isInvalidOptionError(error), String(error)).toBe(true);
  expect(error).toMatchObject({ name: 'InvalidOptionError', code: 'HITCH_INVALID_OPTION', option, message: `${option}: ${message}` });
}

const factories: readonly (readonly [string, (options: unknown) => unknown])[] = [
  ['serverInterceptor', (options) => serverInterceptor(options as never)],
  ['clientInterceptor', (options) => clientInterceptor(options as never)],
  ['createServer', (options) => createServer(options as never)],
  ['addHealthService', (options) => addHealthService(new Server(), options as never)],
];

describe.each(factories)('%s without a hitch', (name, create) => {
  it.each([
    ['no options', undefined],
    ['null', null],
    ['{}', {}],
    ['hitch: undefined', { hitch: undefined }],
    ['hitch: null', { hitch: null }],
    ['hitch: a string', { hitch: 'hitch' }],
  ])('throws InvalidOptionError for %s, saying what to pass', (_case, options) => {
    expectInvalidOption(() => create(options), `${name}.hitch`, 'is required: pass the instance from createHitch()');
  });
});

describe('createClient without a hitch', () => {
  it('throws InvalidOptionError when called without options', () => {
    expectInvalidOption(() => createClient(Echo, '127.0.0.1:1', undefined as never), 'createClient.hitch', 'is required: pass the instance from createHitch()');
  });

  it('names createClient, the function that was called, in the message', () => {
    expectInvalidOption(() => createClient(Echo, '127.0.0.1:1', {} as never), 'createClient.hitch', 'is required: pass the instance from createHitch()');
  });
});

const badDurations: readonly (readonly [string, unknown])[] = [
  ['0', 0],
  ['-1', -1],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['a string', '1000'],
];

describe.each(badDurations)('a duration of %s', (_shown, value) => {
  const message = `should be a positive number of milliseconds, got ${String(value)}`;

  it('is refused as createServer.shutdownTimeoutMs', () => {
    const hitch = h.createHitch();
    expectInvalidOption(() => createServer({ hitch, shutdownTimeoutMs: value as number }), 'createServer.shutdownTimeoutMs', message);
  });

  it('is refused as clientInterceptor policy.timeoutMs', () => {
    const hitch = h.createHitch();
    expectInvalidOption(() => clientInterceptor({ hitch, policy: { timeoutMs: value as number } }), 'clientInterceptor.policy.timeoutMs', message);
  });

  it('is refused as createClient policy.timeoutMs', () => {
    const hitch = h.createHitch();
    const error = thrownBy(() => createClient(Echo, '127.0.0.1:1', { hitch, policy: { timeoutMs: value as number } }));
    expect(isInvalidOptionError(error), String(error)).toBe(true);
    expect((error as Error).message).toContain(`policy.timeoutMs: ${message}`);
  });

  it('is refused as a per-method timeoutMs of clientInterceptor', () => {
    const hitch = h.createHitch();
    expectInvalidOption(
      () => clientInterceptor({ hitch, policy: { methods: { Echo: { timeoutMs: value as number } } } }),
      'clientInterceptor.policy.methods.Echo.timeoutMs',
      message,
    );
  });

  it('is refused as addHealthService.watchIntervalMs', () => {
    const hitch = h.createHitch();
    expectInvalidOption(() => addHealthService(new Server(), { hitch, watchIntervalMs: value as number }), 'addHealthService.watchIntervalMs', message);
  });

  it('is refused as shutdownGracefully.timeoutMs', () => {
    const server = new Server();
    expectInvalidOption(() => shutdownGracefully(server, { timeoutMs: value as number }), 'shutdownGracefully.timeoutMs', message);
  });
});

describe('label bounds of serverInterceptor', () => {
  it.each([
    ['maxServices', 0],
    ['maxServices', -1],
    ['maxServices', 1.5],
    ['maxServices', NaN],
    ['maxMethods', 0],
    ['maxMethods', 2.5],
    ['maxMethods', '500'],
  ])('refuses %s = %s', (option, value) => {
    const hitch = h.createHitch();
    expectInvalidOption(() => serverInterceptor({ hitch, [option]: value }), `serverInterceptor.${option}`, `should be a positive integer, got ${String(value)}`);
  });

  it('accepts positive integers', () => {
    const hitch = h.createHitch();
    expect(typeof serverInterceptor({ hitch, maxServices: 1, maxMethods: 10 })).toBe('function');
  });
});

describe('valid options', () => {
  it('are accepted, with durations at their smallest', () => {
    const hitch = h.createHitch();
    expect(typeof clientInterceptor({ hitch, policy: { timeoutMs: 1, methods: { Echo: { timeoutMs: 1 } } } })).toBe('function');
    const server = createServer({ hitch, shutdownTimeoutMs: 1, health: false });
    expect(server.health).toBeUndefined();
    expect(typeof addHealthService(new Server(), { hitch, watchIntervalMs: 1 }).status).toBe('function');
    h.track(createClient(Echo, '127.0.0.1:1', { hitch, policy: { timeoutMs: 1 } }));
  });
});
