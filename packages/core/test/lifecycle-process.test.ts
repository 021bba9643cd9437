import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real processes and real SIGTERMs. src/index.ts does not export the lifecycle (yet), so the
// module is bundled on the fly into a temporary .mjs file that the fixture imports.
const fixture = fileURLToPath(new URL('./fixtures/lifecycle-child.mjs', import.meta.url));
const entry = fileURLToPath(new URL('../src/lifecycle/index.ts', import.meta.url));
let tempDir: string;
let bundle: string;

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'hitch-lifecycle-'));
  bundle = join(tempDir, 'lifecycle.mjs');
  await build({ entryPoints: [entry], outfile: bundle, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'silent' });
});

afterAll(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

interface Run {
  code: number | 'hung';
  signal: NodeJS.Signals | null;
  lines: string[];
  logs: { msg?: string }[];
  stderr: string;
}

/**
 * Runs the fixture with `scenario`; `onLine` sees each stdout line as it arrives (to send signals at
 * the right step). A child that has not exited after 15 s is killed and reported as 'hung'.
 */
function runChild(scenario: string, onLine: (line: string, child: ChildProcess) => void = () => undefined): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fixture, scenario], {
      env: { ...process.env, LIFECYCLE_MODULE: bundle },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buffered = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        onLine(line, child);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let hung = false;
    const killTimer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, 15_000);
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      const logs = stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg?: string });
      resolve({ code: hung ? 'hung' : (code ?? -1), signal, lines, logs, stderr });
    });
  });
}

/** Sends SIGTERM once the child says it is ready. */
const terminateWhenReady = (line: string, child: ChildProcess): void => {
  if (line === 'ready') child.kill('SIGTERM');
};

describe('lifecycle in a real process', () => {
  it('on SIGTERM: readiness false, hooks by priority, in-flight work completes, exit 0', async () => {
    const run = await runChild('order', terminateWhenReady);
    expect(run.code).toBe(0);
    // The job's timing relative to the hooks may vary; everything else is strictly ordered.
    expect(run.lines.filter((line) => line !== 'job done')).toEqual([
      'ready',
      'readiness false (draining)',
      'hook stop accepting',
      'hook drain tasks: started',
      'hook drain tasks: done',
      'hook flush telemetry',
      'exit 0',
    ]);
    // The pending job, started before the signal, finished before the drain hook and the exit.
    expect(run.lines.indexOf('job done')).toBeGreaterThan(0);
    expect(run.lines.indexOf('job done')).toBeLessThan(run.lines.indexOf('hook drain tasks: done'));
    // The default logger wrote one JSON line per step on stderr.
    expect(run.logs.map((log) => log.msg)).toEqual([
      'received SIGTERM: shutting down',
      'shutdown started: readiness is now false',
      'waiting 50 ms for load balancers to stop sending traffic',
      'running shutdown hooks of priority 10',
      'shutdown hook "stop accepting" done',
      'running shutdown hooks of priority 20',
      'shutdown hook "drain tasks" done',
      'running shutdown hooks of priority 100',
      'shutdown hook "flush telemetry" done',
      'shutdown complete',
      'exiting with code 0',
    ]);
  });

  it('exits with 1 when a hook throws, after running the remaining hooks', async () => {
    const run = await runChild('hook-throws', terminateWhenReady);
    expect(run.code).toBe(1);
    expect(run.lines).toEqual(['ready', 'hook stop accepting', 'hook broken', 'hook flush telemetry', 'exit 1']);
    expect(run.logs.map((log) => log.msg)).toContain('shutdown hook "broken" failed: cannot close the pool');
  });

  it('a second SIGTERM during the shutdown forces exit 1 at once', async () => {
    const run = await runChild('second-signal', (line, child) => {
      if (line === 'ready' || line === 'hook stuck: started') child.kill('SIGTERM');
    });
    expect(run.code).toBe(1);
    expect(run.lines).toEqual(['ready', 'hook stuck: started', 'exit 1']);
    expect(run.logs.map((log) => log.msg)).toContain('received SIGTERM again during shutdown: exiting now with code 1');
  });

  it('keeps the process alive until the shutdown is over, even when a hook waits on nothing that holds it', async () => {
    const run = await runChild('unref-drain', terminateWhenReady);
    expect(run.code).toBe(0);
    expect(run.lines).toEqual(['ready', 'hook stop accepting', 'hook drain tasks: started', 'hook drain tasks: done', 'hook flush telemetry', 'exit 0']);
  });

  it('an idle lifecycle (signal listeners, hooks, checks) does not keep the process alive', async () => {
    const run = await runChild('idle');
    expect(run).toMatchObject({ code: 0, lines: ['health pass pass', 'ready', 'exit 0'], stderr: '' });
  });
});
