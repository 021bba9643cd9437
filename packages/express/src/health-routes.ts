import type { HealthReport, Hitch } from '@hitch/core';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NormalizedOptions } from './options.js';

/** A route Hitch answers itself; `next` is called for methods it does not serve. */
export type HitchRoute = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function probe(hitch: Hitch, which: 'liveness' | 'readiness'): HitchRoute {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    const run = which === 'liveness' ? hitch.lifecycle.health.liveness() : hitch.lifecycle.health.readiness();
    run.then(
      (report: HealthReport) => sendJson(req, res, report.status === 'fail' ? 503 : 200, report),
      (error: unknown) => sendJson(req, res, 503, { status: 'fail', error: error instanceof Error ? error.message : String(error) }),
    );
  };
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is as good as `Bearer`.
  if (header === undefined || header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
  const given = Buffer.from(header.slice(7).trim());
  // Lengths differ: compare against itself to spend the same time, then refuse.
  if (given.length !== expected.length) return !timingSafeEqual(expected, expected);
  return timingSafeEqual(given, expected);
}

function metricsRoute(hitch: Hitch, token: string | undefined): HitchRoute {
  const expected = token === undefined ? undefined : Buffer.from(token);
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    if (expected !== undefined && !bearerMatches(req.headers.authorization, expected)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain; charset=utf-8' });
      res.end('metrics need a bearer token\n');
      return;
    }
    hitch.metrics.render(req.headers.accept).then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`metrics could not be rendered: ${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  };
}

/** The routes Hitch serves on the application's server, by exact path. */
export function hitchRoutes(options: NormalizedOptions): ReadonlyMap<string, HitchRoute> {
  const routes = new Map<string, HitchRoute>();
  const { hitch } = options;
  if (options.metricsPath !== undefined && options.metricsPort === undefined) routes.set(options.metricsPath, metricsRoute(hitch, options.metricsToken));
  if (options.livenessPath !== undefined) routes.set(options.livenessPath, probe(hitch, 'liveness'));
  if (options.readinessPath !== undefined) routes.set(options.readinessPath, probe(hitch, 'readiness'));
  return routes;
}
