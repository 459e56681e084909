/**
 * Metrics without any exporter: read the group's metrics with `Metric.value`
 * and print them. Run: `pnpm --filter @effect-singleflight/examples metrics-console`.
 */
import { Console, Effect, Metric } from "effect"
import { SingleFlightMetrics } from "effect-singleflight"
import { burst } from "./burst.js"

const read = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) =>
  Metric.value(SingleFlightMetrics.forGroup(metric, "customers"))

const program = Effect.gen(function*() {
  yield* burst(100)
  const calls = yield* read(SingleFlightMetrics.calls)
  const executions = yield* read(SingleFlightMetrics.executions)
  const joined = yield* read(SingleFlightMetrics.joined)
  const callers = yield* read(SingleFlightMetrics.callersPerExecution)
  const duration = yield* read(SingleFlightMetrics.executionDuration)
  yield* Console.table([
    { metric: "singleflight_calls_total", value: calls.count },
    { metric: "singleflight_executions_total", value: executions.count },
    { metric: "singleflight_joined_total", value: joined.count },
    { metric: "singleflight_execution_callers (mean)", value: callers.sum / callers.count },
    { metric: "singleflight_execution_duration (max ms)", value: duration.max }
  ])
})

Effect.runPromise(program)
