// What a server or client process of the gRPC benchmark loads for its configuration, in the
// order that makes it work: the OpenTelemetry SDK first (it patches @grpc/grpc-js as it is
// required), then @grpc/grpc-js and the proto, then Hitch. Both server.mjs and load.mjs start
// here, so the two sides of a configuration are instrumented alike.

import { createRequire } from 'node:module';
import { DroppingSpanExporter, PROTO_LOADER_OPTIONS, PROTO_PATH, SERVICE_NAME } from './fixtures.mjs';

/**
 * Loads @grpc/grpc-js and the Echo service for `config`.
 * @returns {Promise<{ grpc: object, Echo: Function, hitch?: object, hitchGrpc?: object, telemetry: (flush: boolean) => Promise<object> }>}
 */
export async function instrument(config) {
  const otel = config.otel ? await import('./otel-sdk.mjs') : undefined;

  // @grpc/grpc-js is CommonJS and is loaded with require() in every configuration: OpenTelemetry
  // patches CommonJS modules through require-in-the-middle, which sees require() calls. The client
  // class comes from loadPackageDefinition, which instrumentation-grpc also patches.
  const require = createRequire(import.meta.url);
  const grpc = require('@grpc/grpc-js');
  const protoLoader = require('@grpc/proto-loader');
  const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_PATH, PROTO_LOADER_OPTIONS));
  const Echo = SERVICE_NAME.split('.').reduce((namespace, part) => namespace[part], definition);

  let hitch;
  let hitchGrpc;
  let hitchExporter;
  let hitchProcessor;
  if (config.hitch) {
    const { createHitch } = await import('@hitch/core');
    hitchGrpc = await import('../../dist/index.js');
    // The same BatchSpanProcessor class as the NodeSDK's (sdk-trace-base 2.x, through sdk-node).
    const { tracing } = await import('@opentelemetry/sdk-node');
    hitchExporter = new DroppingSpanExporter();
    hitchProcessor = new tracing.BatchSpanProcessor(hitchExporter);
    hitch = createHitch({
      service: { name: 'bench' },
      tracing: { exporter: 'none', spanProcessors: [hitchProcessor] },
      metrics: { runtimeMetrics: false },
      logging: { level: 'warn' },
    });
  }

  const exporter = otel?.exporter ?? hitchExporter;
  const processor = otel?.processor ?? hitchProcessor;

  /** Spans exported (after a flush of the batch processor's queue, when asked) and Hitch's metrics text. */
  async function telemetry(flush) {
    if (flush && processor !== undefined) await processor.forceFlush();
    return {
      spans: exporter === undefined ? null : exporter.snapshot(),
      metricsText: hitch === undefined ? null : (await hitch.metrics.render()).body,
    };
  }

  return { grpc, Echo, hitch, hitchGrpc, telemetry };
}

/** Channel options of every client: no proxy from the environment, whatever the machine's settings. */
export const CHANNEL_OPTIONS = Object.freeze({ 'grpc.enable_http_proxy': 0 });
