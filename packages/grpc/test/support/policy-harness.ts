// Real gRPC on loopback for the tests of @hitch/grpc's client policies, health service and
// shutdown: the test proto's Echo service answering as a script says (fail with a code, hold on a
// gate, answer), counted server-side; servers on 127.0.0.1 port 0 (plain grpc-js, or createServer);
// Hitch clients (createClient) and independent plain grpc-js clients (the standard health proto of
// grpc-health-check); child processes speaking one line per event. One Hitch instance at a time
// (createHitch registers the OpenTelemetry globals); `dispose()` closes everything a test opened.
import { createHitch, systemClock } from '@hitch/core';
import type { Clock, Hitch, HitchOptions, TimerHandle } from '@hitch/core';
import { createClient, createServer } from '@hitch/grpc';
import type { ClientPolicyOptions, CreateServerOptions, HitchServer, ServiceClientConstructor } from '@hitch/grpc';
import { Metadata, Server, ServerCredentials, credentials, loadPackageDefinition, status as Status } from '@grpc/grpc-js';
import type {
  CallOptions,
  Client,
  ClientReadableStream,
  ClientUnaryCall,
  GrpcObject,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceError,
  UntypedServiceImplementation,
  sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { SpanKind } from '@opentelemetry/api';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';

// ---------------------------------------------------------------------------------------------
// The protos

const ECHO_PROTO = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url));
/** The standard health proto as grpc-health-check ships it (the package has no `exports` map). */
const HEALTH_PROTO = join(dirname(createRequire(import.meta.url).resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');

export const ECHO_SERVICE = 'hitch.test.Echo';

export interface EchoRequest {
  readonly message?: string;
  readonly count?: number;
}
export interface EchoReply {
  readonly message: string;
}

type Callback<T> = (error: ServiceError | null, reply?: T) => void;
interface UnaryMethod<Req, Res> {
  (request: Req, callback: Callback<Res>): ClientUnaryCall;
  (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: Callback<Res>): ClientUnaryCall;
}

/** The Echo client as `loadPackageDefinition` makes it (the methods these tests call). */
export interface EchoClient extends Client {
  Echo: UnaryMethod<EchoRequest, EchoReply>;
  Create: UnaryMethod<EchoRequest, EchoReply>;
  ServerStream(request: EchoRequest, options?: Partial<CallOptions>): ClientReadableStream<EchoReply>;
}

/** `grpc.health.v1.Health`, loaded with enums as their names. */
export interface HealthClient extends Client {
  Check: UnaryMethod<{ service: string }, { status: string }>;
  Watch(request: { service: string }, options?: Partial<CallOptions>): ClientReadableStream<{ status: string }>;
}

function lookup(root: GrpcObject, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root);
}

/** The Echo client class: `keepCase: false, defaults: true`, method options (idempotency_level) kept. */
export const EchoClient = lookup(loadPackageDefinition(loadSync(ECHO_PROTO, { keepCase: false, defaults: true })), ECHO_SERVICE) as ServiceClientConstructor<EchoClient>;

/** A plain grpc-js health client (no Hitch): what an orchestrator or a load balancer runs. */
export const HealthClient = lookup(
  loadPackageDefinition(loadSync(HEALTH_PROTO, { keepCase: false, defaults: true, enums: String })),
  'grpc.health.v1.Health',
) as ServiceClientConstructor<HealthClient>;

// ---------------------------------------------------------------------------------------------
// Promises the test settles

export interface Gate {
  readonly promise: Promise<void>;
  readonly opened: boolean;
  open(): void;
}

/** A promise the test opens by hand: a handler waits on it to stay in flight. */
export function gate(): Gate {
  let open!: () => void;
  let opened = false;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return {
    promise,
    get opened() {
      return opened;
    },
    open() {
      opened = true;
      open();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The scripted Echo service

/** What one call does on the server. */
export type Action =
  | { readonly kind: 'ok' }
  | { readonly kind: 'fail'; readonly code: Status; readonly details?: string }
  /** Waits on a gate (see `EchoBackend.held`), then answers OK. */
  | { readonly kind: 'hold' };

export const ok: Action = { kind: 'ok' };
export const hold: Action = { kind: 'hold' };
export const fail = (code: Status, details = `scripted ${Status[code]}`): Action => ({ kind: 'fail', code, details });

/**
 * Echo as the tests script it. Each method takes its next action from its script (`script`),
 * then from its default (`always`, `ok` unless set). Counts calls server-side, per method.
 */
export class EchoBackend {
  /** Gates of the held calls, in arrival order. */
  readonly held: Gate[] = [];
  private readonly scripts = new Map<string, Action[]>();
  private readonly defaults = new Map<string, Action>();
  private readonly counts = new Map<string, number>();
  private cancelledCount = 0;
  private answeredCount = 0;
  private released = false;
  private readonly waiters: { ready: () => boolean; resolve: () => void }[] = [];

  /** The next calls of `method` do these, in order. */
  script(method: string, ...actions: Action[]): this {
    this.scripts.set(method, [...(this.scripts.get(method) ?? []), ...actions]);
    return this;
  }

  /** What calls of `method` do once its script is used up. */
  always(method: string, action: Action): this {
    this.defaults.set(method, action);
    return this;
  }

  /** Calls of `method` that reached the handler. */
  calls(method: string): number {
    return this.counts.get(method) ?? 0;
  }

  /** Calls the client cancelled (or whose deadline passed) while in the handler. */
  get cancelled(): number {
    return this.cancelledCount;
  }

  /** Held calls that were released and answered OK. */
  get answered(): number {
    return this.answeredCount;
  }

  /** Resolves once `n` calls are held (past or future). */
  whenHeld(n: number): Promise<void> {
    return this.when(() => this.held.length >= n);
  }

  /** Resolves once `n` calls were seen cancelled by the server. */
  whenCancelled(n: number): Promise<void> {
    return this.when(() => this.cancelledCount >= n);
  }

  /** Opens every gate, and lets calls that would be held from now on answer at once. */
  releaseAll(): void {
    this.released = true;
    for (const held of this.held) held.open();
  }

  implementation(): UntypedServiceImplementation {
    const unary = (method: string) => (call: ServerUnaryCall<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) => {
      const { action, held } = this.next(method, call);
      void this.perform(action, held).then((error) => {
        if (error !== undefined) callback(error, null);
        else {
          if (held !== undefined) this.bump(() => this.answeredCount++);
          callback(null, { message: call.request.message ?? '' });
        }
      });
    };
    return {
      Echo: unary('Echo'),
      Create: unary('Create'),
      Relay: unary('Relay'),
      ServerStream: (call: ServerWritableStream<EchoRequest, EchoReply>) => {
        const { action, held } = this.next('ServerStream', call);
        void this.perform(action, held).then((error) => {
          if (error !== undefined) {
            call.emit('error', error);
            return;
          }
          const count = call.request.count || 3;
          for (let i = 0; i < count; i++) call.write({ message: `${call.request.message ?? ''} ${i}` });
          call.end();
        });
      },
    };
  }

  /** Counts the call and takes its action (with its gate when it is held). */
  private next(method: string, call: { on(event: 'cancelled', listener: () => void): unknown }): { action: Action; held?: Gate } {
    this.counts.set(method, this.calls(method) + 1);
    call.on('cancelled', () => this.bump(() => this.cancelledCount++));
    const action = this.scripts.get(method)?.shift() ?? this.defaults.get(method) ?? ok;
    if (action.kind !== 'hold') return { action };
    const held = gate();
    if (this.released) held.open();
    this.bump(() => this.held.push(held));
    return { action, held };
  }

  /** Runs an action; resolves with the error to answer, if any. */
  private async perform(action: Action, held: Gate | undefined): Promise<{ code: Status; details: string } | undefined> {
    if (action.kind === 'fail') return { code: action.code, details: action.details ?? '' };
    if (held !== undefined) await held.promise;
    return undefined;
  }

  private bump(change: () => void): void {
    change();
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.ready()) waiter.resolve();
      else this.waiters.push(waiter);
    }
  }

  private when(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push({ ready, resolve }));
  }
}

// ---------------------------------------------------------------------------------------------
// Calls, as outcomes (never a rejection the test has to catch)

/** How a call ended: `code` 0 is OK. */
export interface Outcome<T> {
  readonly code: Status;
  readonly details: string;
  readonly reply?: T;
}

function outcomeOf<T>(resolve: (outcome: Outcome<T>) => void): Callback<T> {
  return (error, reply) => {
    if (error === null) resolve({ code: Status.OK, details: '', reply });
    else resolve({ code: error.code, details: error.details });
  };
}

/** Resolves once `client` is connected (bounded), so that a short per-call timeout is not spent on connecting. */
export function connected(client: Client): Promise<void> {
  return new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (error) => (error === undefined || error === null ? resolve() : reject(error))));
}

/** `client.Echo(request)` started: `call` to cancel it, `outcome` once it ended. */
export function startEcho(client: EchoClient, request: EchoRequest = { message: 'hi' }, options: Partial<CallOptions> = {}): { call: ClientUnaryCall; outcome: Promise<Outcome<EchoReply>> } {
  let call!: ClientUnaryCall;
  const outcome = new Promise<Outcome<EchoReply>>((resolve) => {
    call = client.Echo(request, new Metadata(), options, outcomeOf(resolve));
  });
  return { call, outcome };
}

/** `client.Echo(request)`, awaited. */
export function echo(client: EchoClient, request: EchoRequest = { message: 'hi' }, options: Partial<CallOptions> = {}): Promise<Outcome<EchoReply>> {
  return new Promise((resolve) => client.Echo(request, new Metadata(), options, outcomeOf(resolve)));
}

/** `client.Create(request)`, awaited. */
export function create(client: EchoClient, request: EchoRequest = { message: 'hi' }, options: Partial<CallOptions> = {}): Promise<Outcome<EchoReply>> {
  return new Promise((resolve) => client.Create(request, new Metadata(), options, outcomeOf(resolve)));
}

/** A server-streaming call read to its end: the messages, then the status. */
export function serverStream(client: EchoClient, request: EchoRequest = { message: 'hi' }): Promise<Outcome<EchoReply[]>> {
  return new Promise((resolve) => {
    const messages: EchoReply[] = [];
    const stream = client.ServerStream(request);
    stream.on('data', (message: EchoReply) => messages.push(message));
    // Errors also come as a status; 'error' is listened to so none is thrown.
    stream.on('error', () => undefined);
    stream.on('status', (status: { code: Status; details: string }) => resolve({ code: status.code, details: status.details, reply: messages }));
  });
}

/** `Health/Check(service)`, awaited. */
export function check(client: HealthClient, service: string): Promise<Outcome<{ status: string }>> {
  return new Promise((resolve) => client.Check({ service }, new Metadata(), {}, outcomeOf(resolve)));
}

/** An open `Health/Watch` stream. */
export interface Watch {
  /** Every status received so far. */
  readonly statuses: string[];
  /** Resolves with the `n`th status (1-based), past or future; rejects if the stream ends first. */
  status(n: number): Promise<string>;
  /** How the stream ended. */
  readonly ended: Promise<Outcome<never>>;
  cancel(): void;
}

export function watch(client: HealthClient, service: string): Watch {
  const statuses: string[] = [];
  const stream = client.Watch({ service });
  const waiters: { n: number; resolve: (status: string) => void; reject: (error: Error) => void }[] = [];
  let endedWith: Outcome<never> | undefined;
  const ended = new Promise<Outcome<never>>((resolve) => {
    stream.on('status', (status: { code: Status; details: string }) => {
      endedWith = { code: status.code, details: status.details };
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(`the Watch stream ended (${Status[status.code]} ${status.details}) after ${JSON.stringify(statuses)}`));
      resolve(endedWith);
    });
  });
  stream.on('error', () => undefined);
  stream.on('data', (message: { status: string }) => {
    statuses.push(message.status);
    for (const waiter of waiters.splice(0)) {
      if (statuses.length >= waiter.n) waiter.resolve(statuses[waiter.n - 1]!);
      else waiters.push(waiter);
    }
  });
  return {
    statuses,
    ended,
    status(n) {
      if (statuses.length >= n) return Promise.resolve(statuses[n - 1]!);
      if (endedWith !== undefined) return Promise.reject(new Error(`the Watch stream ended after ${JSON.stringify(statuses)}`));
      return new Promise((resolve, reject) => waiters.push({ n, resolve, reject }));
    },
    cancel: () => stream.cancel(),
  };
}

// ---------------------------------------------------------------------------------------------
// Clock, spans, metrics

/**
 * The system clock, counting the timers pending on it by delay: shows that a timer Hitch set
 * through `hitch.clock` (a Watch's re-evaluation) was cleared. Timers behave as the system's.
 */
export class CountingClock implements Clock {
  private readonly pending = new Map<TimerHandle, number>();

  now(): number {
    return systemClock.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = systemClock.setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, ms);
    this.pending.set(handle, ms);
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle);
    systemClock.clearTimeout(handle);
  }

  /** Timers set for `ms` milliseconds that have neither fired nor been cleared. */
  pendingFor(ms: number): number {
    let count = 0;
    for (const delay of this.pending.values()) if (delay === ms) count++;
    return count;
  }
}

/** A span as the memory exporter keeps it. */
export type FinishedSpan = ReturnType<Hitch['tracing']['finishedSpans']>[number];

/** Observations of `rpc_client_call_duration_seconds` whose labels include `labels`. */
export async function clientObservations(hitch: Hitch, labels: Readonly<Record<string, string>>): Promise<number> {
  const { body } = await hitch.metrics.render();
  let total = 0;
  for (const line of body.split('\n')) {
    const match = /^rpc_client_call_duration_seconds_count\{(.*)\} (\S+)$/.exec(line);
    if (match === null) continue;
    const found: Record<string, string> = {};
    for (const [, key, value] of match[1]!.matchAll(/(\w+)="([^"]*)"/g)) found[key!] = value!;
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) total += Number(match[2]);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** How a child process ended; `hung` when it had to be killed after the bound. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly hung: boolean;
}

/** A fixture running in its own Node process, speaking one line per event on stdout. */
export interface Fixture {
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Everything written on stderr so far. */
  stderr(): string;
  /** Resolves with the first line (past or future) that `match` accepts; rejects if the child exits first. */
  line(match: (line: string) => boolean): Promise<string>;
  /** Resolves when the child has exited (killed with SIGKILL after `maxRunMs`). */
  readonly exited: Promise<ChildExit>;
}

// ---------------------------------------------------------------------------------------------
// The harness

/** A server listening on 127.0.0.1 and a port the system picked. */
export interface Served<S extends Server = Server> {
  readonly server: S;
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
}

function bind<S extends Server>(server: S): Promise<Served<S>> {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
      if (error !== null) reject(error);
      else resolve({ server, port, address: `127.0.0.1:${port}` });
    });
  });
}

export class GrpcHarness {
  private current: Hitch | undefined;
  private readonly cleanups: (() => unknown)[] = [];
  private readonly backends: EchoBackend[] = [];

  /**
   * A Hitch instance for tests: spans in memory, no log output, no runtime metrics, no pre-stop
   * delay. Refuses a second one before `dispose()` (they would fight over the OpenTelemetry globals).
   */
  createHitch(overrides: HitchOptions = {}): Hitch {
    if (this.current !== undefined) throw new Error('one Hitch instance at a time: dispose() the previous one first');
    const hitch = createHitch({
      service: { name: 'grpc-test' },
      ...overrides,
      tracing: { exporter: 'memory', ...overrides.tracing },
      logging: { level: 'silent', ...overrides.logging },
      metrics: { runtimeMetrics: false, ...overrides.metrics },
      lifecycle: { preStopDelayMs: 0, ...overrides.lifecycle },
    });
    this.current = hitch;
    return hitch;
  }

  get hitch(): Hitch {
    if (this.current === undefined) throw new Error('call createHitch() first');
    return this.current;
  }

  /** A scripted Echo service; its held calls are released in `dispose()`. */
  backend(): EchoBackend {
    const backend = new EchoBackend();
    this.backends.push(backend);
    return backend;
  }

  /** Echo on a plain grpc-js server (no Hitch on the server side). */
  async servePlain(backend: EchoBackend): Promise<Served> {
    const server = new Server();
    server.addService(EchoClient.service, backend.implementation());
    this.cleanups.push(() => server.forceShutdown());
    return bind(server);
  }

  /** Echo on `createServer({ hitch, ...options })`. */
  async serveHitch(backend: EchoBackend, options: Omit<CreateServerOptions, 'hitch'> = {}): Promise<Served<HitchServer>> {
    const server = createServer({ hitch: this.hitch, ...options });
    server.addService(EchoClient.service, backend.implementation());
    this.cleanups.push(() => server.forceShutdown());
    return bind(server);
  }

  /** Binds a server the test built itself; `forceShutdown()` in `dispose()`. */
  async bind<S extends Server>(server: S): Promise<Served<S>> {
    this.cleanups.push(() => server.forceShutdown());
    return bind(server);
  }

  /** `createClient(EchoClient, address, { hitch, policy })`, closed in `dispose()`. */
  client(address: string, policy?: ClientPolicyOptions): EchoClient {
    const client = createClient(EchoClient, address, { hitch: this.hitch, ...(policy === undefined ? {} : { policy }) });
    this.cleanups.push(() => client.close());
    return client;
  }

  /** A plain grpc-js Echo client (no Hitch). */
  plainClient(address: string): EchoClient {
    const client = new EchoClient(address, credentials.createInsecure());
    this.cleanups.push(() => client.close());
    return client;
  }

  /** A plain grpc-js health client. */
  healthClient(address: string): HealthClient {
    const client = new HealthClient(address, credentials.createInsecure());
    this.cleanups.push(() => client.close());
    return client;
  }

  /** The CLIENT spans that ended, optionally of one method (`Echo`). */
  clientSpans(method?: string): FinishedSpan[] {
    return this.hitch.tracing
      .finishedSpans()
      .filter((span) => span.kind === SpanKind.CLIENT && (method === undefined || span.name === `${ECHO_SERVICE}/${method}`));
  }

  /** Waits (bounded) until `count` CLIENT spans of `method` have ended. */
  async waitForClientSpans(method: string, count: number): Promise<FinishedSpan[]> {
    return vi.waitFor(
      () => {
        const spans = this.clientSpans(method);
        if (spans.length < count) throw new Error(`${spans.length} of ${count} client spans of ${method} ended`);
        return spans;
      },
      { timeout: 5_000, interval: 5 },
    );
  }

  /**
   * Runs `script` with `args` in a new Node process, in this package's folder (so `@hitch/grpc`,
   * `@hitch/core` and `@grpc/grpc-js` resolve as for an application). The child is killed with
   * SIGKILL after `maxRunMs`, and by `dispose()` if still running.
   */
  runFixture(script: string, args: readonly string[] = [], maxRunMs = 20_000): Fixture {
    const child = spawn(process.execPath, [script, ...args], { cwd: new URL('../..', import.meta.url), stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const watchers: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
    let stderr = '';
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        for (const watcher of watchers.splice(0)) {
          if (watcher.match(line)) watcher.resolve(line);
          else watchers.push(watcher);
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let hung = false;
    const killTimer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, maxRunMs);
    const exited = new Promise<ChildExit>((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(killTimer);
        resolve({ code, signal, hung });
      });
    });
    this.cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    return {
      child,
      lines,
      stderr: () => stderr,
      exited,
      line(match) {
        const seen = lines.find(match);
        if (seen !== undefined) return Promise.resolve(seen);
        return new Promise<string>((resolve, reject) => {
          watchers.push({ match, resolve });
          void exited.then((how) => reject(new Error(`the child exited (${JSON.stringify(how)}) before the line; stdout: ${JSON.stringify(lines)}; stderr: ${stderr.slice(-2000)}`)));
        });
      },
    };
  }

  /** Runs `fn` in `dispose()`, before what was registered earlier. */
  defer(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  /** Releases held calls, closes clients, force-shuts servers, kills children, shuts Hitch down. */
  async dispose(): Promise<void> {
    const errors: unknown[] = [];
    for (const backend of this.backends.splice(0)) backend.releaseAll();
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    const hitch = this.current;
    this.current = undefined;
    await hitch?.shutdown();
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}
