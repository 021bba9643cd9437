import type { Clock } from '@hitch/core';
import { InvalidOptionError, ShutdownPriority, systemClock } from '@hitch/core';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { installationOf } from './hitch-express.js';

/** Options of {@link closeGracefully}. */
export interface CloseGracefullyOptions {
  /**
   * How long in-flight requests may take to finish, in milliseconds; then the remaining
   * connections are closed. Defaults to `10_000`.
   */
  readonly timeoutMs?: number;
  /** Aborting it closes the remaining connections at once (the lifecycle hook's time is up). */
  readonly signal?: AbortSignal;
  /** Clock for the `timeoutMs` timer (tests inject a fake one). Defaults to the system clock; `listen` passes the Hitch instance's. */
  readonly clock?: Clock;
}

/** What {@link closeGracefully} did. */
export interface CloseReport {
  /** Requests that were in flight when the close began. */
  readonly inFlight: number;
  /** Connections closed while a request on them was still running (0 when everything finished in time). */
  readonly forced: number;
}

/** Per server: the responses in flight, so a close can ask their connections not to stay open. */
const tracked = new WeakMap<Server, Set<ServerResponse>>();
const closing = new WeakMap<Server, Promise<CloseReport>>();

function track(server: Server): Set<ServerResponse> {
  let inFlight = tracked.get(server);
  if (inFlight !== undefined) return inFlight;
  const set = new Set<ServerResponse>();
  inFlight = set;
  tracked.set(server, set);
  const onFinish = function (this: ServerResponse): void {
    set.delete(this);
  };
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    set.add(res);
    // A request that arrives on a kept-alive connection while closing: answer it, then close that connection.
    if (closing.has(server)) res.shouldKeepAlive = false;
    res.once('finish', onFinish);
    res.once('close', onFinish);
  });
  return set;
}

/**
 * Closes an HTTP server without dropping requests: stops accepting connections, closes idle
 * keep-alive connections at once, lets in-flight requests finish (their connections close after
 * the response: `Connection: close`), then closes whatever is left once `timeoutMs` has passed or
 * `signal` aborts. Idempotent: later calls return the same promise.
 *
 * Requests are tracked from the first call of `listen()` or `closeGracefully()` on a server; a
 * server created elsewhere is tracked from that call on.
 */
export function closeGracefully(server: Server, options: CloseGracefullyOptions = {}): Promise<CloseReport> {
  const existing = closing.get(server);
  if (existing !== undefined) return existing;
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new InvalidOptionError('closeGracefully.timeoutMs', `should be a positive number of milliseconds, got ${String(timeoutMs)}`);
  const clock = options.clock ?? systemClock;
  const inFlight = track(server);
  const promise = new Promise<CloseReport>((resolve) => {
    const count = inFlight.size;
    for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
    let settled = false;
    const finish = (forced: number): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', force);
      resolve({ inFlight: count, forced });
    };
    const force = (): void => {
      const forced = inFlight.size;
      for (const res of inFlight) res.destroy();
      server.closeAllConnections();
      finish(forced);
    };
    const timer = clock.setTimeout(force, timeoutMs);
    // The server's open connections keep the process alive while it drains; the timer need not.
    (timer as { unref?: () => void } | null)?.unref?.();
    if (!server.listening) {
      finish(0);
      return;
    }
    server.close(() => finish(0));
    server.closeIdleConnections();
    // Each response that ends leaves an idle connection behind if the client kept it: close those as they appear.
    const closeIdle = (): void => server.closeIdleConnections();
    for (const res of inFlight) res.once('finish', () => setImmediate(closeIdle));
    if (options.signal?.aborted === true) force();
    else options.signal?.addEventListener('abort', force, { once: true });
  });
  closing.set(server, promise);
  return promise;
}

/** Options of {@link listen}. */
export interface ListenOptions {
  /** Interface to listen on. Defaults to Node's default (all interfaces). */
  readonly host?: string;
  /** See {@link CloseGracefullyOptions.timeoutMs}. Defaults to `10_000`. */
  readonly closeTimeoutMs?: number;
}

/**
 * Starts an HTTP server for an app instrumented with `hitchExpress` and registers it with the
 * Hitch lifecycle: on shutdown (SIGTERM with `hitch.lifecycle.handleSignals()`, or
 * `hitch.shutdown()`), readiness fails first, then the server closes gracefully (see
 * {@link closeGracefully}) in the "stop accepting" step. Resolves once it listens.
 */
export async function listen(app: RequestListener, port: number, options: ListenOptions = {}): Promise<Server> {
  const installation = installationOf(app);
  if (installation === undefined) throw new InvalidOptionError('hitchExpress.listen', 'call hitchExpress(app, { hitch }) on this app first');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidOptionError('hitchExpress.listen', `port should be an integer in 0..65535, got ${String(port)}`);
  // Checked now rather than when the shutdown hook runs, where it could only fail the shutdown.
  const closeTimeoutMs = options.closeTimeoutMs;
  if (closeTimeoutMs !== undefined && (!(closeTimeoutMs > 0) || !Number.isFinite(closeTimeoutMs))) {
    throw new InvalidOptionError('hitchExpress.listen.closeTimeoutMs', `should be a positive number of milliseconds, got ${String(closeTimeoutMs)}`);
  }
  const server = createServer(app);
  track(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const remove = installation.hitch.lifecycle.onShutdown(
    `http server :${address.port}`,
    async (signal) => {
      const report = await closeGracefully(server, { timeoutMs: closeTimeoutMs, signal, clock: installation.hitch.clock });
      // Requests were cut off: the hook fails, so the shutdown report (and the exit code) says so.
      if (report.forced > 0) throw new Error(`${report.forced} request(s) still in flight were cut off when the close timed out`);
    },
    { priority: ShutdownPriority.StopAccepting },
  );
  server.once('close', remove);
  return server;
}
