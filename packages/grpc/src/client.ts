import type { ChannelCredentials, ChannelOptions, Client, ServiceDefinition } from '@grpc/grpc-js';
import { credentials as grpcCredentials } from '@grpc/grpc-js';
import type { Hitch } from '@hitch/core';
import { InvalidOptionError } from '@hitch/core';
import type { ClientPolicyOptions } from './client-interceptor.js';
import { clientInterceptor } from './client-interceptor.js';

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  /** The Hitch instance. Required. */
  readonly hitch: Hitch;
  /** Retries, breaker and timeouts (see `ClientPolicyOptions`). Defaults to none. */
  readonly policy?: ClientPolicyOptions;
  /** Defaults to insecure credentials (plain HTTP/2, e.g. inside a mesh). */
  readonly credentials?: ChannelCredentials;
  /** grpc-js channel options; `interceptors` given here run after Hitch's. */
  readonly channelOptions?: ChannelOptions & { readonly interceptors?: readonly unknown[] };
}

/** A generated (or `loadPackageDefinition`) client class: `new ServiceClient(address, credentials, options)`. */
export interface ServiceClientConstructor<C extends Client> {
  new (address: string, credentials: ChannelCredentials, options?: object): C;
  readonly service: ServiceDefinition;
}

/** Methods whose proto `idempotency_level` is IDEMPOTENT or NO_SIDE_EFFECTS, by full name. */
export function idempotentMethodsOf(service: ServiceDefinition): string[] {
  const names: string[] = [];
  for (const definition of Object.values(service)) {
    const { path, options } = definition as { path?: unknown; options?: { idempotency_level?: unknown } };
    const level = options?.idempotency_level;
    if (typeof path === 'string' && (level === 'IDEMPOTENT' || level === 'NO_SIDE_EFFECTS' || level === 1 || level === 2)) names.push(path.slice(1));
  }
  return names;
}

/**
 * A client of `ServiceClient` for `address` with the Hitch client interceptor installed: spans,
 * metrics, deadline propagation and the given policy. Methods the proto marks
 * `option idempotency_level = IDEMPOTENT` (or `NO_SIDE_EFFECTS`) are retried on retryable codes
 * without further configuration (proto-loader keeps method options).
 */
export function createClient<C extends Client>(ServiceClient: ServiceClientConstructor<C>, address: string, options: CreateClientOptions): C {
  if (typeof options !== 'object' || options === null || typeof options.hitch !== 'object' || options.hitch === null) {
    throw new InvalidOptionError('createClient.hitch', 'is required: pass the instance from createHitch()');
  }
  const { hitch, policy, credentials, channelOptions } = options;
  const interceptor = clientInterceptor({ hitch, target: address, policy, idempotentMethods: idempotentMethodsOf(ServiceClient.service) });
  const { interceptors = [], ...rest } = channelOptions ?? {};
  return new ServiceClient(address, credentials ?? grpcCredentials.createInsecure(), { ...rest, interceptors: [interceptor, ...interceptors] });
}
