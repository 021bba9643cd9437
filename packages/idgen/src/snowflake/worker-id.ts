import { InvalidSnowflakeOptionError } from '../errors/invalid-snowflake-option-error.js';
import type { WorkerIdSource } from '../types.js';
import { showValue } from './show-value.js';

export interface ResolvedWorkerId {
  readonly workerId: number;
  readonly source: WorkerIdSource;
}

type Env = Readonly<Record<string, string | undefined>>;

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const LETTER = /[a-zA-Z]/;

/**
 * The ordinal of a StatefulSet pod name, `<statefulset>-<ordinal>`
 * (https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#ordinal-index).
 * The segment before the ordinal must hold a letter, so a host named after its IP address
 * (EC2's `ip-10-0-1-23`, which is also a hostNetwork pod's HOSTNAME) is not read as 23.
 */
function statefulSetOrdinal(hostname: string): string | undefined {
  const segments = hostname.split('-');
  if (segments.length < 2) return undefined;
  const ordinal = segments[segments.length - 1] as string;
  const before = segments[segments.length - 2] as string;
  return DECIMAL.test(ordinal) && LETTER.test(before) ? ordinal : undefined;
}

function rangeText(maxWorkerId: number, workerBits: number): string {
  return `0..${maxWorkerId} (layout.workerBits = ${workerBits})`;
}

/**
 * The worker id: the `workerId` option, else `HITCH_WORKER_ID`, else the StatefulSet ordinal
 * in `HOSTNAME` when running in Kubernetes. Never masked into range: out of range throws.
 */
export function resolveWorkerId(option: unknown, env: Env, maxWorkerId: number, workerBits: number): ResolvedWorkerId {
  const range = rangeText(maxWorkerId, workerBits);
  if (option !== undefined) {
    if (typeof option !== 'number' || !Number.isInteger(option) || option < 0 || option > maxWorkerId) {
      throw new InvalidSnowflakeOptionError('workerId', `must be an integer in ${range}, got ${showValue(option)}; ids are never masked into range, so pick one in range or widen layout.workerBits`);
    }
    return { workerId: option, source: 'option' };
  }

  const fromEnv = env.HITCH_WORKER_ID?.trim();
  if (fromEnv !== undefined && fromEnv !== '') {
    const value = DECIMAL.test(fromEnv) ? Number(fromEnv) : NaN;
    if (!(value <= maxWorkerId)) {
      throw new InvalidSnowflakeOptionError('HITCH_WORKER_ID', `must be an integer in ${range}, got ${JSON.stringify(env.HITCH_WORKER_ID)}`);
    }
    return { workerId: value, source: 'HITCH_WORKER_ID' };
  }

  const hostname = env.HOSTNAME;
  const ordinal = hostname === undefined ? undefined : statefulSetOrdinal(hostname);
  if (hostname !== undefined && ordinal !== undefined) {
    if (env.KUBERNETES_SERVICE_HOST === undefined) {
      throw new InvalidSnowflakeOptionError(
        'workerId',
        `is required: HOSTNAME ${JSON.stringify(hostname)} looks like a StatefulSet pod name, but KUBERNETES_SERVICE_HOST is not set ` +
          '(not in Kubernetes), so its number is not used; pass workerId or set HITCH_WORKER_ID',
      );
    }
    const value = Number(ordinal);
    if (value > maxWorkerId) {
      throw new InvalidSnowflakeOptionError(
        'HOSTNAME',
        `StatefulSet ordinal ${ordinal} of ${JSON.stringify(hostname)} is outside the worker ids ${range}; widen layout.workerBits, ` +
          'or pass workerId or set HITCH_WORKER_ID',
      );
    }
    return { workerId: value, source: 'HOSTNAME' };
  }

  throw new InvalidSnowflakeOptionError(
    'workerId',
    'is required: pass workerId, set HITCH_WORKER_ID, or run as a Kubernetes StatefulSet pod (HOSTNAME "orders-3" gives worker 3)' +
      (hostname === undefined ? '' : `; HOSTNAME ${JSON.stringify(hostname)} has no StatefulSet ordinal`),
  );
}
