import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built package, as users run it (build first: turbo's test task depends on build).
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const distCjs = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));
const core = fileURLToPath(new URL('../../core/dist/index.js', import.meta.url));

/** Runs a script in a fresh Node process; resolves with its exit code or 'hung' after 15 s. */
function runScript(source: string): Promise<{ code: number | 'hung'; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'hung', stderr, stdout });
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr, stdout });
    });
  });
}

describe('a process using @hitch/idgen exits by itself', () => {
  it('after issuing ids, waiting on an exhausted millisecond and refusing a rollback', async () => {
    const result = await runScript(`
      import { createSnowflake } from ${JSON.stringify(dist)};
      const snowflake = createSnowflake({ workerId: 1, maxRollbackMs: 0 });
      for (let i = 0; i < 100000; i++) snowflake.next();
      let t = Date.now();
      const wall = createSnowflake({ workerId: 2, clock: { now: () => t } });
      wall.next();
      t -= 1000;
      try { wall.next(); } catch (e) { console.log(e.code); }
    `);
    expect(result).toEqual({ code: 0, stderr: '', stdout: 'HITCH_CLOCK_MOVED_BACKWARDS\n' });
  });

  it('with metrics through a Hitch instance, without shutdown()', async () => {
    const result = await runScript(`
      import { createHitch } from ${JSON.stringify(core)};
      import { createSnowflake } from ${JSON.stringify(dist)};
      const hitch = createHitch({ service: { name: 'exit' }, logging: { level: 'silent' } });
      const snowflake = createSnowflake({ workerId: 1, hitch });
      for (let i = 0; i < 10000; i++) snowflake.next();
      const { body } = await hitch.metrics.render();
      console.log(body.split('\\n').find((l) => l.startsWith('hitch_idgen_ids_total{')));
    `);
    expect(result).toEqual({ code: 0, stderr: '', stdout: 'hitch_idgen_ids_total{generator="default"} 10000\n' });
  });

  it('loads from CommonJS', async () => {
    const result = await runScript(`
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const { createSnowflake, isInvalidSnowflakeOptionError } = require(${JSON.stringify(distCjs)});
      const snowflake = createSnowflake({ workerId: 1 });
      console.log(typeof snowflake.next(), typeof snowflake.nextString());
      try { createSnowflake({ workerId: 64 }); } catch (e) { console.log(isInvalidSnowflakeOptionError(e), e instanceof RangeError); }
    `);
    expect(result).toEqual({ code: 0, stderr: '', stdout: 'bigint string\ntrue true\n' });
  });
});
