import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startDemo } from '../src/demo.js';

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((path) => existsSync(path));
const missing = "promtool not found: install Debian's prometheus package (apt-get install -y prometheus); npm test does it when run as root";

function checkMetrics(exposition: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(promtool!, ['check', 'metrics'], { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(exposition);
  });
}

describe.each(['prom-client', 'otel'] as const)('the demo /metrics output (%s backend)', (backend) => {
  if (!promtool && process.env.CI) {
    it('needs promtool', () => {
      throw new Error(missing);
    });
    return;
  }
  it.skipIf(!promtool)('passes promtool check metrics with zero problems', async () => {
    const demo = await startDemo({ backend, requests: 2000 });
    try {
      const response = await fetch(demo.server.url);
      const body = await response.text();
      expect(body).toContain('rides_requested_total');
      expect(body).toContain('nodejs_eventloop_delay_p99_seconds');
      const result = await checkMetrics(body);
      expect(result.output).toBe('');
      expect(result.code).toBe(0);
    } finally {
      await demo.stop();
    }
  });
});
