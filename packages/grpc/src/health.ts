import type { Hitch, TimerHandle } from '@hitch/core';
import type { Server, ServerUnaryCall, ServerWritableStream, ServiceDefinition, sendUnaryData } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { InvalidOptionError } from '@hitch/core';

// The standard health service, grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md):
//   message HealthCheckRequest { string service = 1; }
//   message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; }
// Two one-field messages: encoded here by hand (protobuf wire format) rather than loading a .proto at run time.

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatus = (typeof ServingStatus)[keyof typeof ServingStatus];

export interface HealthCheckRequest {
  service: string;
}
export interface HealthCheckResponse {
  status: ServingStatus;
}

function readVarint(buffer: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < buffer.length && shift < 35; i++) {
    const byte = buffer[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  throw new Error('malformed varint');
}

function writeVarint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return bytes;
}

/** Skips one field of any wire type (unknown fields are allowed by protobuf). */
function skipField(buffer: Buffer, wireType: number, at: number): number {
  switch (wireType) {
    case 0:
      return readVarint(buffer, at)[1];
    case 1:
      return at + 8;
    case 2: {
      const [length, next] = readVarint(buffer, at);
      return next + length;
    }
    case 5:
      return at + 4;
    default:
      throw new Error(`unsupported wire type ${wireType}`);
  }
}

export function decodeRequest(buffer: Buffer): HealthCheckRequest {
  let service = '';
  let at = 0;
  while (at < buffer.length) {
    const [tag, next] = readVarint(buffer, at);
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === 2) {
      const [length, start] = readVarint(buffer, next);
      if (start + length > buffer.length) throw new Error('truncated string');
      service = buffer.toString('utf8', start, start + length);
      at = start + length;
    } else {
      at = skipField(buffer, wireType, next);
    }
  }
  return { service };
}

export function encodeRequest(request: HealthCheckRequest): Buffer {
  const text = Buffer.from(request.service ?? '', 'utf8');
  return text.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, ...writeVarint(text.length)]), text]);
}

export function encodeResponse(response: HealthCheckResponse): Buffer {
  return response.status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, ...writeVarint(response.status)]);
}

export function decodeResponse(buffer: Buffer): HealthCheckResponse {
  let status = 0;
  let at = 0;
  while (at < buffer.length) {
    const [tag, next] = readVarint(buffer, at);
    if (tag === 0x08) [status, at] = readVarint(buffer, next);
    else at = skipField(buffer, tag & 7, next);
  }
  return { status: status as ServingStatus };
}

/** The grpc-js service definition of `grpc.health.v1.Health`. */
export const healthServiceDefinition: ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeRequest,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse,
    responseDeserialize: decodeResponse,
  },
  Watch: {
    path: '/grpc.health.v1.Health/Watch',
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeRequest,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse,
    responseDeserialize: decodeResponse,
  },
} as ServiceDefinition;

/** A timer that does not keep the process alive (a no-op for handles without `unref`, e.g. of a fake clock). */
function unrefTimer(handle: TimerHandle): void {
  const unref = (handle as { unref?: unknown } | null)?.unref;
  if (typeof unref === 'function') (unref as () => void).call(handle);
}

/** Options of {@link addHealthService}. */
export interface HealthServiceOptions {
  /** The Hitch instance whose lifecycle readiness drives the status. Required. */
  readonly hitch: Hitch;
  /**
   * Service names answered besides `''` (the whole server). `createServer` adds every service
   * registered on it. Others answer NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch). Defaults to none.
   */
  readonly services?: readonly string[];
  /** How often a Watch re-evaluates readiness, in milliseconds, on `hitch.clock`. Defaults to `1_000`. */
  readonly watchIntervalMs?: number;
}

/** Controls the health service added by {@link addHealthService}. */
export interface HealthService {
  /** Answer for one more service name. */
  addService(name: string): void;
  /**
   * Answer NOT_SERVING from now on, whatever readiness says; tell every watcher at once, then end
   * its stream (Watch calls made later get NOT_SERVING and end too). Used when shutting down: a
   * graceful shutdown waits for every call, open Watch streams included.
   */
  stopServing(): void;
  /** The status `''` has now. */
  status(): Promise<ServingStatus>;
}

/**
 * Adds `grpc.health.v1.Health` (Check and Watch) to a server: SERVING while `hitch.lifecycle`
 * readiness passes, NOT_SERVING while it fails (a critical check failing, not ready, draining).
 * Watch sends the status at once and again on every change, until the client cancels (or
 * `stopServing()` ends it).
 */
export function addHealthService(server: Server, options: HealthServiceOptions): HealthService {
  if (typeof options !== 'object' || options === null || typeof options.hitch !== 'object' || options.hitch === null) {
    throw new InvalidOptionError('addHealthService.hitch', 'is required: pass the instance from createHitch()');
  }
  const { hitch } = options;
  const clock = hitch.clock;
  const watchIntervalMs = options.watchIntervalMs ?? 1_000;
  if (!(watchIntervalMs > 0) || !Number.isFinite(watchIntervalMs)) {
    throw new InvalidOptionError('addHealthService.watchIntervalMs', `should be a positive number of milliseconds, got ${String(watchIntervalMs)}`);
  }
  const services = new Set<string>(['', ...(options.services ?? [])]);
  let stopped = false;
  const watchers = new Set<() => void>();

  const status = async (): Promise<ServingStatus> => {
    if (stopped) return ServingStatus.NOT_SERVING;
    try {
      const report = await hitch.lifecycle.health.readiness();
      return report.status === 'fail' ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
    } catch {
      return ServingStatus.NOT_SERVING;
    }
  };

  const check = (call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>): void => {
    if (!services.has(call.request.service)) {
      callback({ code: Status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` }, null);
      return;
    }
    status().then(
      (s) => callback(null, { status: s }),
      () => callback(null, { status: ServingStatus.NOT_SERVING }),
    );
  };

  const watch = (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void => {
    const service = call.request.service;
    let last: ServingStatus | undefined;
    let timer: TimerHandle | undefined;
    let done = false;
    const send = (s: ServingStatus): void => {
      if (done || s === last) return;
      last = s;
      call.write({ status: s });
    };
    const finish = (): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      watchers.delete(stop);
    };
    // Shutting down: the last word is NOT_SERVING, then the stream ends, so that a graceful
    // shutdown (`tryShutdown`) does not wait for the watchers of load balancers.
    const stop = (): void => {
      send(ServingStatus.NOT_SERVING);
      finish();
      call.end();
    };
    const evaluate = (): void => {
      timer = undefined;
      if (done) return;
      // Looked up each time: a service added after the Watch began is reported from then on
      // ("if later the service becomes known, the server will send a new message").
      if (!services.has(service)) send(ServingStatus.SERVICE_UNKNOWN);
      else void status().then(send);
      timer = clock.setTimeout(evaluate, watchIntervalMs);
      unrefTimer(timer);
    };
    call.on('cancelled', finish);
    call.on('close', finish);
    call.on('error', finish);
    if (stopped) {
      stop();
      return;
    }
    watchers.add(stop);
    evaluate();
  };

  server.addService(healthServiceDefinition, { Check: check, Watch: watch } as never);
  return {
    addService: (name) => {
      services.add(name);
    },
    stopServing: () => {
      stopped = true;
      for (const stop of [...watchers]) stop();
    },
    status,
  };
}
