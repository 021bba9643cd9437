import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';

/** What the value of a sensitive key becomes. */
export const REDACTED = '[Redacted]';
/** What a value nested deeper than {@link MAX_REDACT_DEPTH} becomes. */
export const TRUNCATED = '[Truncated]';
/** What a reference back to an object being walked becomes (same word as pino's safe stringifier). */
export const CIRCULAR = '[Circular]';
/** Added (`true`) to the logged object or child bindings when the walk stopped early; see {@link MAX_REDACT_ENTRIES}. */
export const TRUNCATED_FIELD = 'log_truncated';
/** Replaces a logged object whose walk threw (a throwing getter or Proxy): nothing unchecked is written. */
export const REDACTION_FAILED_FIELD = 'log_redaction_failed';
/** Replaces an interpolation value (`%j`, `%o`) whose walk threw. */
export const REDACTION_FAILED = '[Redaction failed]';
/** Objects nested deeper than this below the logged object are replaced with `'[Truncated]'`. */
export const MAX_REDACT_DEPTH = 64;
/**
 * Keys and array items visited per log call (or per `child()` call). Past it the walk stops: what was not
 * visited is dropped and `log_truncated: true` is added, so a huge or exponentially shared graph cannot hang logging.
 */
export const MAX_REDACT_ENTRIES = 100_000;

/**
 * Key names redacted by default. A key is sensitive when its normalized form (lowercase, letters and digits only,
 * trailing digits removed) ENDS WITH the normalized form of one of these, so `accessToken`, `refresh_token`,
 * `client_secret`, `x-api-key`, `Proxy-Authorization`, `Set-Cookie` and `token2` match, while `tokens_used` and
 * `secretary_name` do not. `password` and `passwd` also match anywhere inside the key (`password_confirmation`).
 */
export const DEFAULT_REDACT_KEYS: readonly string[] = Object.freeze([
  'authorization',
  'cookie',
  'cookies',
  'set-cookie',
  'password',
  'passwd',
  'passphrase',
  'token',
  'secret',
  'secrets',
  'api-key',
  'private-key',
  'secret-key',
  'secret-access-key',
  'credential',
  'credentials',
  'jwt',
]);

const NON_ALPHANUMERIC = /[^a-z0-9]+/g;
const TRAILING_DIGITS = /[0-9]+$/;
const DEFAULT_SUFFIXES: readonly string[] = [...new Set(DEFAULT_REDACT_KEYS.map(normalizeKey))];
const CONTAINED: readonly string[] = ['password', 'passwd'];
/** Classifications remembered per logger; short keys only, cleared when full, so memory stays bounded. */
const CACHE_SIZE = 4096;
const CACHE_KEY_LENGTH = 64;

/** Lowercase ASCII letters and digits only: `X-Api-Key` → `xapikey`. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(NON_ALPHANUMERIC, '');
}

export type KeyMatcher = (key: string) => boolean;

/**
 * The rule for default keys is described on {@link DEFAULT_REDACT_KEYS}. `extraKeys` match exactly after
 * normalization (`'ssn'` matches `SSN` and `s-s-n`, not `ssn_hash`).
 */
export function createKeyMatcher(extraKeys: readonly string[]): KeyMatcher {
  const exact = new Set(extraKeys.map(normalizeKey));
  const classify = (key: string): boolean => {
    const normalized = normalizeKey(key);
    if (normalized === '') return false;
    if (exact.has(normalized)) return true;
    for (const word of CONTAINED) if (normalized.includes(word)) return true;
    const stem = normalized.replace(TRAILING_DIGITS, '');
    for (const suffix of DEFAULT_SUFFIXES) if (stem.endsWith(suffix)) return true;
    return false;
  };
  const cache = new Map<string, boolean>();
  return (key) => {
    const known = cache.get(key);
    if (known !== undefined) return known;
    const sensitive = classify(key);
    if (key.length <= CACHE_KEY_LENGTH) {
      if (cache.size >= CACHE_SIZE) cache.clear();
      cache.set(key, sensitive);
    }
    return sensitive;
  };
}

type Bag = Record<string, unknown>;
type Kind = typeof PLAIN | typeof INSTANCE | typeof ERROR;
/** Object or null prototype: copies are plain objects. */
const PLAIN = 0;
/** Class instance: copies keep the prototype; own enumerable keys, as JSON.stringify. */
const INSTANCE = 1;
/** Error: copies keep the prototype, `message` and `stack`; all enumerable keys, as pino's err serializer. */
const ERROR = 2;

const hasOwn = Object.prototype.hasOwnProperty;
const isEnumerable = Object.prototype.propertyIsEnumerable;

interface HttpRequestLike {
  method?: unknown;
  headers?: unknown;
  socket?: unknown;
  setHeader?: unknown;
}

/**
 * Copy-on-write redaction of what one log call would serialize. Nothing is mutated; when nothing needs
 * redacting the very same objects are returned and nothing is allocated.
 */
export class Redactor {
  readonly #isSensitive: KeyMatcher;
  /** Objects on the current path, for cycle detection (at most MAX_REDACT_DEPTH + 1 deep; reused). */
  readonly #path: (object | undefined)[] = [];
  #pathLength = 0;
  #entries = 0;
  #truncated = false;
  #busy = false;

  constructor(isSensitive: KeyMatcher) {
    this.#isSensitive = isSensitive;
  }

  /** The arguments of a pino log method: the merging object (if first) and interpolation values. */
  logArgs<T extends readonly unknown[]>(args: T): T {
    // A getter that logs while being walked re-enters: it gets its own walker.
    if (this.#busy) return new Redactor(this.#isSensitive).logArgs(args);
    this.#busy = true;
    this.#entries = 0;
    try {
      let out: unknown[] | undefined;
      for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (typeof arg !== 'object' || arg === null) continue;
        const next = i === 0 ? this.#topLevel(arg, true) : this.#guarded(arg);
        if (next !== arg) {
          out ??= args.slice();
          out[i] = next;
        }
      }
      return (out ?? args) as T;
    } finally {
      this.#busy = false;
    }
  }

  /** The bindings of `logger.child(bindings)` / `setBindings(bindings)`. */
  bindings<T>(bindings: T): T {
    if (typeof bindings !== 'object' || bindings === null) return bindings;
    if (this.#busy) return new Redactor(this.#isSensitive).bindings(bindings);
    this.#busy = true;
    this.#entries = 0;
    try {
      return this.#topLevel(bindings, false) as T;
    } finally {
      this.#busy = false;
    }
  }

  /** The merging object or bindings: pino serializes their own keys itself (no toJSON at this level). */
  #topLevel(value: object, merging: boolean): unknown {
    this.#truncated = false;
    this.#pathLength = 0;
    try {
      let result: unknown;
      if (merging && isHttpMessage(value)) {
        // What pino itself does with a raw req/res passed first ({ req } / { res }); done here so headers get redacted.
        const mapped = isHttpRequest(value)
          ? pino.stdSerializers.mapHttpRequest(value as IncomingMessage)
          : pino.stdSerializers.mapHttpResponse(value as ServerResponse);
        result = this.#container(mapped, 0, PLAIN);
      } else if (Array.isArray(value)) {
        result = this.#array(value, 0);
      } else {
        result = this.#container(value, 0, kindOf(value));
      }
      if (this.#truncated && result !== value) result = markTruncated(result, merging);
      return result;
    } catch {
      this.#reset();
      return { [REDACTION_FAILED_FIELD]: true };
    }
  }

  /** An interpolation value (`%j`, `%o`): serialized with JSON.stringify, so toJSON counts. */
  #guarded(value: object): unknown {
    this.#truncated = false;
    this.#pathLength = 0;
    try {
      return this.#value(value, 0, '', true);
    } catch {
      this.#reset();
      return REDACTION_FAILED;
    }
  }

  #reset(): void {
    this.#path.fill(undefined);
    this.#pathLength = 0;
  }

  #value(value: object, depth: number, key: string | number, allowToJSON: boolean): unknown {
    if (depth > MAX_REDACT_DEPTH) {
      this.#truncated = true;
      return TRUNCATED;
    }
    const path = this.#path;
    for (let i = 0; i < this.#pathLength; i++) if (path[i] === value) return CIRCULAR;
    if (Array.isArray(value)) return this.#array(value, depth);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      if (allowToJSON && typeof (value as { toJSON?: unknown }).toJSON === 'function') return this.#toJSON(value, depth, key);
      return this.#container(value, depth, PLAIN);
    }
    if (isOpaque(value)) return value;
    if (isHttpMessage(value)) {
      // A raw req/res serializes to a huge circular graph (with the raw header text): log pino's view of it.
      const serialized = isHttpRequest(value)
        ? pino.stdSerializers.req(value as IncomingMessage)
        : pino.stdSerializers.res(value as ServerResponse);
      return this.#container(serialized, depth, INSTANCE);
    }
    if (allowToJSON && typeof (value as { toJSON?: unknown }).toJSON === 'function') return this.#toJSON(value, depth, key);
    return this.#container(value, depth, value instanceof Error ? ERROR : INSTANCE);
  }

  /** JSON.stringify would serialize what toJSON returns: walk that, and log it instead only if it changed. */
  #toJSON(value: object, depth: number, key: string | number): unknown {
    const json: unknown = (value as { toJSON: (key: string) => unknown }).toJSON(String(key));
    if (typeof json !== 'object' || json === null) return value;
    if (json === value) return this.#value(value, depth, key, false);
    const walked = this.#value(json, depth, key, false);
    return walked === json ? value : walked;
  }

  #array(array: readonly unknown[], depth: number): unknown {
    this.#path[this.#pathLength++] = array;
    let copy: unknown[] | undefined;
    const length = array.length;
    for (let i = 0; i < length; i++) {
      if (this.#entries >= MAX_REDACT_ENTRIES) {
        this.#truncated = true;
        copy ??= array.slice(0, i);
        break;
      }
      this.#entries++;
      const item = array[i];
      const next = typeof item === 'object' && item !== null ? this.#value(item, depth + 1, i, true) : item;
      if (copy !== undefined) copy.push(next);
      else if (next !== item) {
        copy = array.slice(0, i);
        copy.push(next);
      }
    }
    this.#path[--this.#pathLength] = undefined;
    return copy ?? array;
  }

  #container(object: object, depth: number, kind: Kind): unknown {
    this.#path[this.#pathLength++] = object;
    const source = object as Bag;
    const ownOnly = kind !== ERROR;
    let copy: Bag | undefined;
    let index = 0;
    for (const key in source) {
      if (ownOnly && !hasOwn.call(source, key)) continue;
      if (this.#entries >= MAX_REDACT_ENTRIES) {
        this.#truncated = true;
        copy ??= prefixCopy(source, kind, index);
        break;
      }
      this.#entries++;
      const value = source[key];
      let next = value;
      if (value !== undefined && value !== REDACTED && this.#isSensitive(key)) next = REDACTED;
      else if (typeof value === 'object' && value !== null) next = this.#value(value, depth + 1, key, true);
      if (copy !== undefined) put(copy, key, next, kind);
      else if (next !== value) {
        copy = prefixCopy(source, kind, index);
        put(copy, key, next, kind);
      }
      index++;
    }
    // AggregateError: `errors` is own and non-enumerable, and pino's err serializer logs each of them.
    if (kind === ERROR && hasOwn.call(source, 'errors') && !isEnumerable.call(source, 'errors') && this.#entries < MAX_REDACT_ENTRIES) {
      const errors = source.errors;
      if (Array.isArray(errors)) {
        const next = this.#array(errors, depth + 1);
        if (next !== errors) {
          copy ??= prefixCopy(source, kind, index);
          Object.defineProperty(copy, 'errors', { value: next, writable: true, enumerable: false, configurable: true });
        }
      }
    }
    this.#path[--this.#pathLength] = undefined;
    return copy ?? object;
  }
}

function kindOf(value: object): Kind {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return PLAIN;
  return value instanceof Error ? ERROR : INSTANCE;
}

/** Serialized without exposing keys (or by pino's own serializers): nothing to walk. */
function isOpaque(value: object): boolean {
  return (
    value instanceof Date ||
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Map ||
    value instanceof Set ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof RegExp ||
    value instanceof Promise ||
    value instanceof String ||
    value instanceof Number ||
    value instanceof Boolean
  );
}

/** pino's own tests for a raw http.IncomingMessage, and for a ServerResponse (or anything with setHeader). */
function isHttpRequest(value: object): boolean {
  const candidate = value as HttpRequestLike;
  return Boolean(candidate.method && candidate.headers && candidate.socket);
}

function isHttpMessage(value: object): boolean {
  return isHttpRequest(value) || typeof (value as HttpRequestLike).setHeader === 'function';
}

/** An empty copy of `source` holding its first `count` keys. Class instances and errors keep prototype and hidden props. */
function prefixCopy(source: Bag, kind: Kind, count: number): Bag {
  let copy: Bag;
  if (kind === PLAIN) copy = {};
  else {
    copy = Object.create(Object.getPrototypeOf(source) as object | null) as Bag;
    // message, stack, cause, ...: not enumerable, so not walked, but pino's err serializer reads them.
    for (const name of Object.getOwnPropertyNames(source)) {
      if (isEnumerable.call(source, name)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(source, name);
      if (descriptor !== undefined) Object.defineProperty(copy, name, descriptor);
    }
  }
  if (count === 0) return copy;
  const ownOnly = kind !== ERROR;
  let copied = 0;
  for (const key in source) {
    if (copied >= count) break;
    if (ownOnly && !hasOwn.call(source, key)) continue;
    put(copy, key, source[key], kind);
    copied++;
  }
  return copy;
}

/** Sets an own enumerable data property without running setters (`__proto__`, accessors on a prototype). */
function put(target: Bag, key: string, value: unknown, kind: Kind): void {
  if (kind === PLAIN && key !== '__proto__') target[key] = value;
  else Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Says so in the logged object. An error logged first becomes `{ err, log_truncated }`, as pino would wrap it. */
function markTruncated(result: unknown, merging: boolean): unknown {
  if (typeof result !== 'object' || result === null) return result;
  if (merging && result instanceof Error) return { err: result, [TRUNCATED_FIELD]: true };
  Object.defineProperty(result, TRUNCATED_FIELD, { value: true, writable: true, enumerable: true, configurable: true });
  return result;
}
