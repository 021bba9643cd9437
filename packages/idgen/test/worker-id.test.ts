import { describe, expect, it } from 'vitest';
import { createSnowflake } from '../src/index.js';
import { ManualClock, T0 } from './support/manual-clock.js';

const clock = new ManualClock(T0);
const K8S = { KUBERNETES_SERVICE_HOST: '10.96.0.1' };

function workerOf(env: Record<string, string>, workerId?: number) {
  const snowflake = createSnowflake({ clock, env, ...(workerId === undefined ? {} : { workerId }) });
  return { workerId: snowflake.workerId, source: snowflake.workerIdSource, inId: snowflake.decode(snowflake.next()).workerId };
}

function messageOf(env: Record<string, string>, layout?: { workerBits: number; sequenceBits: number }): string {
  try {
    createSnowflake({ clock, env, ...(layout === undefined ? {} : { layout }) });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('did not throw');
}

describe('worker id', () => {
  it('the option wins over the environment', () => {
    expect(workerOf({ HITCH_WORKER_ID: '7', HOSTNAME: 'orders-3', ...K8S }, 12)).toEqual({ workerId: 12, source: 'option', inId: 12 });
  });

  it('HITCH_WORKER_ID wins over HOSTNAME', () => {
    expect(workerOf({ HITCH_WORKER_ID: '7', HOSTNAME: 'orders-3', ...K8S })).toEqual({ workerId: 7, source: 'HITCH_WORKER_ID', inId: 7 });
    expect(workerOf({ HITCH_WORKER_ID: ' 0 ' })).toEqual({ workerId: 0, source: 'HITCH_WORKER_ID', inId: 0 });
  });

  it('an empty HITCH_WORKER_ID counts as unset', () => {
    expect(workerOf({ HITCH_WORKER_ID: '', HOSTNAME: 'orders-3', ...K8S })).toMatchObject({ workerId: 3, source: 'HOSTNAME' });
  });

  it.each([
    ['orders-3', 3],
    ['orders-0', 0],
    ['ride-matching-63', 63],
    ['web-v2-12', 12],
  ])('a StatefulSet pod %s in Kubernetes is worker %i', (hostname, workerId) => {
    expect(workerOf({ HOSTNAME: hostname, ...K8S })).toEqual({ workerId, source: 'HOSTNAME', inId: workerId });
  });

  it('a wider layout takes larger ordinals', () => {
    const snowflake = createSnowflake({ clock, env: { HOSTNAME: 'orders-700', ...K8S }, layout: { workerBits: 10, datacenterBits: 1, timestampBits: 40 } });
    expect(snowflake.workerId).toBe(700);
  });

  it.each([
    ['HITCH_WORKER_ID', { HITCH_WORKER_ID: 'abc' }, 'HITCH_WORKER_ID: must be an integer in 0..63 (layout.workerBits = 6), got "abc"'],
    ['HITCH_WORKER_ID out of range', { HITCH_WORKER_ID: '64' }, 'HITCH_WORKER_ID: must be an integer in 0..63 (layout.workerBits = 6), got "64"'],
    ['HITCH_WORKER_ID negative', { HITCH_WORKER_ID: '-1' }, 'HITCH_WORKER_ID: must be an integer in 0..63 (layout.workerBits = 6), got "-1"'],
    [
      'an ordinal beyond the worker bits',
      { HOSTNAME: 'orders-70', ...K8S },
      'HOSTNAME: StatefulSet ordinal 70 of "orders-70" is outside the worker ids 0..63 (layout.workerBits = 6); widen layout.workerBits, or pass workerId or set HITCH_WORKER_ID',
    ],
    [
      'a pod name outside Kubernetes',
      { HOSTNAME: 'orders-3' },
      'workerId: is required: HOSTNAME "orders-3" looks like a StatefulSet pod name, but KUBERNETES_SERVICE_HOST is not set (not in Kubernetes), ' +
        'so its number is not used; pass workerId or set HITCH_WORKER_ID',
    ],
    [
      'a host named after its IP address (EC2, hostNetwork pods)',
      { HOSTNAME: 'ip-10-0-1-23', ...K8S },
      'workerId: is required: pass workerId, set HITCH_WORKER_ID, or run as a Kubernetes StatefulSet pod (HOSTNAME "orders-3" gives worker 3); ' +
        'HOSTNAME "ip-10-0-1-23" has no StatefulSet ordinal',
    ],
    [
      'a Docker container id',
      { HOSTNAME: '3f4e5a6b7c8d', ...K8S },
      'workerId: is required: pass workerId, set HITCH_WORKER_ID, or run as a Kubernetes StatefulSet pod (HOSTNAME "orders-3" gives worker 3); ' +
        'HOSTNAME "3f4e5a6b7c8d" has no StatefulSet ordinal',
    ],
    [
      'a leading zero in the ordinal',
      { HOSTNAME: 'orders-03', ...K8S },
      'workerId: is required: pass workerId, set HITCH_WORKER_ID, or run as a Kubernetes StatefulSet pod (HOSTNAME "orders-3" gives worker 3); ' +
        'HOSTNAME "orders-03" has no StatefulSet ordinal',
    ],
    ['nothing at all', {}, 'workerId: is required: pass workerId, set HITCH_WORKER_ID, or run as a Kubernetes StatefulSet pod (HOSTNAME "orders-3" gives worker 3)'],
  ])('refuses %s', (_case, env, message) => {
    expect(messageOf(env)).toBe(message);
  });

  it('reads process.env when no env is given (restored after the test)', () => {
    const saved = process.env.HITCH_WORKER_ID;
    process.env.HITCH_WORKER_ID = '9';
    try {
      const snowflake = createSnowflake({ clock });
      expect(snowflake.workerIdSource).toBe('HITCH_WORKER_ID');
      expect(snowflake.workerId).toBe(9);
    } finally {
      if (saved === undefined) delete process.env.HITCH_WORKER_ID;
      else process.env.HITCH_WORKER_ID = saved;
    }
  });
});
