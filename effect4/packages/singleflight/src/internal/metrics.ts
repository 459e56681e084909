/**
 * @internal
 */
import * as Metric from "effect/Metric"

/** @internal */
export const groupLabelKey = "singleflight_group"

const calls = { name: "singleflight_calls_total", description: "Calls of a singleflight group" }
const executions = {
  name: "singleflight_executions_total",
  description: "Calls that started an execution of the shared work"
}
const joined = { name: "singleflight_joined_total", description: "Calls that joined an execution already running" }
const reused = {
  name: "singleflight_reused_total",
  description: "Calls answered by a reused success (reuseSuccessFor)"
}
const abandoned = {
  name: "singleflight_abandoned_total",
  description: "Executions interrupted because every waiter left"
}
const running = {
  name: "singleflight_executions_running",
  description: "Executions of the shared work running now (keys in flight, plus forgotten executions still running)"
}
const callersPerExecution = {
  name: "singleflight_execution_callers",
  description: "Callers that shared one execution (the caller that started it included)",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 2, count: 14 })
}
/** `Metric.timer`'s buckets, in milliseconds, without its `time_unit` attribute: the input is a number already. */
const executionDuration = {
  name: "singleflight_execution_duration_ms",
  description: "How long executions of the shared work took, in milliseconds",
  boundaries: Metric.exponentialBoundaries({ start: 0.5, factor: 2, count: 35 })
}

/**
 * The metrics of one group, or of every group when `name` is undefined. A
 * group's metrics carry its name as an attribute from construction, so that
 * an update computes no attributes; they address the same series as
 * `Metric.withAttributes(metric, { singleflight_group: name })`.
 *
 * @internal
 */
export const make = (name: string | undefined) => {
  const attributes = name === undefined ? undefined : { [groupLabelKey]: name }
  const counter = (options: { readonly name: string; readonly description: string }) =>
    Metric.counter(options.name, { description: options.description, attributes, incremental: true })
  const histogram = (
    options: { readonly name: string; readonly description: string; readonly boundaries: ReadonlyArray<number> }
  ) => Metric.histogram(options.name, { description: options.description, boundaries: options.boundaries, attributes })
  return {
    calls: counter(calls),
    executions: counter(executions),
    joined: counter(joined),
    reused: counter(reused),
    abandoned: counter(abandoned),
    running: Metric.gauge(running.name, { description: running.description, attributes }),
    callersPerExecution: histogram(callersPerExecution),
    executionDuration: histogram(executionDuration)
  }
}

/** @internal */
export type Metrics = ReturnType<typeof make>

const byGroup = new Map<string, Metrics>()

/**
 * The metrics of the groups named `name`, made once per name: a metric finds
 * its series in the registry on its first update (tens of microseconds), so a
 * group made again under a known name (a layer built per test or per request)
 * reuses the metrics, and their lookups, of the first. The registry keeps
 * every series for the life of the process anyway, so the map holds no more.
 *
 * @internal
 */
export const ofGroup = (name: string): Metrics => {
  let metrics = byGroup.get(name)
  if (metrics === undefined) byGroup.set(name, metrics = make(name))
  return metrics
}

/** The metrics without a group attribute, as `SingleFlightMetrics` exports them. @internal */
export const all: Metrics = make(undefined)
