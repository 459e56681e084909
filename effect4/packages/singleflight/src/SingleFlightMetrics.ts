/**
 * The metrics every group updates, through `effect/Metric`, with the group's
 * name as an attribute (`singleflight_group`, the `name` option, `"default"`
 * unless given). They go to the `Metric.MetricRegistry` of the fiber that
 * makes the update (Effect's default registry unless one is provided), where
 * any metric exporter installed in the application (for example
 * `@effect/opentelemetry`'s) reads them without glue.
 *
 * @since 1.0.0
 */
import * as Metric from "effect/Metric"
import * as internal from "./internal/metrics.js"

/**
 * The attribute that carries the group's name.
 *
 * @since 1.0.0
 * @category attributes
 * @example
 * ```ts
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * console.log(SingleFlightMetrics.groupLabelKey) // "singleflight_group"
 * ```
 */
export const groupLabelKey: string = internal.groupLabelKey

/**
 * `singleflight_calls_total`: every call.
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const calls = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.calls, "customers"))
 * ```
 */
export const calls: Metric.Counter<number> = internal.all.calls

/**
 * `singleflight_executions_total`: calls that started an execution.
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const executions = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.executions, "customers"))
 * ```
 */
export const executions: Metric.Counter<number> = internal.all.executions

/**
 * `singleflight_joined_total`: calls that joined a running execution.
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const joined = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.joined, "customers"))
 * ```
 */
export const joined: Metric.Counter<number> = internal.all.joined

/**
 * `singleflight_reused_total`: calls answered by a reused success
 * (`reuseSuccessFor`).
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const reused = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.reused, "customers"))
 * ```
 */
export const reused: Metric.Counter<number> = internal.all.reused

/**
 * `singleflight_abandoned_total`: executions interrupted because every waiter
 * left.
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const abandoned = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.abandoned, "customers"))
 * ```
 */
export const abandoned: Metric.Counter<number> = internal.all.abandoned

/**
 * `singleflight_executions_running`: executions running now — the keys in
 * flight, plus forgotten executions that have not finished yet.
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const inFlight = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.running, "customers"))
 * ```
 */
export const running: Metric.Gauge<number> = internal.all.running

/**
 * `singleflight_execution_callers`: how many callers shared each execution,
 * the one that started it included (exponential buckets 1, 2, 4 … 8 192).
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const sharing = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.callersPerExecution, "customers"))
 * ```
 */
export const callersPerExecution: Metric.Histogram<number> = internal.all.callersPerExecution

/**
 * `singleflight_execution_duration_ms`: how long executions took, in
 * milliseconds (exponential buckets from 0.5 ms, as `Metric.timer`'s).
 *
 * @since 1.0.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const durations = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.executionDuration, "customers"))
 * ```
 */
export const executionDuration: Metric.Histogram<number> = internal.all.executionDuration

/**
 * One of the metrics above, restricted to the group called `name`: read it
 * with `Metric.value`.
 *
 * @since 1.0.0
 * @category utils
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const report = Effect.gen(function*() {
 *   const calls = yield* Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.calls, "customers"))
 *   const executions = yield* Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.executions, "customers"))
 *   return `${executions.count} executions for ${calls.count} calls`
 * })
 * ```
 */
export const forGroup = <Input, State>(
  metric: Metric.Metric<Input, State>,
  name: string
): Metric.Metric<Input, State> => Metric.withAttributes(metric, { [internal.groupLabelKey]: name })
