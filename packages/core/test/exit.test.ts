import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Runs a script in a fresh Node process; resolves with its exit code or 'hung' after 15 s. */
function runScript(source: string): Promise<{ code: number | 'hung'; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'hung', stderr });
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr });
    });
  });
}

// The built package, as users run it: a process that has nothing left to do must exit.
describe('a process using Hitch exits by itself', () => {
  it.each(['prom-client', 'otel'])('without shutdown(), with runtime metrics and expiring series (%s)', async (backend) => {
    const result = await runScript(`
      import { createHitch } from ${JSON.stringify(dist)};
      const hitch = createHitch({ service: { name: 'exit' }, metrics: { backend: ${JSON.stringify(backend)} } });
      const c = hitch.metrics.counter({ name: 'a_total', help: 'A', labels: { k: { maxValues: 5 } }, expireAfterMs: 60000 });
      c.inc({ k: 'x' });
      await hitch.metrics.render();
    `);
    expect(result).toEqual({ code: 0, stderr: '' });
  });

  it('with idle resilience policies and task runners, without shutdown()', async () => {
    const result = await runScript(`
      import { createHitch } from ${JSON.stringify(dist)};
      const hitch = createHitch({ service: { name: 'exit' }, tracing: { exporter: 'none' }, logging: { level: 'silent' } });
      const r = hitch.resilience;
      const policy = r.compose(r.retry({ backoff: { kind: 'constant', delayMs: 5 }, budget: false }), r.circuitBreaker({ name: 'b' }), r.timeout({ timeoutMs: 60000 }));
      let calls = 0;
      for (let i = 0; i < 50; i++) await policy.execute(async () => { if (++calls % 3 === 0) throw new Error('flaky'); return 1; });
      const keyed = r.keyedBreakers({ maxKeys: 10, create: () => ({ probeTimeoutMs: 60000 }) });
      for (let i = 0; i < 20; i++) await keyed.execute('host' + i, async () => 1);
      const bulkhead = r.bulkhead({ maxConcurrent: 2, queueLimit: 5 });
      await Promise.all([1, 2, 3].map(() => bulkhead.execute(async () => 1)));
      const runner = hitch.tasks.createRunner({ name: 'jobs', timeoutMs: 60000 });
      await runner.submit('job', async () => 1);
      hitch.lifecycle.health.register('db', () => undefined, { timeoutMs: 60000 });
      await hitch.lifecycle.health.readiness();
      hitch.lifecycle.handleSignals();
    `);
    expect(result).toEqual({ code: 0, stderr: '' });
  });

  it('after serve() and shutdown()', async () => {
    const result = await runScript(`
      import { createHitch } from ${JSON.stringify(dist)};
      const hitch = createHitch({ service: { name: 'exit' } });
      const server = await hitch.metrics.serve({ host: '127.0.0.1', port: 0 });
      const res = await fetch(server.url, { headers: { connection: 'keep-alive' } });
      await res.text();
      await hitch.shutdown();
    `);
    expect(result).toEqual({ code: 0, stderr: '' });
  });
});

describe('the published package', () => {
  it('loads from CommonJS, with the naming subpath', async () => {
    const cjs = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));
    const naming = fileURLToPath(new URL('../dist/naming/index.cjs', import.meta.url));
    const result = await runScript(`
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const core = require(${JSON.stringify(cjs)});
      const naming = require(${JSON.stringify(naming)});
      if (typeof core.createHitch !== 'function') throw new Error('no createHitch');
      if (naming.checkMetricName('rideCount', 'counter').length === 0) throw new Error('naming not loaded');
      const hitch = core.createHitch({ service: { name: 'cjs' }, metrics: { runtimeMetrics: false } });
      hitch.metrics.counter({ name: 'a_total', help: 'A' }).inc();
      await hitch.shutdown();
    `);
    expect(result).toEqual({ code: 0, stderr: '' });
  });
});
