/**
 * The metrics every group updates, through `effect/Metric`, labelled with the
 * group's name (`singleflight_group`, the `name` option, `"default"` unless
 * given). They reach any metric exporter installed in the application (for
 * example `@effect/opentelemetry`'s) without glue; with none installed, an
 * update is a counter bump in Effect's global registry.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as internal from "./internal/metrics.js"

/**
 * The label that carries the group's name.
 *
 * @since 0.1.0
 * @category labels
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
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const calls = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.calls, "customers"))
 * ```
 */
export const calls: Metric.Metric.Counter<number> = internal.calls

/**
 * `singleflight_executions_total`: calls that started an execution.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const executions = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.executions, "customers"))
 * ```
 */
export const executions: Metric.Metric.Counter<number> = internal.executions

/**
 * `singleflight_joined_total`: calls that joined a running execution.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const joined = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.joined, "customers"))
 * ```
 */
export const joined: Metric.Metric.Counter<number> = internal.joined

/**
 * `singleflight_reused_total`: calls answered by a reused success
 * (`reuseSuccessFor`).
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const reused = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.reused, "customers"))
 * ```
 */
export const reused: Metric.Metric.Counter<number> = internal.reused

/**
 * `singleflight_abandoned_total`: executions interrupted because every waiter
 * left.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const abandoned = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.abandoned, "customers"))
 * ```
 */
export const abandoned: Metric.Metric.Counter<number> = internal.abandoned

/**
 * `singleflight_executions_running`: executions running now — the keys in
 * flight, plus forgotten executions that have not finished yet.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const inFlight = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.running, "customers"))
 * ```
 */
export const running: Metric.Metric.Gauge<number> = internal.running

/**
 * `singleflight_execution_callers`: how many callers shared each execution,
 * the one that started it included (exponential buckets 1, 2, 4 … 8 192).
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const sharing = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.callersPerExecution, "customers"))
 * ```
 */
export const callersPerExecution: Metric.Metric.Histogram<number> = internal.callersPerExecution

/**
 * `singleflight_execution_duration_ms`: how long executions took, in
 * milliseconds (exponential buckets from 0.5 ms, as `Metric.timer`'s).
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SingleFlightMetrics } from "effect-singleflight"
 *
 * const durations = Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.executionDuration, "customers"))
 * ```
 */
export const executionDuration: Metric.Metric.Histogram<number> = internal.executionDuration

/**
 * One of the metrics above, restricted to the group called `name`: read it
 * with `Metric.value`.
 *
 * @since 0.1.0
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
export const forGroup = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  name: string
): Metric.Metric<Type, In, Out> => Metric.tagged(metric, internal.groupLabelKey, name)
