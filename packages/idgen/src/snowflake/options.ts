import type { Clock, Hitch } from '@hitch/core';
// The light subpath: @hitch/core's main entry loads OpenTelemetry and pino, which an id
// generator without metrics does not need.
import { systemClock } from '@hitch/core/resilience';
import { SNOWFLAKE_DEFAULTS } from '../defaults.js';
import { isoTime } from '../errors/error-code.js';
import { InvalidSnowflakeOptionError } from '../errors/invalid-snowflake-option-error.js';
import type { SnowflakeOptions, WorkerIdSource } from '../types.js';
import type { BitLayout } from './layout.js';
import { normalizeLayout } from './layout.js';
import { resolveWorkerId } from './worker-id.js';
import { showValue } from './show-value.js';

/** `SnowflakeOptions` checked once, with every default applied. */
export interface NormalizedSnowflakeOptions {
  readonly epoch: number;
  readonly datacenterId: number;
  readonly workerId: number;
  readonly workerIdSource: WorkerIdSource;
  readonly layout: BitLayout;
  readonly maxRollbackMs: number;
  readonly clock: Pick<Clock, 'now'>;
  readonly hitch: Pick<Hitch, 'metrics' | 'clock'> | undefined;
  readonly name: string;
}

const OPTION_NAMES: readonly (keyof SnowflakeOptions)[] = ['epoch', 'datacenterId', 'workerId', 'layout', 'maxRollbackMs', 'clock', 'hitch', 'name', 'env'];
const MAX_NAME_LENGTH = 64;

function normalizeEpoch(epoch: unknown): number {
  if (epoch === undefined) return SNOWFLAKE_DEFAULTS.epoch;
  const value = epoch instanceof Date ? epoch.getTime() : epoch;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidSnowflakeOptionError('epoch', `must be Unix time in whole milliseconds or a valid Date, got ${showValue(epoch)}`);
  }
  return value;
}

function normalizeClock(clock: unknown, hitch: Pick<Hitch, 'clock'> | undefined): Pick<Clock, 'now'> {
  const chosen = clock ?? hitch?.clock ?? systemClock;
  if (typeof chosen !== 'object' || chosen === null || typeof (chosen as { now?: unknown }).now !== 'function') {
    throw new InvalidSnowflakeOptionError('clock', 'must be an object with a now() method returning Unix milliseconds, such as { now: Date.now }');
  }
  return chosen as Pick<Clock, 'now'>;
}

function normalizeHitch(hitch: unknown): Pick<Hitch, 'metrics' | 'clock'> | undefined {
  if (hitch === undefined) return undefined;
  const metrics = typeof hitch === 'object' && hitch !== null ? (hitch as { metrics?: unknown }).metrics : undefined;
  if (typeof metrics !== 'object' || metrics === null || typeof (metrics as { counter?: unknown }).counter !== 'function') {
    throw new InvalidSnowflakeOptionError('hitch', 'must be a Hitch instance from createHitch() (it has no metrics registry)');
  }
  return hitch as Pick<Hitch, 'metrics' | 'clock'>;
}

export function normalizeSnowflakeOptions(options: unknown): NormalizedSnowflakeOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidSnowflakeOptionError('options', `must be an object such as { workerId: 3 }, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new InvalidSnowflakeOptionError(key, `is not an option of createSnowflake; the options are ${OPTION_NAMES.join(', ')}`);
    }
  }
  const given = options as SnowflakeOptions;

  const layout = normalizeLayout(given.layout);
  const hitch = normalizeHitch(given.hitch);
  const clock = normalizeClock(given.clock, hitch);

  const env = given.env ?? process.env;
  if (typeof env !== 'object' || env === null) {
    throw new InvalidSnowflakeOptionError('env', 'must be an object of environment variables such as process.env');
  }

  const datacenterId = given.datacenterId ?? SNOWFLAKE_DEFAULTS.datacenterId;
  if (typeof datacenterId !== 'number' || !Number.isInteger(datacenterId) || datacenterId < 0 || datacenterId > layout.maxDatacenterId) {
    throw new InvalidSnowflakeOptionError(
      'datacenterId',
      `must be an integer in 0..${layout.maxDatacenterId} (layout.datacenterBits = ${layout.datacenterBits}), got ${showValue(datacenterId)}; ` +
        'ids are never masked into range, so pick one in range or widen layout.datacenterBits',
    );
  }
  const { workerId, source } = resolveWorkerId(given.workerId, env, layout.maxWorkerId, layout.workerBits);

  const maxRollbackMs = given.maxRollbackMs ?? SNOWFLAKE_DEFAULTS.maxRollbackMs;
  if (typeof maxRollbackMs !== 'number' || !Number.isSafeInteger(maxRollbackMs) || maxRollbackMs < 0) {
    throw new InvalidSnowflakeOptionError('maxRollbackMs', `must be a whole number of milliseconds, 0 or more, got ${showValue(maxRollbackMs)}`);
  }

  const name = given.name ?? SNOWFLAKE_DEFAULTS.name;
  if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH) {
    throw new InvalidSnowflakeOptionError('name', `must be a non-empty string of at most ${MAX_NAME_LENGTH} characters (a metric label value), got ${showValue(name)}`);
  }

  const epoch = normalizeEpoch(given.epoch);
  const now = clock.now();
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new InvalidSnowflakeOptionError('clock', `now() must return Unix time in milliseconds, it returned ${showValue(now)}`);
  }
  const nowMs = Math.floor(now);
  if (epoch > nowMs) {
    throw new InvalidSnowflakeOptionError('epoch', `must not be in the future: ${isoTime(epoch)} is after the clock's ${isoTime(nowMs)}; pass a past time such as Date.UTC(2024, 0, 1)`);
  }
  const lastMs = epoch + layout.maxTimestamp;
  if (nowMs > lastMs) {
    throw new InvalidSnowflakeOptionError(
      'epoch',
      `${isoTime(epoch)} is too long ago for layout.timestampBits = ${layout.timestampBits}: its timestamps ran out at ${isoTime(lastMs)}; ` +
        'pick a later epoch or more timestamp bits',
    );
  }

  return { epoch, datacenterId, workerId, workerIdSource: source, layout, maxRollbackMs, clock, hitch, name };
}
