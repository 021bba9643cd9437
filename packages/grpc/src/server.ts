import type { Hitch } from '@hitch/core';
import type { ServerOptions, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { Server } from '@grpc/grpc-js';
import { InvalidOptionError, ShutdownPriority } from '@hitch/core';
import type { HealthService } from './health.js';
import { addHealthService } from './health.js';
import { wrapImplementation } from './implementation.js';
import { serverInterceptor } from './server-interceptor.js';

let serverCount = 0;

/** Options of {@link createServer}: grpc-js `ServerOptions` plus Hitch's. */
export interface CreateServerOptions extends ServerOptions {
  /** The Hitch instance. Required. */
  readonly hitch: Hitch;
  /** Add `grpc.health.v1.Health`, driven by `hitch.lifecycle` readiness. Defaults to `true`. */
  readonly health?: boolean;
  /**
   * How long a graceful shutdown waits for calls in flight (`tryShutdown`) before `forceShutdown`,
   * in milliseconds. Calls cut off make the shutdown hook fail (the report says so). Defaults to `10_000`.
   */
  readonly shutdownTimeoutMs?: number;
}

/** A grpc-js `Server` with Hitch installed. */
export interface HitchServer extends Server {
  /** The health service, unless `health: false`. */
  readonly health: HealthService | undefined;
}

/** `package.Service` of a service definition (from its first method's path). */
export function serviceNameOf(service: ServiceDefinition): string | undefined {
  for (const definition of Object.values(service)) {
    const path = (definition as { path?: unknown }).path;
    if (typeof path === 'string') {
      const slash = path.lastIndexOf('/');
      return slash > 0 ? path.slice(1, slash) : undefined;
    }
  }
  return undefined;
}

/**
 * Shuts a server down gracefully: `tryShutdown` (no new calls; calls in flight finish), then
 * `forceShutdown` once `timeoutMs` has passed or `signal` aborts. Resolves `true` when every
 * call finished in time.
 */
export function shutdownGracefully(server: Server, options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new InvalidOptionError('shutdownGracefully.timeoutMs', `should be a positive number of milliseconds, got ${String(timeoutMs)}`);
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const finish = (graceful: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', force);
      resolve(graceful);
    };
    const force = (): void => {
      server.forceShutdown();
      finish(false);
    };
    const timer = setTimeout(force, timeoutMs);
    timer.unref();
    if (options.signal?.aborted === true) {
      force();
      return;
    }
    options.signal?.addEventListener('abort', force, { once: true });
    server.tryShutdown(() => finish(true));
  });
}

/**
 * A grpc-js `Server` with the Hitch server interceptor, handlers wrapped so that typed errors
 * answer the status of one table (and unknown errors INTERNAL without their message), the
 * standard health service, and a shutdown hook on `hitch.lifecycle` (priority "stop
 * accepting"): health goes NOT_SERVING first (Watch streams get it, then end), then
 * `tryShutdown`, bounded, then `forceShutdown` (the hook then fails: calls were cut off).
 * Bind and start it as usual (`bindAsync`).
 */
export function createServer(options: CreateServerOptions): HitchServer {
  if (typeof options !== 'object' || options === null || typeof options.hitch !== 'object' || options.hitch === null) {
    throw new InvalidOptionError('createServer.hitch', 'is required: pass the instance from createHitch()');
  }
  const { hitch, health: withHealth = true, shutdownTimeoutMs = 10_000, ...serverOptions } = options;
  if (!(shutdownTimeoutMs > 0) || !Number.isFinite(shutdownTimeoutMs)) {
    throw new InvalidOptionError('createServer.shutdownTimeoutMs', `should be a positive number of milliseconds, got ${String(shutdownTimeoutMs)}`);
  }
  const server = new Server({ ...serverOptions, interceptors: [serverInterceptor({ hitch }), ...(serverOptions.interceptors ?? [])] });
  const health = withHealth ? addHealthService(server, { hitch }) : undefined;
  const addService = server.addService.bind(server);
  server.addService = (service: ServiceDefinition, implementation: UntypedServiceImplementation): void => {
    addService(service, wrapImplementation(service, implementation, hitch.logger));
    const name = serviceNameOf(service);
    if (name !== undefined) health?.addService(name);
  };
  hitch.lifecycle.onShutdown(
    `grpc server ${++serverCount}`,
    async (signal) => {
      health?.stopServing();
      const graceful = await shutdownGracefully(server, { timeoutMs: shutdownTimeoutMs, signal });
      // Calls were cut off: the shutdown report (and the exit code) says so.
      if (!graceful && !signal.aborted) throw new Error(`calls still in flight after shutdownTimeoutMs (${shutdownTimeoutMs} ms) were cut off by forceShutdown`);
    },
    { priority: ShutdownPriority.StopAccepting },
  );
  return Object.assign(server, { health }) as HitchServer;
}
