import { describe, expect, it } from "@effect/vitest"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import { type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import { burst } from "../src/burst.js"
import { OtelLive } from "../src/otel.js"

describe("OpenTelemetry through @effect/opentelemetry", () => {
  it.live("a burst exports one execution span, the joiners' links to it, and the group's metrics", () =>
    Effect.gen(function*() {
      // InMemorySpanExporter forgets its spans when the SDK shuts down: keep them here
      const finished: Array<ReadableSpan> = []
      const spans: SpanExporter = {
        export: (batch, done) => {
          finished.push(...batch)
          done({ code: 0 })
        },
        shutdown: () => Promise.resolve()
      }
      const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
      const otel = OtelLive({
        spanProcessor: new SimpleSpanProcessor(spans),
        metricReader: new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 60_000 })
      })
      // releasing the layer shuts the SDK down, which flushes spans and metrics
      const ids = yield* burst(4).pipe(Effect.provide(otel))
      expect(ids).toStrictEqual([1, 1, 1, 1])

      const executions = finished.filter((span) => span.name === "SingleFlight.execute")
      const calls = finished.filter((span) => span.name === "SingleFlight.call")
      expect(executions).toHaveLength(1)
      expect(calls).toHaveLength(4)
      const execution = executions[0]!
      expect(execution.attributes).toMatchObject({
        "singleflight.group": "customers",
        "singleflight.key": "customer-1",
        "singleflight.callers": 4,
        "singleflight.outcome": "success"
      })
      const joiners = calls.filter((span) => span.attributes["singleflight.role"] === "joiner")
      expect(joiners).toHaveLength(3)
      for (const joiner of joiners) {
        expect(joiner.links.map((link) => link.context.spanId)).toContain(execution.spanContext().spanId)
      }
      const query = finished.find((span) => span.name === "database.query")!
      expect(query.parentSpanContext?.spanId).toBe(execution.spanContext().spanId)

      const exported = metrics.getMetrics().flatMap((resource) =>
        resource.scopeMetrics.flatMap((scope) => scope.metrics)
      )
      const sum = (name: string) =>
        exported.filter((metric) => metric.descriptor.name === name)
          .flatMap((metric): ReadonlyArray<{ readonly attributes: object; readonly value: unknown }> =>
            metric.dataPoints
          )
          .filter((point) => (point.attributes as Record<string, unknown>)["singleflight_group"] === "customers")
          .map((point) => point.value)
          .at(-1)
      expect(sum("singleflight_calls_total")).toBe(4)
      expect(sum("singleflight_executions_total")).toBe(1)
      expect(sum("singleflight_joined_total")).toBe(3)
    }))
})
