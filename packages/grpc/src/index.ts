// The public surface of @hitch/grpc. Every export is named here; nothing else is public.
export { serverInterceptor } from './server-interceptor.js';
export type { ServerInterceptorOptions } from './server-interceptor.js';
export { RpcStatusError, clientInterceptor } from './client-interceptor.js';
export type { ClientInterceptorOptions, ClientPolicyOptions, MethodPolicyOptions } from './client-interceptor.js';
export { createServer, serviceNameOf, shutdownGracefully } from './server.js';
export type { CreateServerOptions, HitchServer } from './server.js';
export { createClient, idempotentMethodsOf } from './client.js';
export type { CreateClientOptions, ServiceClientConstructor } from './client.js';
export { ServingStatus, addHealthService, healthServiceDefinition } from './health.js';
export type { HealthCheckRequest, HealthCheckResponse, HealthService, HealthServiceOptions } from './health.js';
export { wrapImplementation } from './implementation.js';
export { callDeadline, callSignal, incomingCall } from './call-context.js';
export type { IncomingCall } from './call-context.js';
export { GRPC_STATUS_BY_ERROR_CODE, SERVER_ERROR_CODES, statusFor } from './status.js';
export type { StatusAnswer } from './status.js';
