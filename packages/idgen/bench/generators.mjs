// The generators compared, each as a factory of `next()` returning the id as a bigint. A fresh
// generator per round, as a process start would have it; all on the same epoch.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
export const EPOCH = Date.UTC(2024, 0, 1);

/** Version of an installed package, read from its package.json. */
export function versionOf(name) {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      if (pkg.name === name) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** How far ahead of the clock (ms) the sustained Hitch generator was when its timing started, per round. */
export const sustainedLeads = [];

export async function loadGenerators(idgen) {
  const { Snowflake: SapphireSnowflake } = await import('@sapphire/snowflake');
  const { Snowflake: WasmSnowflake } = require('nodejs-snowflake');
  const FlakeId = require('flake-idgen');
  const { createHitch } = await import('@hitch/core');
  const hitch = createHitch({
    service: { name: 'idgen-bench' },
    metrics: { runtimeMetrics: false },
    tracing: { exporter: 'none' },
    logging: { level: 'silent' },
  });

  const cases = [
    {
      id: 'hitch',
      name: 'Hitch `next()`',
      hitch: true,
      create: () => {
        const g = idgen.createSnowflake({ workerId: 1, epoch: EPOCH, env: {} });
        return () => g.next();
      },
    },
    {
      id: 'hitch-sustained',
      name: 'Hitch `next()`, already `maxRollbackMs` ahead',
      hitch: true,
      create: () => {
        const g = idgen.createSnowflake({ workerId: 1, epoch: EPOCH, env: {} });
        // Issue ids untimed until the generator is at the edge of its window, 49-50 ms ahead of
        // the clock (or for 1 s at most), so the timed ids show the sustained rate, not the burst.
        const until = performance.now() + 1000;
        let lead = 0;
        while (lead < g.maxRollbackMs - 1 && performance.now() < until) {
          let id = 0n;
          for (let i = 0; i < 4096; i++) id = g.next();
          lead = g.decode(id).timestamp - Math.floor(performance.timeOrigin + performance.now());
        }
        sustainedLeads.push(lead);
        return () => g.next();
      },
    },
    {
      id: 'hitch-strict',
      name: 'Hitch `next()`, `maxRollbackMs: 0`',
      hitch: true,
      create: () => {
        const g = idgen.createSnowflake({ workerId: 1, epoch: EPOCH, maxRollbackMs: 0, env: {} });
        return () => g.next();
      },
    },
    {
      id: 'hitch-metrics',
      name: 'Hitch `next()` with `hitch` metrics',
      hitch: true,
      create: () => {
        const g = idgen.createSnowflake({ workerId: 1, epoch: EPOCH, hitch, env: {} });
        return () => g.next();
      },
    },
    {
      id: 'sapphire',
      name: '@sapphire/snowflake `generate()`',
      create: () => {
        const s = new SapphireSnowflake(EPOCH);
        return () => s.generate();
      },
    },
    {
      id: 'wasm',
      name: 'nodejs-snowflake `getUniqueID()`',
      create: () => {
        const s = new WasmSnowflake({ custom_epoch: EPOCH, instance_id: 1 });
        return () => s.getUniqueID();
      },
    },
    {
      id: 'flake',
      name: 'flake-idgen `next()` + `readBigUInt64BE`',
      create: () => {
        const f = new FlakeId({ epoch: EPOCH, id: 1 });
        // Synchronous next() throws when the millisecond's 4096 ids are used; retrying is the
        // synchronous way to wait (its callback form waits with setTimeout(1)).
        return () => {
          for (;;) {
            try {
              return f.next().readBigUInt64BE(0);
            } catch {
              // sequence exhausted: try again
            }
          }
        };
      },
    },
  ];
  const versions = {
    '@sapphire/snowflake': versionOf('@sapphire/snowflake'),
    'nodejs-snowflake': versionOf('nodejs-snowflake'),
    'flake-idgen': versionOf('flake-idgen'),
  };
  return { cases, versions, shutdown: () => hitch.shutdown(), hitch };
}
