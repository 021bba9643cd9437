// OpenTelemetry for the `otel` server and client: @opentelemetry/sdk-node with
// instrumentation-grpc, started when this module is evaluated. instrumentation.mjs imports it
// before it requires @grpc/grpc-js, as the OpenTelemetry docs require.
//
// Spans go to a BatchSpanProcessor over DroppingSpanExporter, the same processor and exporter the
// Hitch processes use; no OTLP, no network. No metric reader: instrumentation-grpc records spans
// only, so this is the whole of what it costs.

import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { DroppingSpanExporter } from './fixtures.mjs';

export const exporter = new DroppingSpanExporter();
export const processor = new tracing.BatchSpanProcessor(exporter);

const sdk = new NodeSDK({
  serviceName: 'bench',
  // No resource detection (host, process, env): nothing that differs between machines or runs.
  autoDetectResources: false,
  spanProcessors: [processor],
  instrumentations: [new GrpcInstrumentation()],
});
sdk.start();

export function shutdownOtel() {
  return sdk.shutdown();
}
