// OpenTelemetry for the `otel` and `otel-prom` servers: @opentelemetry/sdk-node with the http and
// express instrumentations, started when this module is evaluated. server.mjs imports it before
// it loads express (and, through express, node:http), as the OpenTelemetry docs require.
//
// Spans go to a BatchSpanProcessor over DroppingSpanExporter, the same processor and exporter the
// Hitch server uses; no OTLP, no network. No metric reader: this configuration traces, and
// express-prom-bundle (in `otel-prom`) does the metrics, as in a service that uses both.

import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { DroppingSpanExporter } from './fixtures.mjs';

export const exporter = new DroppingSpanExporter();
export const processor = new tracing.BatchSpanProcessor(exporter);

const sdk = new NodeSDK({
  serviceName: 'bench',
  // No resource detection (host, process, env): nothing that differs between machines or runs.
  autoDetectResources: false,
  spanProcessors: [processor],
  instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
});
sdk.start();

export function shutdownOtel() {
  return sdk.shutdown();
}
