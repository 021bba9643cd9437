import type { Attributes } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Methods the HTTP semantic conventions know; any other is reported as `_OTHER`. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
export const METHOD_VALUES: readonly string[] = [...KNOWN_METHODS, '_OTHER'];

export function normalizeMethod(raw: string | undefined): string {
  return raw !== undefined && KNOWN_METHODS.has(raw) ? raw : '_OTHER';
}

/** Longest `url.path` kept on a span; the rest is cut (an attacker's 64 kB URL is not stored whole). */
const MAX_PATH_LENGTH = 2048;

/** The path of a request target, without the query: origin-form as is, absolute-form parsed, anything else as received. */
export function pathOf(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  if (url.charCodeAt(0) === 47 /* / */) {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    return path.length > MAX_PATH_LENGTH ? path.slice(0, MAX_PATH_LENGTH) : path;
  }
  // Absolute-form (`GET http://host/path`) or asterisk-form (`OPTIONS *`).
  if (URL.canParse(url)) return new URL(url).pathname.slice(0, MAX_PATH_LENGTH);
  return url.slice(0, MAX_PATH_LENGTH);
}

/** A decimal port of 1 to 5 digits, else `undefined`. */
function parsePort(text: string): number | undefined {
  if (text.length === 0 || text.length > 5) return undefined;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    port = port * 10 + digit;
  }
  return port;
}

/** Host and port from the `Host` header (`example.com:8080`, `[::1]:3000`). */
function parseHost(host: string | undefined): { address?: string; port?: number } {
  if (host === undefined || host === '') return {};
  let address = host;
  let portText: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return { address: host.slice(0, 255) };
    address = host.slice(1, end);
    if (host.charCodeAt(end + 1) === 58 /* : */) portText = host.slice(end + 2);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) {
      address = host.slice(0, colon);
      portText = host.slice(colon + 1);
    }
  }
  const port = portText !== undefined ? parsePort(portText) : undefined;
  return port !== undefined && port <= 65535 ? { address: address.slice(0, 255), port } : { address: address.slice(0, 255) };
}

/** Attributes known when the request arrives (HTTP server semantic conventions). */
export function requestAttributes(req: IncomingMessage, method: string, path: string): Attributes {
  const attributes: Attributes = {
    'http.request.method': method,
    'url.path': path,
    'url.scheme': (req.socket as TLSSocket | undefined)?.encrypted === true ? 'https' : 'http',
    'network.protocol.version': req.httpVersion,
  };
  if (method === '_OTHER' && req.method !== undefined) attributes['http.request.method_original'] = req.method.slice(0, 64);
  const { address, port } = parseHost(req.headers.host);
  if (address !== undefined) attributes['server.address'] = address;
  if (port !== undefined) attributes['server.port'] = port;
  const userAgent = req.headers['user-agent'];
  if (userAgent !== undefined) attributes['user_agent.original'] = userAgent.slice(0, 1024);
  const client = req.socket?.remoteAddress;
  if (client !== undefined) attributes['client.address'] = client;
  return attributes;
}
