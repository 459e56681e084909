/**
 * Spans and metrics exported to the console through `@effect/opentelemetry`.
 * Run: `pnpm --filter @effect-singleflight/examples otel-console`.
 */
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import { burst } from "./burst.js"
import { OtelLive } from "./otel.js"

const ConsoleOtel = OtelLive({
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter()),
  metricReader: new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 1000 })
})

// three concurrent callers: one execution span, three call spans; the metrics are exported when the layer closes
Effect.runPromise(burst(3).pipe(Effect.provide(ConsoleOtel)))
