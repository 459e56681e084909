import { expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SingleFlight } from "effect-singleflight"
import { TestClock } from "effect/testing"

it.effect("the README's example makes one query for a thousand concurrent callers", () =>
  Effect.gen(function*() {
    let queries = 0
    const doFetchCustomerId = Effect.gen(function*() {
      const name = yield* SingleFlight.currentKey
      queries++
      yield* Effect.sleep("128 millis")
      return name === "customer-1" ? 1 : 0
    })
    const fetchCustomerId = (name: string) => SingleFlight.call(name, doFetchCustomerId)
    const fiber = yield* Effect.forEach(Array(1000).fill("customer-1"), fetchCustomerId, {
      concurrency: "unbounded"
    }).pipe(Effect.provide(SingleFlight.layer), Effect.forkChild)
    yield* TestClock.adjust("128 millis")
    const ids = yield* Fiber.join(fiber)
    expect(ids.every((id) => id === 1)).toBe(true)
    expect(queries).toBe(1)
  }))
