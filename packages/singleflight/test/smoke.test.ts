import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { SingleFlight } from "effect-singleflight"

describe("smoke", () => {
  it.scoped("shares", () =>
    Effect.gen(function*() {
      const group = yield* SingleFlight.make<string, number>()
      let runs = 0
      const work = Effect.sync(() => ++runs).pipe(Effect.delay("1 second"))
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(group.call("a", work)))
      yield* TestClock.adjust("1 second")
      const results = yield* Effect.forEach(fibers, Fiber.join)
      expect(results).toEqual([1, 1, 1])
      expect(yield* group.size).toBe(0)
    }))
})
