// Real HTTP on loopback for the tests of @hitch/express: a Hitch whose log lines are kept in
// memory, servers on 127.0.0.1 port 0, a small client on node:http (so a test picks its agent and
// can reach the socket), and one cleanup that closes everything a test opened.
import { createHitch } from '@hitch/core';
import type { Hitch, HitchOptions } from '@hitch/core';
import { hitchExpress } from '@hitch/express';
import type { ExpressAppLike, HitchExpressInstrumentation, HitchExpressOptions } from '@hitch/express';
import type { Express } from 'express';
import { SpanKind } from '@opentelemetry/api';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AgentOptions, IncomingHttpHeaders, OutgoingHttpHeaders, RequestListener, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * `hitchExpress(app, options)` for an app typed by `@types/express`. The cast works around a typing
 * bug in src/hitch-express.ts: `ExpressAppLike.use` is declared as a function-typed property, so
 * under `strictFunctionTypes` an `Express` is not assignable to it. Drop the cast once `use` is
 * declared as a method (`use(...handlers: unknown[]): unknown;`).
 */
export function instrument(app: Express, options: HitchExpressOptions): HitchExpressInstrumentation {
  return hitchExpress(app as ExpressAppLike, options);
}

/** One line written by `hitch.logger`, parsed. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly trace_id?: string;
  readonly span_id?: string;
  readonly http?: { readonly method?: string; readonly route?: string; readonly status_code?: number; readonly duration_ms?: number };
  readonly [key: string]: unknown;
}

/** A complete response, as the client received it. */
export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  readonly json: unknown;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Buffer;
  /** The agent to send through; `false` (the default) opens a fresh connection that is closed after the response. */
  readonly agent?: Agent | false;
  /** Sees the request's socket once it is assigned (to destroy it, or to watch it close). */
  readonly onSocket?: (socket: Socket) => void;
}

/** Sends one request to 127.0.0.1:`port`; resolves once the whole body arrived, rejects if the connection broke first. */
export function send(port: number, path: string, options: SendOptions = {}): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the response was cut off')));
      res.on('end', () => {
        if (!res.complete) {
          reject(new Error('the response was cut off'));
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          get json(): unknown {
            return JSON.parse(text) as unknown;
          },
        });
      });
    });
    req.on('error', reject);
    if (options.onSocket !== undefined) {
      const onSocket = options.onSocket;
      req.once('socket', (socket) => onSocket(socket));
    }
    req.end(options.body);
  });
}

/** A server listening on 127.0.0.1 and a port the system picked. */
export interface TestServer {
  readonly server: Server;
  readonly port: number;
  send(path: string, options?: SendOptions): Promise<Reply>;
}

/** Wraps an already listening server. */
export function testServer(server: Server): TestServer {
  const { port } = server.address() as AddressInfo;
  return { server, port, send: (path, options) => send(port, path, options) };
}

/** A finished span, as the memory exporter keeps it. */
export type FinishedSpan = ReturnType<Hitch['tracing']['finishedSpans']>[number];

/** `createHitch` options for tests: spans in memory, no runtime metrics, no pre-stop delay; logging goes to memory. */
export type TestHitchOptions = Omit<HitchOptions, 'logging'> & { readonly logging?: Omit<NonNullable<HitchOptions['logging']>, 'destination'> };

/** The SERVER spans that ended so far. */
export function serverSpans(hitch: Hitch): FinishedSpan[] {
  return hitch.tracing.finishedSpans().filter((span) => span.kind === SpanKind.SERVER);
}

/**
 * What one test opens: a Hitch instance (one at a time, as it registers the OpenTelemetry
 * globals), servers, agents. `close()` in `afterEach` shuts all of it down, newest first.
 */
export class Harness {
  /** Every line the Hitch instance logged, parsed. */
  readonly logs: LogLine[] = [];
  private readonly cleanups: (() => unknown)[] = [];

  createHitch(options: TestHitchOptions = {}): Hitch {
    const hitch = createHitch({
      service: { name: 'express-test' },
      tracing: { exporter: 'memory' },
      ...options,
      metrics: { runtimeMetrics: false, ...options.metrics },
      lifecycle: { preStopDelayMs: 0, ...options.lifecycle },
      logging: { ...options.logging, destination: { write: (line: string) => void this.logs.push(JSON.parse(line) as LogLine) } },
    });
    this.cleanups.push(() => hitch.shutdown());
    return hitch;
  }

  /** The log lines that describe a request (the request log). */
  requestLogs(): LogLine[] {
    return this.logs.filter((line) => line.http !== undefined);
  }

  /** Serves `listener` on 127.0.0.1, on a free port. */
  async serve(listener: RequestListener): Promise<TestServer> {
    const server = createServer(listener);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.closeServer(server);
    return testServer(server);
  }

  /** Closes `server` (and every connection it has) in `close()`. */
  closeServer(server: Server): void {
    this.cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
  }

  /** A keep-alive agent, destroyed in `close()`. */
  agent(options: AgentOptions = {}): Agent {
    const agent = new Agent({ keepAlive: true, ...options });
    this.cleanups.push(() => agent.destroy());
    return agent;
  }

  /** Runs `fn` in `close()`, before what was registered earlier. */
  defer(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    this.logs.length = 0;
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

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

/**
 * Runs `script` with `args` in a new Node process, in this package's folder (so `@hitch/express`,
 * `@hitch/core` and `express` resolve as for an application). The child is killed with SIGKILL
 * after `maxRunMs`, and by `harness.close()` if still running.
 */
export function runFixture(harness: Harness, script: string, args: readonly string[] = [], maxRunMs = 20_000): Fixture {
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
  harness.defer(async () => {
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
