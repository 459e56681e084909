import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Metric } from "effect"
import { SingleFlight, SingleFlightMetrics } from "effect-singleflight"
import { TestClock } from "effect/testing"

// Metrics live in Effect's default registry unless one is provided: every test uses a group name of its own.
const valueOf = <Input, State>(metric: Metric.Metric<Input, State>, group: string) =>
  Metric.value(SingleFlightMetrics.forGroup(metric, group))

describe("SingleFlightMetrics", () => {
  it.effect("a burst of callers on one key counts calls, one execution and the joined calls, by group", () =>
    Effect.gen(function*() {
      const group = yield* SingleFlight.make<string, number>({ name: "metrics-burst" })
      const other = yield* SingleFlight.make<string, number>({ name: "metrics-burst-other" })
      const work = Effect.as(Effect.sleep("1 second"), 1)
      const fibers = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.forkChild(group.call("key", work)))
      yield* Effect.yieldNow
      expect((yield* valueOf(SingleFlightMetrics.running, "metrics-burst")).value).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)
      yield* other.call("key", Effect.succeed(2))

      expect((yield* valueOf(SingleFlightMetrics.calls, "metrics-burst")).count).toBe(5)
      expect((yield* valueOf(SingleFlightMetrics.executions, "metrics-burst")).count).toBe(1)
      expect((yield* valueOf(SingleFlightMetrics.joined, "metrics-burst")).count).toBe(4)
      expect((yield* valueOf(SingleFlightMetrics.running, "metrics-burst")).value).toBe(0)
      const callers = yield* valueOf(SingleFlightMetrics.callersPerExecution, "metrics-burst")
      expect([callers.count, callers.sum]).toStrictEqual([1, 5])
      const duration = yield* valueOf(SingleFlightMetrics.executionDuration, "metrics-burst")
      expect([duration.count, duration.sum]).toStrictEqual([1, 1000])

      expect((yield* valueOf(SingleFlightMetrics.calls, "metrics-burst-other")).count).toBe(1)
    }))

  it.effect("an execution that every waiter left is counted as abandoned; a reused success as reused", () =>
    Effect.gen(function*() {
      const group = yield* SingleFlight.make<string, number>({ name: "metrics-abandon", reuseSuccessFor: "1 minute" })
      const caller = yield* Effect.forkChild(group.call("slow", Effect.never))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(caller)
      yield* group.call("fast", Effect.succeed(1))
      yield* group.call("fast", Effect.succeed(1))
      expect((yield* valueOf(SingleFlightMetrics.abandoned, "metrics-abandon")).count).toBe(1)
      expect((yield* valueOf(SingleFlightMetrics.reused, "metrics-abandon")).count).toBe(1)
      expect((yield* valueOf(SingleFlightMetrics.executions, "metrics-abandon")).count).toBe(2)
    }))

  it.effect("the app-wide service is labelled \"default\" unless named", () =>
    Effect.gen(function*() {
      const before = (yield* valueOf(SingleFlightMetrics.calls, "default")).count
      yield* SingleFlight.call(["metrics", 1], Effect.succeed(1)).pipe(Effect.provide(SingleFlight.layer))
      expect((yield* valueOf(SingleFlightMetrics.calls, "default")).count).toBe(before + 1)
      yield* SingleFlight.call("x", Effect.succeed(1)).pipe(
        Effect.provide(SingleFlight.layerWith({ name: "metrics-app" }))
      )
      expect((yield* valueOf(SingleFlightMetrics.calls, "metrics-app")).count).toBe(1)
    }))

  it.effect("groups made again under one name count into one series, and other names into theirs", () =>
    Effect.gen(function*() {
      // each group in a scope of its own, closed before the next is made, as a layer built per request would be
      const once = (name: string) =>
        Effect.scoped(
          Effect.flatMap(SingleFlight.make<string, number>({ name }), (group) => group.call("key", Effect.succeed(1)))
        )
      yield* once("metrics-again")
      yield* once("metrics-again")
      yield* once("metrics-again-other")
      expect((yield* valueOf(SingleFlightMetrics.calls, "metrics-again")).count).toBe(2)
      expect((yield* valueOf(SingleFlightMetrics.executions, "metrics-again")).count).toBe(2)
      expect((yield* valueOf(SingleFlightMetrics.calls, "metrics-again-other")).count).toBe(1)
    }))

  it.effect("a group made with metrics: false leaves every metric untouched", () =>
    Effect.gen(function*() {
      const group = yield* SingleFlight.make<string, number>({ name: "metrics-off", metrics: false })
      const fibers = yield* Effect.forEach([1, 2], () =>
        Effect.forkChild(group.call("key", Effect.as(Effect.sleep("1 second"), 1))))
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)
      expect((yield* group.stats).joined).toBe(1) // the group's own counters still count
      expect((yield* valueOf(SingleFlightMetrics.calls, "metrics-off")).count).toBe(0)
      expect((yield* valueOf(SingleFlightMetrics.executions, "metrics-off")).count).toBe(0)
      expect((yield* valueOf(SingleFlightMetrics.callersPerExecution, "metrics-off")).count).toBe(0)
    }))

  it.effect("an empty name is an InvalidOptionsError defect", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(SingleFlight.make({ name: "" })))
      expect(exit._tag).toBe("Failure")
      expect(String(exit)).toMatch(/InvalidOptionsError/)
    }))
})
