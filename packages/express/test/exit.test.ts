import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, runFixture } from './support/server-harness.js';

// The built packages, as a service runs them: once hitch.lifecycle.shutdown() is over, the process
// exits by itself (no process.exit), with code 0.

const harness = new Harness();
afterEach(() => harness.close());

const fixture = fileURLToPath(new URL('./fixtures/exit-app.mjs', import.meta.url));
/** A process still running after this long is killed and reported as hung. */
const MAX_RUN_MS = 15_000;

interface LogLine {
  readonly level: number;
  readonly msg: string;
}

describe('a process using Hitch, hitchExpress and listen exits by itself after lifecycle.shutdown()', () => {
  it.each([
    { scenario: 'shutdown', name: 'after requests over keep-alive connections (fetch and an http.Agent)', lines: ['answered 200'] },
    { scenario: 'signals-installed', name: 'with handleSignals() installed', lines: ['answered 200'] },
    { scenario: 'separate-metrics', name: 'with /metrics on a separate port, scraped over keep-alive', lines: ['metrics 200'] },
    { scenario: 'timeout-middleware', name: 'after timeout() routes answered in time and timed out', lines: ['quick 200', 'too-slow 503'] },
    { scenario: 'in-flight', name: 'with a request in flight when the shutdown starts (pre-stop delay on real time)', lines: ['in-flight 200'] },
  ])('$name', async ({ scenario, lines }) => {
    const run = runFixture(harness, fixture, [scenario], MAX_RUN_MS);
    const exit = await run.exited;
    expect({ exit, lines: run.lines }).toEqual({
      exit: { code: 0, signal: null, hung: false },
      lines: ['listening', ...lines, 'shutdown ok=true', 'exit 0'],
    });
    // stderr holds only Hitch's log lines, none of them a warning or an error.
    const stderr = run.stderr().split('\n').filter((line) => line !== '');
    const logs = stderr.map((line) => JSON.parse(line) as LogLine);
    expect(logs.filter((log) => log.level >= 40)).toEqual([]);
    expect(logs.map((log) => log.msg)).toContain('shutdown complete');
  }, MAX_RUN_MS + 5_000);
});
