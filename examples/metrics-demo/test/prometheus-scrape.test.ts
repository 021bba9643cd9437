import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDemo } from '../src/demo.js';
import type { Demo } from '../src/demo.js';

const prometheusBinary = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((path) => existsSync(path));
const missing = "prometheus not found: install Debian's prometheus package (apt-get install -y prometheus); npm test does it when run as root";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 300 && Date.now() < deadline; attempt++) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A real Prometheus scrapes the demo: it negotiates OpenMetrics, so this proves the output
// parses in a real scraper and that exemplars arrive with the trace ids of the spans.
describe.each(['prom-client', 'otel'] as const)('a real Prometheus scraping the demo (%s backend)', (backend) => {
  if (!prometheusBinary && process.env.CI) {
    it('needs prometheus', () => {
      throw new Error(missing);
    });
    return;
  }

  let prometheus: ChildProcess | undefined;
  let demo: Demo | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
    }
    await demo?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!prometheusBinary)('scrapes every series with up == 1, and exemplars when the backend has them', async () => {
    demo = await startDemo({ backend, requests: 2000 });
    dir = mkdtempSync(join(tmpdir(), 'hitch-prometheus-'));
    const port = await freePort();
    const target = new URL(demo.server.url);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: demo',
        `    metrics_path: ${target.pathname}`,
        '    static_configs:',
        `      - targets: ['${target.host}']`,
      ].join('\n'),
    );
    let log = '';
    prometheus = spawn(
      prometheusBinary!,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--enable-feature=exemplar-storage',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (promql: string) => {
      const response = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`);
      const json = (await response.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      return json.data.result;
    };

    try {
      const up = await poll('the first scrape', async () => {
        const result = await query('up{job="demo"}');
        return result.length > 0 ? result[0]!.value[1] : undefined;
      });
      expect(up).toBe('1');
      const scraped = await query('scrape_samples_scraped{job="demo"}');
      expect(Number(scraped[0]!.value[1])).toBeGreaterThan(50);
      const rides = await query('sum(rides_requested_total)');
      expect(Number(rides[0]!.value[1])).toBe(2000);
      const overflow = await query('rides_requested_total{vehicle_type="__overflow__"}');
      expect(overflow.length).toBeGreaterThan(0);

      if (backend === 'prom-client') {
        const exemplars = await poll('exemplars', async () => {
          const now = Date.now() / 1000;
          const response = await fetch(
            `${api}/query_exemplars?query=${encodeURIComponent('ride_match_duration_seconds_bucket')}&start=${now - 300}&end=${now + 60}`,
          );
          const json = (await response.json()) as { data: Array<{ exemplars: Array<{ labels: Record<string, string> }> }> };
          const all = json.data.flatMap((series) => series.exemplars);
          return all.length > 0 ? all : undefined;
        });
        expect(exemplars[0]!.labels.trace_id).toMatch(/^[0-9a-f]{32}$/);
        expect(exemplars[0]!.labels.span_id).toMatch(/^[0-9a-f]{16}$/);
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\nprometheus log tail:\n${log}`);
    }
  });
});
