/**
 * The whole OpenTelemetry set-up: `@effect/opentelemetry`'s `NodeSdk.layer`
 * with the span processor and metric reader of your choice. Nothing in it is
 * specific to effect-singleflight: the group's spans and metrics go wherever
 * the application's go.
 */
import { NodeSdk } from "@effect/opentelemetry"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"

export const OtelLive = (options: { readonly spanProcessor: SpanProcessor; readonly metricReader: MetricReader }) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "customers" },
    spanProcessor: options.spanProcessor,
    metricReader: options.metricReader
  }))
