import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** A stand-in OTLP/HTTP collector that counts the spans it receives (the exporter sends JSON). */
async function startCollector(): Promise<{ url: string; spans: string[]; close(): Promise<void> }> {
  const spans: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const payload = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> };
      for (const resource of payload.resourceSpans) for (const scope of resource.scopeSpans) for (const span of scope.spans) spans.push(span.name);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function run(source: string, env: Record<string, string> = {}): Promise<{ code: number | 'hung'; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'hung', stdout, stderr });
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe('shutdown()', () => {
  it('flushes every span ended before it, then the process exits by itself', async () => {
    const collector = await startCollector();
    try {
      const result = await run(`
        import { createHitch } from ${JSON.stringify(dist)};
        const hitch = createHitch({ service: { name: 'flush' }, tracing: { exporter: 'otlp', endpoint: ${JSON.stringify(collector.url)} }, logging: { level: 'silent' } });
        for (let i = 0; i < 700; i++) hitch.withSpan('work ' + i, () => i);
        await hitch.withSpan('async work', async () => { await new Promise((r) => setTimeout(r, 5)); });
        await hitch.shutdown();
        await hitch.shutdown();
      `);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      // 701 spans: more than one batch (512), all delivered before exit.
      expect(collector.spans).toHaveLength(701);
      expect(new Set(collector.spans).size).toBe(701);
    } finally {
      await collector.close();
    }
  });

  it('honors OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME when options are silent', async () => {
    const collector = await startCollector();
    try {
      const result = await run(
        `
        import { createHitch } from ${JSON.stringify(dist)};
        const hitch = createHitch({ logging: { level: 'silent' } });
        hitch.withSpan('from env', () => undefined);
        await hitch.shutdown();
      `,
        { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url.replace('/v1/traces', ''), OTEL_SERVICE_NAME: 'env-service' },
      );
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(collector.spans).toEqual(['from env']);
    } finally {
      await collector.close();
    }
  });

  it('is bounded in time when the collector never answers', async () => {
    const hanging = createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const { port } = hanging.address() as AddressInfo;
    try {
      const result = await run(`
        import { createHitch } from ${JSON.stringify(dist)};
        const hitch = createHitch({ service: { name: 'slow' }, shutdownTimeoutMs: 500, tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:${port}/v1/traces' }, logging: { level: 'silent' } });
        hitch.withSpan('lost', () => undefined);
        await hitch.shutdown();
        console.log('shut down');
        // The OTLP request to the silent collector still holds a socket: leave once the warning is out.
        setImmediate(() => process.exit(0));
      `);
      // shutdown() returned (rather than waiting on the collector) and said why.
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe('shut down');
      expect(result.stderr).toContain('HITCH_SHUTDOWN_TIMEOUT');
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });
});
