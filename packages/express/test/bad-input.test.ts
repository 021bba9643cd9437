// What clients should not send, and clients that go away: every request is answered (or
// refused by Node) without a crash, and afterwards the process serves normally, no request is
// counted as in flight and every span that was started has ended.
import { context, propagation } from '@opentelemetry/api';
import express from 'express';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { TestApp } from './support/app-harness.js';
import { activeRequests, deferred, instrument, requestCount, samplesOf, STATUS, useHarness } from './support/app-harness.js';

const h = useHarness();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const VALID_TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

interface Served {
  readonly app: TestApp;
  /** Resolves when `/slow/:id` or `/stream/:id` has been entered. */
  readonly entered: Promise<void>;
  /** Lets `/slow/:id` and `/stream/:id` finish. */
  readonly open: () => void;
  /** Settles once the held handler ran to its end (after `open`). */
  readonly done: Promise<void>;
}

async function serve(options: { maxHeaderSize?: number } = {}): Promise<Served> {
  const hitch = h.createHitch();
  const app = express();
  instrument(app, { hitch });
  const entered = deferred();
  const gate = deferred();
  const done = deferred();
  app.get('/rides/:id', (req, res) => {
    res.json({ id: req.params.id, baggage: propagation.getBaggage(context.active())?.getAllEntries().length ?? 0 });
  });
  app.all('/dav/:file', (_req, res) => {
    res.status(207).end();
  });
  app.get('/sync-throw/:id', () => {
    throw new RangeError('sync');
  });
  app.get('/reject/:id', async () => {
    await Promise.resolve();
    throw new RangeError('async');
  });
  app.get('/slow/:id', async (_req, res) => {
    entered.resolve();
    await gate.promise;
    res.json({ late: true });
    done.resolve();
  });
  app.get('/stream/:id', async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first chunk\n');
    entered.resolve();
    await gate.promise;
    res.end('last chunk\n');
    done.resolve();
  });
  return { app: await h.listen(app, options), entered: entered.promise, open: () => gate.resolve(), done: done.promise };
}

/** The process is fine: a normal request is answered, nothing is in flight, every span has ended. */
async function expectHealthy(app: TestApp): Promise<void> {
  const response = await app.request('/rides/ok', { agent: h.agent({ keepAlive: false }) });
  expect(response.status).toBe(200);
  const body = await app.metricsWhen((text) => activeRequests(text) === 0);
  expect(activeRequests(body)).toBe(0);
  await vi.waitFor(() => expect(h.ledger.openSpans()).toEqual([]), { timeout: 5_000, interval: 5 });
}

/** Printable ASCII: what Node's client lets through as a header value. */
const headerText = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
const hex = (length: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

/** `traceparent` values W3C Trace Context says to ignore (https://www.w3.org/TR/trace-context/#traceparent-header). */
const invalidTraceparent: fc.Arbitrary<string> = fc.oneof(
  headerText(80).filter((v) => !/^\s*[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}/.test(v)),
  fc.tuple(hex(16)).map(([span]) => `00-${'0'.repeat(32)}-${span}-01`),
  hex(32).map((trace) => `00-${trace}-${'0'.repeat(16)}-01`),
  fc.tuple(hex(32), hex(16)).map(([trace, span]) => `ff-${trace}-${span}-01`),
  fc.tuple(hex(32), hex(16)).map(([trace, span]) => `00-${trace.toUpperCase()}G-${span}-01`),
  fc.tuple(fc.integer({ min: 1, max: 40 }).filter((n) => n !== 32), hex(16)).chain(([n, span]) => hex(n).map((trace) => `00-${trace}-${span}-01`)),
  fc.tuple(hex(32), hex(16), headerText(10)).map(([trace, span, extra]) => `00-${trace}-${span}-01-${extra}`),
  fc.tuple(hex(32), hex(16), fc.constantFrom('0', 'x1', '1', '001', 'zz')).map(([trace, span, flags]) => `00-${trace}-${span}-${flags}`),
);

describe('malformed trace context headers', () => {
  it('property: an invalid traceparent starts a new root trace, whatever tracestate and baggage say', async () => {
    const { app } = await serve();
    const connectionsBefore = app.connections;
    await fc.assert(
      fc.asyncProperty(invalidTraceparent, headerText(200), headerText(200), async (traceparent, tracestate, baggage) => {
        h.hitch.tracing.resetFinishedSpans();
        const response = await app.request('/rides/1', { headers: { traceparent, tracestate, baggage } });
        expect(response.status).toBe(200);
        expect(JSON.parse(response.body)).toMatchObject({ id: '1' });
        const [span] = await h.waitForServerSpans(1);
        expect(span!.name).toBe('GET /rides/:id');
        expect(span!.parentSpanContext).toBeUndefined();
        expect(span!.spanContext().traceId).not.toBe(TRACE_ID);
        expect(span!.spanContext().traceId).toMatch(/^[\da-f]{32}$/);
      }),
      { numRuns: 100 },
    );
    // All of it over one kept-alive connection: no request made the server drop it.
    expect(app.connections - connectionsBefore).toBe(1);
    await expectHealthy(app);
  });

  it('property: with a valid traceparent, junk tracestate and baggage never break the trace', async () => {
    const { app } = await serve();
    await fc.assert(
      fc.asyncProperty(headerText(300), headerText(300), async (tracestate, baggage) => {
        h.hitch.tracing.resetFinishedSpans();
        const response = await app.request('/rides/2', { headers: { traceparent: VALID_TRACEPARENT, tracestate, baggage } });
        expect(response.status).toBe(200);
        const [span] = await h.waitForServerSpans(1);
        expect(span!.spanContext().traceId).toBe(TRACE_ID);
        expect(span!.parentSpanContext?.spanId).toBe(PARENT_ID);
      }),
      { numRuns: 100 },
    );
    await expectHealthy(app);
  });

  it('repeated and oversized trace headers', async () => {
    const { app } = await serve();
    const cases: Record<string, string | string[]>[] = [
      { traceparent: [VALID_TRACEPARENT, `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`] },
      { traceparent: VALID_TRACEPARENT, tracestate: Array.from({ length: 64 }, (_, i) => `k${i}=v${i}`).join(',') },
      { traceparent: VALID_TRACEPARENT, baggage: Array.from({ length: 300 }, (_, i) => `k${i}=${'v'.repeat(20)}`).join(',') },
      { traceparent: VALID_TRACEPARENT, baggage: ['a=1', 'b=%zz', '=;;;', 'c=2'] },
    ];
    for (const headers of cases) {
      h.hitch.tracing.resetFinishedSpans();
      expect((await app.request('/rides/3', { headers })).status).toBe(200);
      const [span] = await h.waitForServerSpans(1);
      expect(span!.name).toBe('GET /rides/:id');
    }
    await expectHealthy(app);
  });
});

describe('requests Node refuses before the app sees them', () => {
  it('oversize headers: Node answers 431, nothing is counted as in flight', async () => {
    const { app } = await serve({ maxHeaderSize: 8 * 1024 });
    const answer = await app.raw(`GET /rides/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(16 * 1024)}\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    const body = await app.metrics();
    expect(activeRequests(body)).toBe(0);
    expect(samplesOf(body, 'http_server_request_duration_seconds_count')).toEqual([]);
    expect(h.ledger.started).toBe(0);
    await expectHealthy(app);
  });

  it('an oversize trace header alone is refused the same way', async () => {
    const { app } = await serve({ maxHeaderSize: 8 * 1024 });
    const answer = await app.raw(`GET /rides/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nbaggage: ${'k=v,'.repeat(4096)}\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    await expectHealthy(app);
  });

  it('a method the HTTP parser does not know, and garbage instead of a request line: 400 from Node', async () => {
    const { app } = await serve();
    for (const request of ['BREW /rides/1 HTTP/1.1\r\nHost: x\r\n\r\n', 'get /rides/1 HTTP/1.1\r\nHost: x\r\n\r\n', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n']) {
      expect(await app.raw(request)).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(h.ledger.started).toBe(0);
    await expectHealthy(app);
  });
});

describe('unusual methods and request targets', () => {
  it('methods Node accepts but the semantic conventions do not know are _OTHER, each kept in method_original', async () => {
    const { app } = await serve();
    const methods = ['PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH', 'M-SEARCH', 'QUERY'];
    for (const method of methods) expect((await app.request('/dav/file.txt', { method })).status).toBe(207);
    const spans = await h.waitForServerSpans(methods.length);
    expect(spans.map((s) => s.attributes['http.request.method_original'])).toEqual(methods);
    expect(new Set(spans.map((s) => s.attributes['http.request.method']))).toEqual(new Set(['_OTHER']));
    expect(new Set(spans.map((s) => s.name))).toEqual(new Set(['HTTP /dav/:file']));
    const body = await app.metrics();
    expect(requestCount(body, { method: '_OTHER', route: '/dav/:file', status_code: '207' })).toBe(methods.length);
    expect(samplesOf(body, 'http_server_request_duration_seconds_count').map((s) => s.labels.method)).toEqual(['_OTHER']);
    await expectHealthy(app);
  });

  it('absolute-form target: routed by its path, url.path is the path', async () => {
    const { app } = await serve();
    const answer = await app.raw('GET http://rides.example/rides/5?x=1 HTTP/1.1\r\nHost: rides.example\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET /rides/:id');
    expect(span!.attributes).toMatchObject({ 'url.path': '/rides/5', 'server.address': 'rides.example' });
    expect(span!.attributes).not.toHaveProperty('server.port');
    await expectHealthy(app);
  });

  it.each([
    { target: '//rides/5', title: 'a double slash' },
    { target: '/rides/%zz', title: 'a malformed escape in a parameter' },
    { target: '/%zz/%E0%A4%A', title: 'malformed escapes in an unmatched path' },
    { target: '*', title: 'the asterisk form on GET' },
    { target: '/rides/5/../../etc/passwd', title: 'dot segments' },
    { target: `/${'a/'.repeat(3000)}`, title: 'a 6 kB path' },
  ])('$title ($target): answered, bounded route, no crash', async ({ target }) => {
    const { app } = await serve();
    const answer = await app.raw(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1]);
    expect(status).toBeGreaterThanOrEqual(200);
    expect(status).toBeLessThan(500);
    const [span] = await h.waitForServerSpans(1);
    expect(['GET /rides/:id', 'GET __unmatched__']).toContain(span!.name);
    expect(span!.attributes['http.response.status_code']).toBe(status);
    expect(String(span!.attributes['url.path']).length).toBeLessThanOrEqual(2048);
    expect(span!.status.code).toBe(STATUS.UNSET);
    const body = await app.metrics();
    for (const sample of samplesOf(body, 'http_server_request_duration_seconds_count')) expect(['/rides/:id', '__unmatched__']).toContain(sample.labels.route);
    await expectHealthy(app);
  });

  // Express's router answers 404 without running any middleware when it cannot parse the target,
  // so a middleware alone never sees such a request: it must still be counted and traced.
  it('an absolute-form target that is not a URL: the 404 Express answers is counted and traced as __unmatched__', async () => {
    const { app } = await serve();
    const answer = await app.raw('GET http://[::1/rides/5 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    await expectHealthy(app);
    expect(requestCount(await app.metrics(), { route: '__unmatched__', status_code: '404' })).toBe(1);
    expect(h.serverSpans().map((s) => s.name)).toContain('GET __unmatched__');
  });

  it('a malformed escape in a route parameter is the client\'s error: 400, status UNSET, no exception', async () => {
    const { app } = await serve();
    const answer = await app.raw('GET /rides/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.status.code).toBe(STATUS.UNSET);
    expect(span!.events).toEqual([]);
    await expectHealthy(app);
  });
});

describe('handlers that fail', () => {
  it.each([
    { path: '/sync-throw/1', route: '/sync-throw/:id', message: 'sync', title: 'a synchronous throw' },
    { path: '/reject/1', route: '/reject/:id', message: 'async', title: 'a rejected promise (Express 5)' },
  ])('$title: 500, ERROR status, exception event, counted', async ({ path, route, message }) => {
    const { app } = await serve();
    expect((await app.request(path)).status).toBe(500);
    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe(`GET ${route}`);
    expect(span!.status.code).toBe(STATUS.ERROR);
    expect(span!.attributes).toMatchObject({ 'error.type': 'RangeError', 'http.response.status_code': 500 });
    expect(span!.events.filter((e) => e.name === 'exception').map((e) => e.attributes?.['exception.message'])).toEqual([message]);
    expect(requestCount(await app.metrics(), { route, status_code: '500' })).toBe(1);
    await expectHealthy(app);
  });
});

describe('a client that disconnects before the response', () => {
  it('before any byte of the response: counted as 499, the span ends with "client disconnected"', async () => {
    const { app, entered, open, done } = await serve();
    const socket = await app.openRaw('GET /slow/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await entered;
    socket.destroy();

    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET /slow/:id');
    expect(span!.events.map((e) => e.name)).toEqual(['client disconnected']);
    expect(span!.attributes).not.toHaveProperty('http.response.status_code');
    // The server did not fail: no error status.
    expect(span!.status.code).toBe(STATUS.UNSET);
    const body = await app.metrics();
    expect(requestCount(body, { method: 'GET', route: '/slow/:id', status_code: '499' })).toBe(1);
    expect(activeRequests(body)).toBe(0);

    // The handler finishes later and writes to a closed response: harmless, counted once.
    open();
    await done;
    expect(requestCount(await app.metrics(), { route: '/slow/:id' })).toBe(1);
    await expectHealthy(app);
  });

  it('in the middle of a streamed response: 499, the status already sent is on the span', async () => {
    const { app, entered, open, done } = await serve();
    const socket = await app.openRaw('GET /stream/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const firstBytes = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    await entered;
    await firstBytes;
    socket.destroy();

    const [span] = await h.waitForServerSpans(1);
    expect(span!.name).toBe('GET /stream/:id');
    expect(span!.events.map((e) => e.name)).toEqual(['client disconnected']);
    expect(span!.attributes['http.response.status_code']).toBe(200);
    expect(requestCount(await app.metrics(), { route: '/stream/:id', status_code: '499' })).toBe(1);

    open();
    await done;
    expect(requestCount(await app.metrics(), { route: '/stream/:id' })).toBe(1);
    await expectHealthy(app);
  });

  it('a client that sends half a request and goes away: nothing reaches the app', async () => {
    const { app } = await serve();
    const socket = await app.openRaw('GET /rides/1 HTTP/1.1\r\nHost: 127.');
    socket.destroy();
    await expectHealthy(app);
    expect(h.serverSpans().map((s) => s.attributes['url.path'])).toEqual(['/rides/ok']);
  });
});
