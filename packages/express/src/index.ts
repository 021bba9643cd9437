// The public surface of @hitch/express. Every export is named here; nothing else is public.
import { hitchExpress as install } from './hitch-express.js';
import { closeGracefully, listen } from './server.js';

/**
 * `hitchExpress(app, { hitch })` instruments an Express app; `hitchExpress.listen(app, port)`
 * starts it under the Hitch lifecycle; `hitchExpress.closeGracefully(server)` closes a server
 * without dropping requests.
 */
export const hitchExpress: typeof install & { readonly listen: typeof listen; readonly closeGracefully: typeof closeGracefully } = Object.assign(install, {
  listen,
  closeGracefully,
});

export { closeGracefully, listen } from './server.js';
export type { CloseGracefullyOptions, CloseReport, ListenOptions } from './server.js';
export type { ExpressAppLike, HitchExpressInstrumentation } from './hitch-express.js';
export type { HealthRouteOptions, HitchExpressOptions, MetricsRouteOptions } from './options.js';
export { hitchErrorHandler } from './error-handler.js';
export type { ErrorHandlerOptions, ErrorResponseBody } from './error-handler.js';
export { BAD_REQUEST_CODE, HTTP_STATUS_BY_ERROR_CODE, INTERNAL_ERROR_CODE, answerFor } from './error-status.js';
export type { ErrorAnswer } from './error-status.js';
export { ClientDisconnectedError, timeout } from './timeout.js';
export type { TimeoutMiddlewareOptions } from './timeout.js';
export { UNMATCHED_ROUTE } from './route-template.js';
