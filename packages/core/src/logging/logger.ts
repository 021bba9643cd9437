import { pino } from 'pino';
import type { Bindings, ChildLoggerOptions, DestinationStream, Logger } from 'pino';
import { InvalidOptionError } from '../errors/hitch-error.js';
import { Redactor, createKeyMatcher, normalizeKey } from './redact.js';
import { mergeTraceFields, traceFields } from './trace-fields.js';

/** pino's levels, most to least severe, and `'silent'` (nothing is written). */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LEVEL_LIST = LOG_LEVELS.map((level) => `'${level}'`).join(', ');

/** `flush()` gives up waiting for the destination after this long. */
export const FLUSH_TIMEOUT_MS = 2000;

export interface LoggingOptions {
  /**
   * The least severe level written. Defaults to the `LOG_LEVEL` environment variable (trimmed,
   * case-insensitive; empty means unset), then `'info'`.
   */
  readonly level?: LogLevel;
  /**
   * Where lines go: any stream with `write(line)`, e.g. `pino.destination('/var/log/app.log')`.
   * Defaults to stdout (`pino.destination({ dest: 1, sync: false })`).
   */
  readonly destination?: DestinationStream;
  /**
   * Extra key names to redact, in addition to {@link DEFAULT_REDACT_KEYS}, at any depth. Matched exactly after
   * normalization (lowercase, letters and digits only): `'ssn'` matches `SSN` and `s_s_n`. Defaults to none.
   */
  readonly redactKeys?: readonly string[];
}

/** Who is logging: `service`, `version` and `env` on every line. */
export interface LoggerService {
  readonly name: string;
  readonly version: string | undefined;
  readonly environment: string | undefined;
}

export interface LoggerHandle {
  /** A pino logger. Its children (`logger.child(bindings)`) get the trace fields and redaction too. */
  readonly logger: Logger;
  /**
   * Waits until what was logged has been written by the destination (for `pino.destination`, until its
   * pending asynchronous writes are done). Never rejects; gives up after {@link FLUSH_TIMEOUT_MS}.
   */
  flush(): Promise<void>;
}

/**
 * Creates a pino logger for a service. Options are validated here; nothing is global.
 *
 * Every line is JSON with `level` (pino's number, so pino tooling keeps working), `time` (ISO 8601 UTC, e.g.
 * `2024-05-01T12:00:00.000Z`: readable and parsed by every log backend), `service`, `version` and `env` (each only
 * when set) and, inside an active span (sampled or not), `trace_id`, `span_id` and `trace_flags` (`'01'`/`'00'`).
 * No `pid` or `hostname`: in containers they are the platform's metadata (pod, node), not the service's.
 *
 * Values of sensitive keys (see `DEFAULT_REDACT_KEYS`, plus `redactKeys`) become `'[Redacted]'` at any depth of
 * the logged object, of `%j`/`%o` values and of child bindings; the caller's objects are never mutated (changed
 * branches are copied). Errors keep their class, message, stack and cause. A raw `http.IncomingMessage` or
 * `ServerResponse` is logged as pino's req/res serializers see it. Cycles become `'[Circular]'`; objects nested
 * more than 64 deep become `'[Truncated]'`; after 100,000 keys and items in one call the rest is dropped; in both
 * cases the logged object (or the bindings) gets `log_truncated: true`, so logging never hangs. If walking throws
 * (a throwing getter), the object is replaced by `{ log_redaction_failed: true }`. Message strings are not redacted.
 */
export function createLogger(service: LoggerService, options: LoggingOptions = {}): LoggerHandle {
  validateService(service);
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('logging', 'expects an options object');
  const level = resolveLevel(options.level, process.env.LOG_LEVEL);
  const redactKeys = validateRedactKeys(options.redactKeys);
  if (options.destination !== undefined) validateDestination(options.destination);

  const redactor = new Redactor(createKeyMatcher(redactKeys));
  const base: Record<string, string> = { service: service.name };
  if (service.version !== undefined) base.version = service.version;
  if (service.environment !== undefined) base.env = service.environment;
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });

  const logger = pino(
    {
      level,
      base,
      // Epoch milliseconds, pino's default: an ISO string costs ~10x more per line
      // (docs/benchmarks.md), and pino's tools (pino-pretty, transports) format it anyway.
      timestamp: pino.stdTimeFunctions.epochTime,
      mixin: traceFields,
      mixinMergeStrategy: mergeTraceFields,
      hooks: {
        logMethod(args, method) {
          method.apply(this, redactor.logArgs(args));
        },
      },
    },
    destination,
  );

  // pino applies `formatters.bindings` to `base` only, not to children: redact bindings on the way in.
  // Children are created with Object.create(parent), so they inherit these two methods.
  const child: (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger = logger.child;
  const setBindings: (this: Logger, bindings: Bindings) => void = logger.setBindings;
  defineMethod(logger, 'child', function (this: Logger, bindings: Bindings, childOptions?: ChildLoggerOptions) {
    return child.call(this, redactor.bindings(bindings), childOptions);
  });
  defineMethod(logger, 'setBindings', function (this: Logger, bindings: Bindings) {
    setBindings.call(this, redactor.bindings(bindings));
  });

  return { logger, flush: () => flushLogger(logger, destination) };
}

function defineMethod(target: object, name: string, value: (...args: never[]) => unknown): void {
  Object.defineProperty(target, name, { value, writable: true, enumerable: false, configurable: true });
}

function validateService(service: LoggerService): void {
  if (typeof service !== 'object' || service === null) throw new InvalidOptionError('service', 'expects an object with a name');
  if (typeof service.name !== 'string' || service.name.trim() === '') {
    throw new InvalidOptionError('service.name', `should be a non-empty string, got ${describe(service.name)}`);
  }
  for (const key of ['version', 'environment'] as const) {
    const value: unknown = service[key];
    if (value !== undefined && typeof value !== 'string') throw new InvalidOptionError(`service.${key}`, `should be a string, got ${describe(value)}`);
  }
}

function resolveLevel(option: unknown, env: string | undefined): LogLevel {
  if (option !== undefined) {
    if (!isLevel(option)) throw new InvalidOptionError('logging.level', `should be one of ${LEVEL_LIST}, got ${describe(option)}`);
    return option;
  }
  const fromEnv = env?.trim().toLowerCase();
  if (fromEnv === undefined || fromEnv === '') return 'info';
  if (!isLevel(fromEnv)) throw new InvalidOptionError('LOG_LEVEL', `should be one of ${LEVEL_LIST}, got ${describe(env)}`);
  return fromEnv;
}

function isLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

function validateRedactKeys(keys: unknown): readonly string[] {
  if (keys === undefined) return [];
  if (!Array.isArray(keys)) throw new InvalidOptionError('logging.redactKeys', `should be an array of key names, got ${describe(keys)}`);
  keys.forEach((key: unknown, i) => {
    if (typeof key !== 'string' || normalizeKey(key) === '') {
      throw new InvalidOptionError(`logging.redactKeys[${i}]`, `should be a key name with at least one letter or digit, got ${describe(key)}`);
    }
  });
  return keys as string[];
}

function validateDestination(destination: unknown): void {
  if (typeof destination !== 'object' || destination === null || typeof (destination as { write?: unknown }).write !== 'function') {
    throw new InvalidOptionError(
      'logging.destination',
      `should be a stream with a write(line) method, e.g. pino.destination('/var/log/app.log'), got ${describe(destination)}`,
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' || typeof value === 'function' || typeof value === 'symbol' ? `a ${typeof value}` : String(value);
}

interface Drainable {
  /** sonic-boom (pino.destination) with `sync: false`: true while an asynchronous write is in flight. */
  _writing?: unknown;
  once?: (event: string, listener: () => void) => unknown;
  off?: (event: string, listener: () => void) => unknown;
}

function flushLogger(logger: Logger, destination: DestinationStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const stream = destination as Drainable;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off?.('drain', finish);
      stream.off?.('error', finish);
      stream.off?.('close', finish);
      resolve();
    };
    const timer = setTimeout(finish, FLUSH_TIMEOUT_MS);
    timer.unref();
    // sonic-boom's flush(cb) calls back at once when it does not buffer (minLength 0, the default), even with
    // a write in flight; wait for its 'drain' then.
    const afterFlush = (): void => {
      if (settled) return;
      if (stream._writing === true && typeof stream.once === 'function') {
        stream.once('drain', finish);
        stream.once('error', finish);
        stream.once('close', finish);
      } else finish();
    };
    try {
      logger.flush(afterFlush);
    } catch {
      finish();
    }
  });
}
