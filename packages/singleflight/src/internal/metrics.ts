/**
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

/** @internal */
export const groupLabelKey = "singleflight_group"

/** @internal */
export const calls = Metric.counter("singleflight_calls_total", {
  description: "Calls of a singleflight group",
  incremental: true
})

/** @internal */
export const executions = Metric.counter("singleflight_executions_total", {
  description: "Calls that started an execution of the shared work",
  incremental: true
})

/** @internal */
export const joined = Metric.counter("singleflight_joined_total", {
  description: "Calls that joined an execution already running",
  incremental: true
})

/** @internal */
export const reused = Metric.counter("singleflight_reused_total", {
  description: "Calls answered by a reused success (reuseSuccessFor)",
  incremental: true
})

/** @internal */
export const abandoned = Metric.counter("singleflight_abandoned_total", {
  description: "Executions interrupted because every waiter left",
  incremental: true
})

/** @internal */
export const running = Metric.gauge("singleflight_executions_running", {
  description: "Executions of the shared work running now (keys in flight, plus forgotten executions still running)"
})

/** @internal */
export const callersPerExecution = Metric.histogram(
  "singleflight_execution_callers",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 14 }),
  "Callers that shared one execution (the caller that started it included)"
)

/**
 * A histogram in milliseconds, with `Metric.timer`'s buckets but without its
 * `time_unit` tag: a tagged metric builds a new label array on every update,
 * which defeats the hook cache (see `labelsFor`).
 *
 * @internal
 */
export const executionDuration = Metric.histogram(
  "singleflight_execution_duration_ms",
  MetricBoundaries.exponential({ start: 0.5, factor: 2, count: 35 }),
  "How long executions of the shared work took, in milliseconds"
)

const labelsByGroup = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()

/**
 * The labels of the groups named `group`: one array per name, passed on every
 * update. Metrics cache their hook by the identity of the extra labels, so a
 * stable array costs a `WeakMap` hit where `Metric.tagged` would hash a new
 * key each time; and a group made again under a known name (a layer built per
 * test or per request) finds its hooks there instead of paying that hashing
 * on its first call (tens of microseconds). The global registry keeps every
 * tagged key for the life of the process anyway, so the map holds no more.
 *
 * @internal
 */
export const labelsFor = (group: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  let labels = labelsByGroup.get(group)
  if (labels === undefined) labelsByGroup.set(group, labels = [MetricLabel.make(groupLabelKey, group)])
  return labels
}
