// Real gRPC on loopback for the tests of @hitch/grpc: one Hitch instance at a time (createHitch
// registers the OpenTelemetry globals), the Echo service of test/fixtures/echo.proto served on
// 127.0.0.1 and a free port, Hitch and plain grpc-js clients, a ledger of started and ended spans,
// and the exposition parsed for assertions. Everything opened here is closed by `dispose()`, which
// `useHarness()` runs after each test.
import type { Hitch, HitchOptions, TracingOptions } from '@hitch/core';
import { createHitch } from '@hitch/core';
import type { CreateClientOptions, CreateServerOptions, HitchServer, ServiceClientConstructor } from '@hitch/grpc';
import { createClient, createServer } from '@hitch/grpc';
import type {
  CallOptions,
  Client,
  ClientDuplexStream,
  ClientReadableStream,
  ClientUnaryCall,
  ClientWritableStream,
  Server,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceError,
  UntypedServiceImplementation,
  requestCallback,
} from '@grpc/grpc-js';
import { Metadata, ServerCredentials, credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { SpanKind } from '@opentelemetry/api';
import { fileURLToPath } from 'node:url';
import { afterEach, vi } from 'vitest';

/** `package.Service` of the test service. */
export const ECHO_SERVICE = 'hitch.test.Echo';

/** `hitch.test.Echo/Method`: a span name and `rpc.method`. */
export function fullName(method: string): string {
  return `${ECHO_SERVICE}/${method}`;
}

export interface EchoRequest {
  message?: string;
  fail?: string;
  delayMs?: number;
  count?: number;
}

/** An int64 as proto-loader decodes it without a `longs` option (a `Long`). */
export interface LongLike {
  toString(): string;
}

export interface EchoReply {
  message?: string;
  /** A number when sent; a `Long` when received (see {@link remainingMsOf}). */
  remainingMs?: number | LongLike;
  traceId?: string;
}

/** The `remaining_ms` of a received reply, as a number. */
export function remainingMsOf(reply: EchoReply): number {
  return Number(String(reply.remainingMs ?? 0));
}

export type UnaryMethod = 'echo' | 'create' | 'relay';
type UnaryStub = (request: EchoRequest, metadata: Metadata, options: Partial<CallOptions>, callback: requestCallback<EchoReply>) => ClientUnaryCall;

/** The client class `loadPackageDefinition` makes of the Echo service (lower camel case method names). */
export interface EchoClient extends Client {
  echo: UnaryStub;
  create: UnaryStub;
  relay: UnaryStub;
  serverStream(request: EchoRequest, metadata: Metadata, options?: Partial<CallOptions>): ClientReadableStream<EchoReply>;
  clientStream(metadata: Metadata, options: Partial<CallOptions>, callback: requestCallback<EchoReply>): ClientWritableStream<EchoRequest>;
  bidi(metadata: Metadata, options?: Partial<CallOptions>): ClientDuplexStream<EchoRequest, EchoReply>;
}

/**
 * The callback of a unary or client-streaming handler. Wider than grpc-js's `sendUnaryData`:
 * under `createServer` any error may be passed, typed Hitch errors included.
 */
export type ReplyCallback = (error: unknown, value?: EchoReply | null, trailer?: Metadata) => void;

type UnaryHandler = (call: ServerUnaryCall<EchoRequest, EchoReply>, callback: ReplyCallback) => unknown;

/**
 * Handlers of the Echo service. Wider than grpc-js's types on purpose: `createServer` lets a
 * unary handler return (a promise of) its reply, and a handler may throw or reject.
 */
export interface EchoHandlers {
  echo?: UnaryHandler;
  create?: UnaryHandler;
  relay?: UnaryHandler;
  serverStream?: (call: ServerWritableStream<EchoRequest, EchoReply>) => unknown;
  clientStream?: (call: ServerReadableStream<EchoRequest, EchoReply>, callback: ReplyCallback) => unknown;
  bidi?: (call: ServerDuplexStream<EchoRequest, EchoReply>) => unknown;
}

const protoPath = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url));
const packageDefinition = loadSync(protoPath, { keepCase: false, defaults: true });
const loaded = loadPackageDefinition(packageDefinition) as unknown as { hitch: { test: { Echo: ServiceClientConstructor<EchoClient> } } };

/** The Echo client class; `Echo.service` is its service definition. */
export const Echo: ServiceClientConstructor<EchoClient> = loaded.hitch.test.Echo;

/** A span as the memory exporter keeps it. */
export type FinishedSpan = ReturnType<Hitch['tracing']['finishedSpans']>[number];
type SpanProcessorLike = NonNullable<TracingOptions['spanProcessors']>[number];

/** SpanStatusCode of @opentelemetry/api, by name. */
export const STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** Counts the spans started and ended through the Hitch provider: proves none is left open. */
export class SpanLedger implements SpanProcessorLike {
  private readonly open = new Map<string, string>();

  onStart(span: Parameters<SpanProcessorLike['onStart']>[0]): void {
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

/** A server listening on 127.0.0.1. */
export interface TestServer {
  readonly server: HitchServer;
  readonly port: number;
  /** `127.0.0.1:port`: what clients dial and client spans carry as `server.address`. */
  readonly address: string;
}

/** A promise with its resolve function, for handlers that tell the test where they are. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Resolves with `promise`'s value once it has settled, or fails after `timeoutMs` (polled,
 * bounded) saying what never happened: for promises a handler resolves, which may never run if a
 * call ends before its handler starts.
 */
export async function settledWithin<T>(promise: Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  let settled: { value: T } | undefined;
  void promise.then((value) => {
    settled = { value };
  });
  return vi.waitFor(
    () => {
      if (settled === undefined) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
      return settled.value;
    },
    { timeout: timeoutMs, interval: 5 },
  );
}

/**
 * Metadata that gives the server, and only the server, a deadline: grpc-js passes a `grpc-timeout`
 * set by hand through, and a client without a deadline of its own never cancels. The server's
 * deadline then passes first, deterministically (a client deadline races the server's own timer).
 */
export function serverOnlyTimeout(ms: number): Metadata {
  const metadata = new Metadata();
  metadata.set('grpc-timeout', `${ms}m`);
  return metadata;
}

export interface UnaryCallOptions {
  readonly metadata?: Metadata;
  /** Epoch milliseconds or a Date. Defaults to none. */
  readonly deadline?: number | Date;
}

/** How a call ended, as the caller saw it. */
export type Outcome = { readonly ok: true; readonly reply: EchoReply } | { readonly ok: false; readonly error: ServiceError };

/** Starts a unary call; the test may cancel it before it settles. */
export function startUnary(client: EchoClient, method: UnaryMethod, request: EchoRequest, options: UnaryCallOptions = {}): { call: ClientUnaryCall; outcome: Promise<Outcome> } {
  let call!: ClientUnaryCall;
  const outcome = new Promise<Outcome>((resolve) => {
    const callOptions: Partial<CallOptions> = options.deadline === undefined ? {} : { deadline: options.deadline };
    call = client[method](request, options.metadata ?? new Metadata(), callOptions, (error, reply) => {
      resolve(error !== null && error !== undefined ? { ok: false, error } : { ok: true, reply: reply ?? {} });
    });
  });
  return { call, outcome };
}

/** A unary call that should succeed: resolves with its reply. */
export async function unary(client: EchoClient, method: UnaryMethod, request: EchoRequest, options: UnaryCallOptions = {}): Promise<EchoReply> {
  const outcome = await startUnary(client, method, request, options).outcome;
  if (!outcome.ok) throw new Error(`${method} failed: ${outcome.error.message}`);
  return outcome.reply;
}

/** A unary call that should fail: resolves with the error the caller got. */
export async function unaryError(client: EchoClient, method: UnaryMethod, request: EchoRequest, options: UnaryCallOptions = {}): Promise<ServiceError> {
  const outcome = await startUnary(client, method, request, options).outcome;
  if (outcome.ok) throw new Error(`${method} succeeded with ${JSON.stringify(outcome.reply)}, expected an error`);
  return outcome.error;
}

/** Everything a response stream delivered, and the error it ended with, if any. */
export interface StreamResult {
  readonly replies: EchoReply[];
  readonly error: ServiceError | undefined;
}

/** Reads a response stream to its end (or its error). */
export function collect(stream: ClientReadableStream<EchoReply> | ClientDuplexStream<EchoRequest, EchoReply>): Promise<StreamResult> {
  return new Promise((resolve) => {
    const replies: EchoReply[] = [];
    stream.on('data', (reply: EchoReply) => replies.push(reply));
    stream.on('error', (error: ServiceError) => resolve({ replies, error }));
    stream.on('end', () => resolve({ replies, error: undefined }));
  });
}

/** What a test opened: closed by {@link GrpcHarness.dispose}. */
export class GrpcHarness {
  private current: Hitch | undefined;
  private currentLedger: SpanLedger | undefined;
  private readonly servers: Server[] = [];
  private readonly clients: Client[] = [];

  /**
   * A Hitch instance for tests: spans in memory, no log output, no runtime metrics. Two live
   * instances would fight over the OpenTelemetry globals, so a second call before `dispose()` throws.
   */
  createHitch(overrides: HitchOptions = {}): Hitch {
    if (this.current !== undefined) throw new Error('one Hitch instance at a time: dispose() the previous one first');
    const ledger = new SpanLedger();
    this.currentLedger = ledger;
    this.current = createHitch({
      service: { name: 'grpc-test' },
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

  /** The Echo service with `handlers` on a `createServer` server, bound to 127.0.0.1 and a free port. */
  async serve(handlers: EchoHandlers, options: Omit<CreateServerOptions, 'hitch'> = {}): Promise<TestServer> {
    const server = createServer({ hitch: this.hitch, ...options });
    server.addService(Echo.service, handlers as UntypedServiceImplementation);
    const port = await this.bind(server);
    return { server, port, address: `127.0.0.1:${port}` };
  }

  /** Binds any server to 127.0.0.1 and a free port; it is shut down by `dispose()`. */
  bind(server: Server): Promise<number> {
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error !== null ? reject(error) : resolve(port)));
    });
  }

  /** An Echo client made with `createClient` (Hitch's interceptor installed). */
  client(address: string, options: Omit<CreateClientOptions, 'hitch'> = {}): EchoClient {
    return this.track(createClient(Echo, address, { hitch: this.hitch, ...options }));
  }

  /** An Echo client without Hitch: what a service that does not use Hitch sends. */
  plainClient(address: string): EchoClient {
    return this.track(new Echo(address, credentials.createInsecure()));
  }

  /** Closes `client` at dispose. */
  track<C extends Client>(client: C): C {
    this.clients.push(client);
    return client;
  }

  /** Spans ended so far, optionally only those of `kind` and of `method` (`'Echo'`, `'Relay'`...). */
  spans(filter: { kind?: SpanKind; method?: string } = {}): FinishedSpan[] {
    return this.hitch.tracing
      .finishedSpans()
      .filter((span) => (filter.kind === undefined || span.kind === filter.kind) && (filter.method === undefined || span.name === fullName(filter.method)));
  }

  /**
   * Waits (bounded) until `count` spans matching `filter` have ended, and returns them: the SERVER
   * span of a call may end after the client has its answer.
   */
  async waitForSpans(count: number, filter: { kind?: SpanKind; method?: string } = {}): Promise<FinishedSpan[]> {
    return vi.waitFor(
      () => {
        const spans = this.spans(filter);
        if (spans.length < count) throw new Error(`${spans.length} of ${count} spans ended (${JSON.stringify(filter)})`);
        return spans;
      },
      { timeout: 5_000, interval: 5 },
    );
  }

  /** The one ended span of `kind` for `method` (waits for it, bounded; throws when there are several). */
  async span(kind: SpanKind, method: string): Promise<FinishedSpan> {
    const spans = await this.waitForSpans(1, { kind, method });
    if (spans.length !== 1) throw new Error(`${spans.length} ${SpanKind[kind]} spans for ${method}, expected one`);
    return spans[0]!;
  }

  /** The exposition `/metrics` would serve: Prometheus text, or OpenMetrics for that Accept header. */
  async metrics(accept?: string): Promise<string> {
    return (await this.hitch.metrics.render(accept)).body;
  }

  async dispose(): Promise<void> {
    for (const client of this.clients.splice(0)) client.close();
    for (const server of this.servers.splice(0)) server.forceShutdown();
    const hitch = this.current;
    const ledger = this.currentLedger;
    this.current = undefined;
    this.currentLedger = undefined;
    try {
      // Every span a test started ends once its calls are over (a call cut off by forceShutdown
      // ends as cancelled): checked after every test.
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
export function useHarness(): GrpcHarness {
  const harness = new GrpcHarness();
  afterEach(() => harness.dispose());
  return harness;
}

/** A sample of an exposition. */
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

/** Calls of the Echo `method` counted by a `*_call_duration_seconds` histogram with `status` (0 when none). */
export function callCount(body: string, side: 'server' | 'client', method: string, status: string): number {
  return valueOf(body, `rpc_${side}_call_duration_seconds_count`, { rpc_service: ECHO_SERVICE, rpc_method: method, rpc_status_code: status }) ?? 0;
}
