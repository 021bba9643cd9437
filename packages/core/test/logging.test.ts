import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INVALID_SPAN_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { pino } from 'pino';
import type { DestinationStream } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isInvalidOptionError } from '../src/errors/hitch-error.js';
import { DEFAULT_REDACT_KEYS, FLUSH_TIMEOUT_MS, createLogger } from '../src/logging/index.js';
import type { LoggerService, LoggingOptions } from '../src/logging/index.js';

type Line = Record<string, unknown>;

const SERVICE: LoggerService = { name: 'orders', version: '1.2.3', environment: 'prod' };

/** An in-memory destination: every line pino writes, raw and parsed. */
function memory(): { destination: DestinationStream; raw: string[]; lines: () => Line[]; last: () => Line } {
  const raw: string[] = [];
  const lines = (): Line[] => raw.map((line) => JSON.parse(line) as Line);
  return {
    destination: { write: (line: string) => void raw.push(line) },
    raw,
    lines,
    last: () => {
      const all = lines();
      const line = all[all.length - 1];
      if (line === undefined) throw new Error('nothing was logged');
      return line;
    },
  };
}

function make(options: Omit<LoggingOptions, 'destination'> = {}, service: LoggerService = SERVICE) {
  const out = memory();
  const handle = createLogger(service, { ...options, destination: out.destination });
  return { ...handle, ...out };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

describe('lines', () => {
  it('carry service, version, env, an epoch-ms time, pino level and msg; no pid or hostname', () => {
    const { logger, last } = make();
    logger.info({ orderId: 7 }, 'created');
    const line = last();
    expect(line).toEqual({ level: 30, time: expect.any(Number), service: 'orders', version: '1.2.3', env: 'prod', orderId: 7, msg: 'created' });
    expect(Number.isInteger(line.time)).toBe(true);
    expect(Math.abs((line.time as number) - Date.now())).toBeLessThan(60_000);
    expect(line).not.toHaveProperty('pid');
    expect(line).not.toHaveProperty('hostname');
  });

  it('omit version and env when the service has none', () => {
    const { logger, last } = make({}, { name: 'orders', version: undefined, environment: undefined });
    logger.info('hi');
    expect(Object.keys(last()).sort()).toEqual(['level', 'msg', 'service', 'time']);
  });

  it('serialize errors with the std err serializer', () => {
    const { logger, last } = make();
    const err = new Error('boom', { cause: new Error('root cause') });
    logger.error({ err }, 'failed');
    expect(last()).toMatchObject({ level: 50, msg: 'failed', err: { type: 'Error', message: 'boom: root cause' } });
    expect((last().err as Line).stack).toContain('boom');
    logger.error(new TypeError('bad type'));
    expect(last()).toMatchObject({ msg: 'bad type', err: { type: 'TypeError', message: 'bad type' } });
  });
});

describe('level', () => {
  it('defaults to info', () => {
    vi.stubEnv('LOG_LEVEL', '');
    const { logger, lines } = make();
    logger.debug('hidden');
    logger.info('shown');
    expect(logger.level).toBe('info');
    expect(lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('comes from the option, which wins over LOG_LEVEL', () => {
    vi.stubEnv('LOG_LEVEL', 'error');
    const { logger, lines } = make({ level: 'debug' });
    logger.debug('shown');
    logger.trace('hidden');
    expect(lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('comes from LOG_LEVEL (trimmed, case-insensitive)', () => {
    vi.stubEnv('LOG_LEVEL', ' WARN ');
    const { logger, lines } = make();
    logger.info('hidden');
    logger.warn('shown');
    expect(logger.level).toBe('warn');
    expect(lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it("'silent' writes nothing", () => {
    const { logger, raw } = make({ level: 'silent' });
    logger.fatal('nothing');
    expect(raw).toEqual([]);
  });

  it('rejects an invalid option, naming the valid levels', () => {
    const error = thrown(() => make({ level: 'verbose' as never }));
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error.message).toBe(`logging.level: should be one of 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', got "verbose"`);
  });

  it('rejects an invalid LOG_LEVEL, naming the valid levels', () => {
    vi.stubEnv('LOG_LEVEL', 'verbose');
    const error = thrown(() => make());
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error.message).toBe(`LOG_LEVEL: should be one of 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', got "verbose"`);
  });
});

describe('options', () => {
  it('are validated with clear messages', () => {
    expect(() => createLogger(SERVICE, { destination: {} as DestinationStream })).toThrow(
      /^logging\.destination: should be a stream with a write\(line\) method/,
    );
    expect(() => make({ redactKeys: 'ssn' as never })).toThrow('logging.redactKeys: should be an array of key names, got "ssn"');
    expect(() => make({ redactKeys: ['ssn', '--'] })).toThrow('logging.redactKeys[1]: should be a key name with at least one letter or digit, got "--"');
    expect(() => make({}, { name: ' ', version: undefined, environment: undefined })).toThrow('service.name: should be a non-empty string, got " "');
    expect(() => make({}, { name: 'a', version: 3 as never, environment: undefined })).toThrow('service.version: should be a string, got 3');
  });
});

describe('trace correlation', () => {
  const tracer = new BasicTracerProvider().getTracer('t');
  const unsampledTracer = new BasicTracerProvider({ sampler: new AlwaysOffSampler() }).getTracer('t');
  let contextManager: AsyncLocalStorageContextManager;

  beforeAll(() => {
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
  });
  afterAll(() => {
    contextManager.disable();
    context.disable();
  });

  it('lines inside a sampled span carry its ids and trace_flags 01', () => {
    const { logger, last } = make();
    tracer.startActiveSpan('work', (span) => {
      logger.info({ step: 1 }, 'in span');
      const { traceId, spanId } = span.spanContext();
      expect(last()).toMatchObject({ trace_id: traceId, span_id: spanId, trace_flags: '01', step: 1, msg: 'in span' });
      span.end();
    });
  });

  it('lines inside an unsampled span carry its ids and trace_flags 00', () => {
    const { logger, last } = make();
    unsampledTracer.startActiveSpan('work', (span) => {
      logger.info('in span');
      expect(span.spanContext().traceFlags).toBe(TraceFlags.NONE);
      expect(last()).toMatchObject({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId, trace_flags: '00' });
      span.end();
    });
  });

  it('trace_flags is always two hex digits', () => {
    const { logger, last } = make();
    const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0x0a };
    context.with(trace.setSpanContext(context.active(), spanContext), () => logger.info('x'));
    expect(last()).toMatchObject({ trace_id: spanContext.traceId, span_id: spanContext.spanId, trace_flags: '0a' });
  });

  it('lines outside any span, or in an invalid span context, have none of the fields', () => {
    const { logger, lines } = make();
    logger.info('outside');
    context.with(trace.setSpanContext(context.active(), INVALID_SPAN_CONTEXT), () => logger.info('invalid'));
    for (const line of lines()) {
      expect(line).not.toHaveProperty('trace_id');
      expect(line).not.toHaveProperty('span_id');
      expect(line).not.toHaveProperty('trace_flags');
    }
    expect(lines()).toHaveLength(2);
  });

  it('fields survive an await inside the span, and are gone after it', async () => {
    const { logger, lines } = make();
    const ids = await tracer.startActiveSpan('work', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      logger.info('after await');
      span.end();
      return span.spanContext();
    });
    logger.info('after span');
    const [inside, after] = lines();
    expect(inside).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId, trace_flags: '01' });
    expect(after).not.toHaveProperty('trace_id');
  });

  it('child loggers get the fields too, whenever they were created', () => {
    const { logger, lines } = make();
    const early = logger.child({ component: 'early' });
    tracer.startActiveSpan('work', (span) => {
      const late = logger.child({ component: 'late' }).child({ sub: 1 });
      early.info('a');
      late.info('b');
      const { traceId, spanId } = span.spanContext();
      expect(lines()).toEqual([
        expect.objectContaining({ component: 'early', trace_id: traceId, span_id: spanId, trace_flags: '01' }),
        expect.objectContaining({ component: 'late', sub: 1, trace_id: traceId, span_id: spanId, trace_flags: '01' }),
      ]);
      span.end();
    });
    early.info('c');
    expect(lines()[2]).not.toHaveProperty('trace_id');
  });

  it('the logged object wins over the trace fields, as with pino’s default merge', () => {
    const { logger, last } = make();
    tracer.startActiveSpan('work', (span) => {
      logger.info({ trace_id: 'linked' }, 'x');
      expect(last()).toMatchObject({ trace_id: 'linked', span_id: span.spanContext().spanId });
      span.end();
    });
  });
});

describe('redaction', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_REDACT_KEYS).toEqual(expect.arrayContaining(['authorization', 'cookie', 'set-cookie', 'password', 'token', 'secret']));
    expect(Object.isFrozen(DEFAULT_REDACT_KEYS)).toBe(true);
  });

  it('redacts headers in any case, at any depth', () => {
    const { logger, last } = make();
    logger.info({
      req: {
        method: 'GET',
        headers: { Authorization: 'Bearer x', COOKIE: 'sid=1', 'Set-Cookie': ['a=1'], 'Proxy-Authorization': 'Basic y', 'x-api-key': 'k', accept: '*/*' },
      },
    });
    expect(last().req).toEqual({
      method: 'GET',
      headers: {
        Authorization: '[Redacted]',
        COOKIE: '[Redacted]',
        'Set-Cookie': '[Redacted]',
        'Proxy-Authorization': '[Redacted]',
        'x-api-key': '[Redacted]',
        accept: '*/*',
      },
    });
  });

  it('redacts nested bodies and arrays of objects, replacing whole values', () => {
    const { logger, last } = make();
    logger.info({
      body: { user: { name: 'ann', password: 'p' }, tokens_used: 3 },
      items: [{ id: 1, secret: 's' }, [{ token: { value: 't' } }], 'plain'],
    });
    expect(last()).toMatchObject({
      body: { user: { name: 'ann', password: '[Redacted]' }, tokens_used: 3 },
      items: [{ id: 1, secret: '[Redacted]' }, [{ token: '[Redacted]' }], 'plain'],
    });
  });

  it('matches key variants', () => {
    const { logger, last } = make();
    const variants = [
      'accessToken',
      'refresh_token',
      'client_secret',
      'dbPassword',
      'x-api-key',
      'apiKey',
      'Proxy-Authorization',
      'set-cookie',
      'cookies',
      'password_confirmation',
      'PASSWORD',
      'passwd',
      'token2',
      'id_token',
      'X-CSRF-Token',
      'aws_secret_access_key',
      'private_key',
      'credentials',
      'jwt',
    ];
    logger.info({ nested: Object.fromEntries(variants.map((key) => [key, 'v'])) });
    expect(last().nested).toEqual(Object.fromEntries(variants.map((key) => [key, '[Redacted]'])));
  });

  it('leaves look-alikes alone', () => {
    const { logger, last } = make();
    const keepers = ['tokens_used', 'secretary_name', 'max_tokens', 'tokenizer', 'author', 'cookie_consent', 'apiKeyId', 'key', 'session', 'secrets_count'];
    logger.info({ nested: Object.fromEntries(keepers.map((key) => [key, 'v'])) });
    expect(last().nested).toEqual(Object.fromEntries(keepers.map((key) => [key, 'v'])));
  });

  it('adds redactKeys, matched exactly after normalization', () => {
    const { logger, last } = make({ redactKeys: ['ssn'] });
    logger.info({ a: { SSN: 1, 's-s-n': 2, ssn_hash: 3, password: 4 } });
    expect(last().a).toEqual({ SSN: '[Redacted]', 's-s-n': '[Redacted]', ssn_hash: 3, password: '[Redacted]' });
  });

  it('never mutates the caller’s objects', () => {
    const { logger, last } = make();
    const shared = { password: 'p' };
    const input = { a: { headers: { authorization: 'x' }, list: [shared, shared] }, keep: { n: 1 } };
    const before = structuredClone(input);
    logger.info(input);
    expect(input).toEqual(before);
    expect(input.a.list[0]).toBe(shared);
    expect(last()).toMatchObject({ a: { headers: { authorization: '[Redacted]' }, list: [{ password: '[Redacted]' }, { password: '[Redacted]' }] }, keep: { n: 1 } });
  });

  it('redacts child bindings, grandchildren and setBindings', () => {
    const { logger, lines } = make();
    const child = logger.child({ tenant: 't1', auth: { token: 'c' } });
    const grandchild = child.child({ Cookie: 'g' });
    child.info('child');
    grandchild.info('grandchild');
    grandchild.setBindings({ client_secret: 's' });
    grandchild.info('rebound');
    const [a, b, c] = lines();
    expect(a).toMatchObject({ tenant: 't1', auth: { token: '[Redacted]' } });
    expect(b).toMatchObject({ tenant: 't1', auth: { token: '[Redacted]' }, Cookie: '[Redacted]' });
    expect(c).toMatchObject({ client_secret: '[Redacted]' });
    expect(JSON.stringify(lines())).not.toMatch(/"(c|g|s)"/);
  });

  it('redacts interpolated values', () => {
    const { logger, last } = make();
    logger.info('sent %j', { headers: { authorization: 'Bearer x' } });
    expect(last().msg).toBe('sent {"headers":{"authorization":"[Redacted]"}}');
  });

  it('keeps errors intact while redacting their properties', () => {
    const { logger, last } = make();
    const err = Object.assign(new Error('request failed', { cause: new Error('ECONNRESET') }), {
      code: 'E_HTTP',
      config: { url: '/x', headers: { Authorization: 'Bearer x' } },
    });
    logger.error({ err }, 'call failed');
    const logged = last().err as Line;
    expect(logged).toMatchObject({
      type: 'Error',
      message: 'request failed: ECONNRESET',
      code: 'E_HTTP',
      config: { url: '/x', headers: { Authorization: '[Redacted]' } },
    });
    expect(logged.stack).toBe(err.stack + '\ncaused by: ' + (err.cause as Error).stack);
    expect(err.config.headers.Authorization).toBe('Bearer x');

    logger.error(Object.assign(new RangeError('direct'), { password: 'p' }));
    expect(last()).toMatchObject({ msg: 'direct', err: { type: 'RangeError', message: 'direct', password: '[Redacted]' } });

    const aggregate = new AggregateError([Object.assign(new Error('inner'), { token: 't' })], 'many');
    logger.error({ err: aggregate });
    expect(last().err).toMatchObject({ type: 'AggregateError', aggregateErrors: [{ message: 'inner', token: '[Redacted]' }] });
  });

  it('walks class instances and toJSON results like JSON.stringify would, skipping opaque objects', () => {
    const { logger, last } = make();
    class Credentials {
      constructor(
        readonly user: string,
        readonly password: string,
      ) {}
    }
    const model = { toJSON: () => ({ email: 'a@b', passwordHash: 'h' }) };
    logger.info({ creds: new Credentials('u', 'p'), model, when: new Date(0), map: new Map([['password', 'p']]), buf: Buffer.from('ab') });
    expect(last()).toMatchObject({
      creds: { user: 'u', password: '[Redacted]' },
      model: { email: 'a@b', passwordHash: '[Redacted]' },
      when: '1970-01-01T00:00:00.000Z',
      map: {},
      buf: { type: 'Buffer', data: [97, 98] },
    });
  });

  it('redacts a key named __proto__ safely', () => {
    const { logger, raw } = make();
    const input = JSON.parse('{"__proto__": {"password": "proto-secret"}, "a": 1}') as Line;
    logger.info(input);
    expect(raw[0]).not.toContain('proto-secret');
    expect(raw[0]).toContain('"__proto__":{"password":"[Redacted]"}');
  });

  it('redacts raw http requests and responses, logged first or nested', async () => {
    const { logger, raw, lines } = make();
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('Set-Cookie', 'sid=res-secret');
      logger.info(req, 'raw first');
      logger.info({ req, res }, 'nested');
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve, reject) => {
        const req = request({ port, host: '127.0.0.1', path: '/orders?x=1', headers: { Authorization: 'Bearer req-secret' } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(raw.join('')).not.toMatch(/req-secret|res-secret/);
    const [first, nested] = lines();
    expect(first).toMatchObject({ msg: 'raw first', req: { method: 'GET', url: '/orders?x=1', headers: { authorization: '[Redacted]' } } });
    expect(nested).toMatchObject({ req: { method: 'GET', headers: { authorization: '[Redacted]' } }, res: { headers: { 'set-cookie': '[Redacted]' } } });
  });

  it('survives cycles', () => {
    const { logger, last } = make();
    const a: Line = { name: 'a', password: 'p' };
    a.self = a;
    a.list = [a, { back: a }];
    expect(() => logger.info({ a })).not.toThrow();
    expect(last().a).toEqual({ name: 'a', password: '[Redacted]', self: '[Circular]', list: ['[Circular]', { back: '[Circular]' }] });
  });

  it('survives a 10,000-deep object, truncating below depth 64 and saying so', () => {
    const { logger, last, raw } = make();
    let deep: Line = { password: 'deep-secret' };
    for (let i = 0; i < 10_000; i++) deep = { next: deep };
    expect(() => logger.info({ deep }, 'deep')).not.toThrow();
    expect(last()).toMatchObject({ msg: 'deep', log_truncated: true });
    expect(raw[0]).toContain('"[Truncated]"');
    expect(raw[0]).not.toContain('deep-secret');
  });

  it('stops after 100,000 entries: drops the rest and says so', () => {
    const { logger, last, raw } = make();
    const many = Array.from({ length: 150_000 }, (_, i) => i);
    many.push({ password: 'late-secret' } as never);
    logger.info({ many });
    expect(last().log_truncated).toBe(true);
    expect((last().many as unknown[]).length).toBeLessThan(100_001);
    expect(raw[0]).not.toContain('late-secret');
  });

  it('does not hang on an exponentially shared graph', () => {
    const { logger, last } = make();
    let node: Line = { leaf: true };
    for (let i = 0; i < 60; i++) node = { left: node, right: node };
    const started = Date.now();
    logger.info({ node });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(last().log_truncated).toBe(true);
  });

  it('fails closed when walking throws', () => {
    const { logger, last, raw } = make();
    const hostile = {
      password: 'hostile-secret',
      get boom(): never {
        throw new Error('getter');
      },
    };
    expect(() => logger.info(hostile, 'hostile')).not.toThrow();
    expect(last()).toMatchObject({ msg: 'hostile', log_redaction_failed: true });
    expect(raw[0]).not.toContain('hostile-secret');
  });

  it('copes with a getter that logs while being walked', () => {
    const { logger, lines } = make();
    const tricky = {
      token: 'outer-secret',
      get inner(): Line {
        logger.info({ password: 'inner-secret' }, 'from getter');
        return { ok: true };
      },
    };
    logger.info(tricky, 'outer');
    expect(lines().map((l) => l.msg)).toContain('outer');
    expect(JSON.stringify(lines())).not.toMatch(/outer-secret|inner-secret/);
    expect(lines().find((l) => l.msg === 'outer')).toMatchObject({ token: '[Redacted]', inner: { ok: true } });
  });

  describe('property: no secret value ever reaches a line', () => {
    const SECRET = 'zQ7-SECRET-VALUE-9xK';
    const sensitiveKey = fc
      .constantFrom(
        'password',
        'Authorization',
        'authorization',
        'cookie',
        'Set-Cookie',
        'token',
        'secret',
        'accessToken',
        'refresh_token',
        'client_secret',
        'dbPassword',
        'x-api-key',
        'Proxy-Authorization',
      )
      .chain((key) => fc.constantFrom(key, key.toUpperCase(), key.toLowerCase()));
    const secretValue = fc.constantFrom<unknown>(SECRET, `Bearer ${SECRET}`, [SECRET], { nested: SECRET }, [{ deeper: [SECRET] }]);
    const injection = fc.record({ path: fc.array(fc.nat(), { maxLength: 10 }), key: sensitiveKey, value: secretValue });

    /** Follows `path` through the containers of `root`, then sets `key` on the object reached (or pushes one onto an array). */
    function inject(root: Line, { path, key, value }: { path: number[]; key: string; value: unknown }): void {
      let node: object = root;
      for (const step of path) {
        const children = Object.values(node).filter((child): child is object => typeof child === 'object' && child !== null);
        const next = children[step % Math.max(children.length, 1)];
        if (next === undefined) break;
        node = next;
      }
      // fc.constantFrom hands out the same object every time: inject a copy, or injections would build cycles.
      const fresh: unknown = structuredClone(value);
      if (Array.isArray(node)) node.push({ [key]: fresh });
      else Object.defineProperty(node, key, { value: fresh, enumerable: true, writable: true, configurable: true });
    }

    it('for arbitrary JSON with sensitive keys injected at random depths', () => {
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 6 }), fc.array(injection, { minLength: 1, maxLength: 6 }), (json, injections) => {
          const root: Line = { data: json };
          for (const one of injections) inject(root, one);
          const snapshot = JSON.stringify(root);
          const { logger, raw } = make({ level: 'trace' });
          logger.info(root, 'merging');
          logger.debug('interpolated %j %o', root, root);
          logger.child(root).warn('bindings');
          logger.error({ err: Object.assign(new Error('e'), root) }, 'error props');
          expect(raw).toHaveLength(4);
          for (const line of raw) {
            expect(line).not.toContain(SECRET);
            expect(() => JSON.parse(line) as unknown).not.toThrow();
          }
          expect(JSON.stringify(root)).toBe(snapshot);
        }),
        { numRuns: 300 },
      );
    });

    it('for arbitrary graphs with shared references and cycles, in bounded time', () => {
      const graph = fc.record({
        kinds: fc.array(fc.boolean(), { minLength: 1, maxLength: 25 }),
        edges: fc.array(fc.record({ from: fc.nat(), to: fc.nat(), key: fc.string({ maxLength: 6 }) }), { maxLength: 80 }),
        secrets: fc.array(fc.record({ at: fc.nat(), key: sensitiveKey }), { minLength: 1, maxLength: 5 }),
      });
      fc.assert(
        fc.property(graph, ({ kinds, edges, secrets }) => {
          const nodes: object[] = kinds.map((isArray) => (isArray ? [] : {}));
          const nodeAt = (i: number): object => nodes[i % nodes.length] as object;
          for (const { from, to, key } of edges) {
            const node = nodeAt(from);
            if (Array.isArray(node)) node.push(nodeAt(to));
            else Object.defineProperty(node, key, { value: nodeAt(to), enumerable: true, writable: true, configurable: true });
          }
          for (const { at, key } of secrets) {
            const node = nodeAt(at);
            if (Array.isArray(node)) node.push({ [key]: SECRET });
            else Object.defineProperty(node, key, { value: SECRET, enumerable: true, writable: true, configurable: true });
          }
          const { logger, raw } = make();
          const started = Date.now();
          logger.info({ root: nodes[0] }, 'graph');
          logger.child({ root: nodes[0] }).info('child');
          expect(Date.now() - started).toBeLessThan(2000);
          for (const line of raw) expect(line).not.toContain(SECRET);
        }),
        { numRuns: 200 },
      );
    });

    it('for arbitrary objects (fc.object) used as headers or bodies', () => {
      fc.assert(
        fc.property(fc.object({ maxDepth: 4 }), fc.array(injection, { minLength: 1, maxLength: 4 }), (body, injections) => {
          for (const one of injections) inject(body as Line, one);
          const { logger, raw } = make();
          logger.info({ req: { headers: body, body } });
          expect(raw[0]).not.toContain(SECRET);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('flush', () => {
  it('resolves when the destination has no flush', async () => {
    const { logger, flush, raw } = make();
    logger.info('x');
    await expect(flush()).resolves.toBeUndefined();
    expect(raw).toHaveLength(1);
  });

  it('resolves when the destination never calls back, after the timeout', async () => {
    vi.useFakeTimers();
    const { logger, flush } = createLogger(SERVICE, { destination: { write: () => undefined, flush: () => undefined } as DestinationStream });
    logger.info('x');
    let done = false;
    const flushing = flush().then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(FLUSH_TIMEOUT_MS - 1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await flushing;
    expect(done).toBe(true);
  });

  it('resolves when the destination’s flush throws or fails', async () => {
    const throwing = createLogger(SERVICE, {
      destination: {
        write: () => undefined,
        flush: () => {
          throw new Error('nope');
        },
      } as DestinationStream,
    });
    await expect(throwing.flush()).resolves.toBeUndefined();
    const failing = createLogger(SERVICE, {
      destination: { write: () => undefined, flush: (cb: (err?: Error) => void) => cb(new Error('EIO')) } as DestinationStream,
    });
    await expect(failing.flush()).resolves.toBeUndefined();
  });

  it('waits for pending asynchronous writes of pino.destination', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-logging-'));
    try {
      const file = join(dir, 'app.log');
      const destination = pino.destination({ dest: file, sync: false, mkdir: true });
      await new Promise((resolve) => destination.once('ready', resolve));
      const { logger, flush } = createLogger(SERVICE, { destination });
      for (let i = 0; i < 2000; i++) logger.info({ i, padding: 'x'.repeat(200) }, 'line');
      await flush();
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(2000);
      expect(JSON.parse(lines[1999] ?? '{}')).toMatchObject({ i: 1999 });
      destination.end();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('works with the default stdout destination', async () => {
    const { flush } = createLogger(SERVICE, { level: 'silent' });
    await expect(flush()).resolves.toBeUndefined();
  });
});
