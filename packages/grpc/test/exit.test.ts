import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcHarness } from './support/policy-harness.js';

// The built packages, as a service runs them: a process with a Hitch gRPC server and a Hitch gRPC
// client exits by itself (no process.exit), with code 0, once hitch.lifecycle.shutdown() is over and
// its clients are closed. The calls carry deadlines far beyond MAX_RUN_MS: a timer a call leaves
// behind shows as a hung process.

const harness = new GrpcHarness();
afterEach(() => harness.dispose());

const fixture = fileURLToPath(new URL('./fixtures/grpc-exit-app.mjs', import.meta.url));
/** A process still running after this long is killed and reported as hung. */
const MAX_RUN_MS = 15_000;

interface LogLine {
  readonly level: number;
  readonly msg: string;
}

describe('a process with a Hitch gRPC server and client exits by itself after lifecycle.shutdown()', () => {
  it.each([
    {
      scenario: 'calls',
      name: 'after unary (one retried), server-streaming and health calls with deadlines',
      lines: ['retried OK', 'create OK', 'stream OK/3', 'plain OK', 'health SERVING'],
    },
    {
      scenario: 'signals-installed',
      name: 'with handleSignals() installed',
      lines: ['retried OK', 'create OK', 'stream OK/3', 'plain OK', 'health SERVING'],
    },
    { scenario: 'cancelled', name: 'after calls cancelled in flight and during a retry backoff', lines: ['in-flight CANCELLED', 'backoff CANCELLED'] },
    {
      scenario: 'breaker',
      name: 'after unary and streaming calls rejected by an open breaker',
      lines: ['unary UNAVAILABLE', 'stream UNAVAILABLE/0'],
      warnings: [/^circuit breaker ".* hitch\.test\.Echo\/Create" opened/, /^circuit breaker ".* hitch\.test\.Echo\/ServerStream" opened/],
    },
    { scenario: 'timeout', name: 'after a call cut by a per-attempt timeout (the only policy)', lines: ['timed out DEADLINE_EXCEEDED'] },
    { scenario: 'watch', name: 'with a health Watch cancelled, and one open when the shutdown starts', lines: ['cancelled CANCELLED', 'watch OK SERVING,NOT_SERVING'] },
    { scenario: 'in-flight', name: 'with a call in flight when the shutdown starts', lines: ['in-flight OK'] },
  ] as { scenario: string; name: string; lines: string[]; warnings?: RegExp[] }[])('$name', async ({ scenario, lines, warnings = [] }) => {
    const run = harness.runFixture(fixture, [scenario], MAX_RUN_MS);
    const exit = await run.exited;
    expect({ exit, lines: run.lines }).toEqual({
      exit: { code: 0, signal: null, hung: false },
      lines: ['listening', ...lines, 'shutdown ok=true', 'exit 0'],
    });
    // stderr holds only Hitch's log lines, none of them a warning or an error but those expected.
    const logs = run
      .stderr()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogLine);
    expect(logs.filter((log) => log.level >= 40).map((log) => log.msg)).toEqual(warnings.map((warning) => expect.stringMatching(warning)));
    expect(logs.map((log) => log.msg)).toContain('shutdown complete');
  }, MAX_RUN_MS + 5_000);
});
