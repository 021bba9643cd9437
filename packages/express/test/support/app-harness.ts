// Test harness for @hitch/express: one Hitch instance at a time (createHitch registers the
// OpenTelemetry globals), apps served on 127.0.0.1 and a free port, a keep-alive client, raw
// sockets for what a well-behaved client cannot send, and a ledger of started and ended spans.
// Everything opened here is closed by `dispose()`, which `useHarness()` runs after each test.
import type { Hitch, HitchOptions, TracingOptions } from '@hitch/core';
import { createHitch } from '@hitch/core';
import type { ExpressAppLike, HitchExpressInstrumentation, HitchExpressOptions } from '@hitch/express';
import { hitchExpress } from '@hitch/express';
import type { IncomingHttpHeaders, RequestListener, Server } from 'node:http';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { afterEach, vi } from 'vitest';

/**
 * `hitchExpress(app, options)`, for an app typed by `@types/express`. The cast works around a
 * typing bug: `ExpressAppLike.use` is declared as a function-typed property, so under
 * `strictFunctionTypes` Express's own `use` is not assignable to it and
 * `hitchExpress(express(), { hitch })` does not compile (TS2345). Declaring `use` with method
 * syntax fixes it; then this helper can go.
 */
export function instrument(app: object, options: HitchExpressOptions): HitchExpressInstrumentation {
  return hitchExpress(app as ExpressAppLike, options);
}

/** A span as the memory exporter keeps it. */
export type FinishedSpan = ReturnType<Hitch['tracing']['finishedSpans']>[number];
type SpanProcessorLike = NonNullable<TracingOptions['spanProcessors']>[number];

/** SpanKind.SERVER of @opentelemetry/api, without importing the enum for one number. */
export const SERVER_KIND = 1;
/** SpanStatusCode of @opentelemetry/api. */
export const STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** Counts the spans started and ended through the Hitch provider: proves none is left open. */
export class SpanLedger implements SpanProcessorLike {
  private readonly open = new Map<string, string>();
  started = 0;

  onStart(span: Parameters<SpanProcessorLike['onStart']>[0]): void {
    this.started++;
    this.open.set(span.spanContext().spanId, (span as unknown as { name: string }).name);
  }

  onEnd(span: FinishedSpan): void {
    this.open.delete(span.spanContext().spanId);
  }

  /** Names of the spans started and not ended yet. */
  openSpans(): string[] {
    return [...this.open.values()];
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A response as the client saw it. */
export interface ClientResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string;
  /** Defaults to the app's keep-alive agent. */
  readonly agent?: Agent;
}

/** An app listening on 127.0.0.1. */
export class TestApp {
  /** One keep-alive connection pool for the requests of a test. */
  readonly agent: Agent;
  private connectionCount = 0;

  constructor(
    readonly server: Server,
    readonly port: number,
    private readonly harness: Harness,
  ) {
    this.agent = harness.agent({ keepAlive: true, maxSockets: 4 });
    server.on('connection', () => this.connectionCount++);
  }

  /** TCP connections the server has accepted so far. */
  get connections(): number {
    return this.connectionCount;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** One request through `node:http` (which, unlike fetch, sends any token as a method). */
  request(path: string, options: RequestOptions = {}): Promise<ClientResponse> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: this.port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** The exposition served on `/metrics` (Prometheus text, or OpenMetrics when asked for). */
  async metrics(options: { openMetrics?: boolean; path?: string } = {}): Promise<string> {
    const response = await this.request(options.path ?? '/metrics', { headers: options.openMetrics === true ? { accept: 'application/openmetrics-text; version=1.0.0' } : {} });
    if (response.status !== 200) throw new Error(`${options.path ?? '/metrics'} answered ${response.status}: ${response.body}`);
    return response.body;
  }

  /**
   * Scrapes until `ready(body)` holds (bounded): for what is recorded when the response
   * finishes, which may be after the client has read it, and leaves no span to wait for.
   */
  async metricsWhen(ready: (body: string) => boolean, options: { openMetrics?: boolean } = {}): Promise<string> {
    return vi.waitFor(
      async () => {
        const body = await this.metrics(options);
        if (!ready(body)) throw new Error(`the metrics are not there yet:\n${body}`);
        return body;
      },
      { timeout: 5_000, interval: 10 },
    );
  }

  /**
   * Sends `text` as is on a new TCP connection and resolves with everything the server wrote
   * until it closed the connection (send `Connection: close` for a valid request).
   */
  raw(text: string | Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = this.harness.track(connect(this.port, '127.0.0.1'));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.end(text);
    });
  }

  /** Opens a connection and writes `text` without ending it: the test decides when to destroy it. */
  openRaw(text: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = this.harness.track(connect(this.port, '127.0.0.1'));
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(text);
        resolve(socket);
      });
    });
  }
}

/** What a test opened: closed in reverse order by {@link Harness.dispose}. */
export class Harness {
  private current: Hitch | undefined;
  private currentLedger: SpanLedger | undefined;
  private readonly servers: Server[] = [];
  private readonly agents: Agent[] = [];
  private readonly sockets: Socket[] = [];
  private readonly cleanups: (() => unknown)[] = [];

  /**
   * A Hitch instance for tests: spans in memory, no log output, no runtime metrics. Shuts the
   * previous one down first is the caller's job (`dispose`): two live instances would fight over
   * the OpenTelemetry globals, so this refuses.
   */
  createHitch(overrides: HitchOptions = {}): Hitch {
    if (this.current !== undefined) throw new Error('one Hitch instance at a time: dispose() the previous one first');
    const ledger = new SpanLedger();
    this.currentLedger = ledger;
    this.current = createHitch({
      service: { name: 'express-test' },
      ...overrides,
      tracing: { exporter: 'memory', ...overrides.tracing, spanProcessors: [ledger, ...(overrides.tracing?.spanProcessors ?? [])] },
      logging: { level: 'silent', ...overrides.logging },
      metrics: { runtimeMetrics: false, ...overrides.metrics },
      lifecycle: { preStopDelayMs: 0, ...overrides.lifecycle },
    });
    return this.current;
  }

  get hitch(): Hitch {
    if (this.current === undefined) throw new Error('call createHitch() first');
    return this.current;
  }

  get ledger(): SpanLedger {
    if (this.currentLedger === undefined) throw new Error('call createHitch() first');
    return this.currentLedger;
  }

  /** Finished spans of kind SERVER. */
  serverSpans(): FinishedSpan[] {
    return this.hitch.tracing.finishedSpans().filter((span) => span.kind === SERVER_KIND);
  }

  /**
   * Waits (bounded) until `count` SERVER spans have ended: a span ends on the response's
   * 'finish' event, which may come after the client has read the response.
   */
  async waitForServerSpans(count: number): Promise<FinishedSpan[]> {
    return vi.waitFor(
      () => {
        const spans = this.serverSpans();
        if (spans.length < count) throw new Error(`${spans.length} of ${count} server spans ended`);
        return spans;
      },
      { timeout: 5_000, interval: 5 },
    );
  }

  /** Serves `listener` on 127.0.0.1 and a free port. */
  async listen(listener: RequestListener, options: { maxHeaderSize?: number } = {}): Promise<TestApp> {
    const server = createServer(options.maxHeaderSize === undefined ? {} : { maxHeaderSize: options.maxHeaderSize }, listener);
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new TestApp(server, (server.address() as AddressInfo).port, this);
  }

  agent(options: ConstructorParameters<typeof Agent>[0]): Agent {
    const agent = new Agent(options);
    this.agents.push(agent);
    return agent;
  }

  track(socket: Socket): Socket {
    this.sockets.push(socket);
    return socket;
  }

  /** Runs `fn` at dispose, before the servers close. */
  onDispose(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async dispose(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) await fn();
    for (const socket of this.sockets.splice(0)) socket.destroy();
    for (const agent of this.agents.splice(0)) agent.destroy();
    await Promise.all(
      this.servers.splice(0).map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            if (server.listening) server.close(() => resolve());
            else resolve();
          }),
      ),
    );
    const hitch = this.current;
    const ledger = this.currentLedger;
    this.current = undefined;
    this.currentLedger = undefined;
    try {
      // Every span a test started has ended once its connections are closed (a request cut off by
      // the close ends as a disconnect): checked after every test.
      if (ledger !== undefined) {
        await vi.waitFor(
          () => {
            if (ledger.openSpans().length > 0) throw new Error(`spans never ended: ${ledger.openSpans().join(', ')}`);
          },
          { timeout: 5_000, interval: 5 },
        );
      }
    } finally {
      await hitch?.shutdown();
    }
  }
}

/** A harness disposed after each test of the file. */
export function useHarness(): Harness {
  const harness = new Harness();
  afterEach(() => harness.dispose());
  return harness;
}

/** A sample of an exposition, for assertions. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly exemplar?: { readonly labels: Readonly<Record<string, string>>; readonly value: number; readonly timestamp?: number };
}

const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(labelPattern)) labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return labels;
}

function parseNumber(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** The sample lines of Prometheus text or OpenMetrics (a test helper, not a full parser: it throws on what it does not know). */
export function parseSamples(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(?:\s+(\d+))?(?:\s+#\s+\{(.*?)\}\s+(\S+)(?:\s+(\S+))?)?$/.exec(line);
    if (!match) throw new Error(`unparseable sample line: ${line}`);
    const exemplar = match[5] === undefined ? undefined : { labels: parseLabels(match[5]), value: parseNumber(match[6]!), ...(match[7] === undefined ? {} : { timestamp: Number(match[7]) }) };
    samples.push({ name: match[1]!, labels: match[2] === undefined ? {} : parseLabels(match[2]), value: parseNumber(match[3]!), ...(exemplar === undefined ? {} : { exemplar }) });
  }
  return samples;
}

/** Samples named `name` whose labels include every one of `labels`. */
export function samplesOf(body: string, name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
  return parseSamples(body).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample matching, or `undefined` when there is none (throws when several match). */
export function valueOf(body: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const found = samplesOf(body, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Requests counted by `http_server_request_duration_seconds` with these labels (0 when none). */
export function requestCount(body: string, labels: Readonly<Record<string, string>>): number {
  return samplesOf(body, 'http_server_request_duration_seconds_count', labels).reduce((sum, s) => sum + s.value, 0);
}

/** Sum of `http_server_active_requests` over every method. */
export function activeRequests(body: string): number {
  return samplesOf(body, 'http_server_active_requests').reduce((sum, s) => sum + s.value, 0);
}

/** A promise the test settles by hand. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
