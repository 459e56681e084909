import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Tracer } from "effect"
import * as Impl from "../src/implementations.js"
import type { Environment, Implementation } from "../src/implementations.js"

/** Work that counts its executions and interruptions and ends with 7 once `gate` is done. */
const gatedEnvironment = (gate: Deferred.Deferred<void>) => {
  const counter = { executions: 0, interruptions: 0 }
  const work = Effect.as(Deferred.await(gate), 7).pipe(
    Effect.onInterrupt(() => Effect.sync(() => counter.interruptions++))
  )
  const environment: Environment = {
    lookup: () => Effect.suspend(() => (counter.executions++, work)),
    work: () => ({ value: 7 }),
    keys: []
  }
  return { counter, environment }
}

/** Three callers of one key, each run until it waits, so that all three wait on the same execution. */
const threeCallers = (call: (key: string) => Effect.Effect<number, unknown>) =>
  Effect.forEach([1, 2, 3], () => Effect.forkChild(call("key"), { startImmediately: true }))

/** A tracer that records the name of every span it makes, on top of Effect's own. */
const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const names: Array<string> = []
  const tracer = Tracer.make({
    span: (options) => {
      names.push(options.name)
      return native.span(options)
    },
    context: native.context
  })
  return { names, tracer } as const
})

/**
 * What the other callers of a key get when the first one is interrupted while the work runs, as the `semantics` of
 * each implementation says: the work goes on for them, or (the work on the first caller's fiber) they are interrupted.
 */
const whenTheFirstCallerIsInterrupted: ReadonlyArray<readonly [Implementation, "value" | "interrupted"]> = [
  [Impl.singleFlight, "value"],
  [Impl.promiseCoalescePeer, "value"],
  // effect 3's Cache runs the lookup on the first caller's fiber and would interrupt the others
  [Impl.cachePeer, "value"],
  [Impl.rcMapPeer, "value"],
  [Impl.refHashMapPeer, "interrupted"],
  [Impl.designRegistry, "value"]
]

describe("the effect 4 implementations", () => {
  describe.each(
    whenTheFirstCallerIsInterrupted.map(([implementation, outcome]) =>
      [implementation.name, implementation, outcome] as const
    )
  )("%s", (_, implementation, outcome) => {
    it.effect(`when the first caller is interrupted, the others get: ${outcome}`, () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const { counter, environment } = gatedEnvironment(gate)
        const call = yield* implementation.make(environment)
        const [first, ...others] = yield* threeCallers(call)
        yield* Effect.yieldNow
        yield* Fiber.interrupt(first!)
        yield* Deferred.succeed(gate, undefined)
        const exits = yield* Effect.forEach(others, (fiber) => Effect.exit(Fiber.join(fiber)))

        expect(counter.executions).toBe(1)
        for (const exit of exits) {
          expect(outcome === "value" ? Exit.isSuccess(exit) && exit.value === 7 : Exit.hasInterrupts(exit)).toBe(true)
        }
      }))
  })

  /** Whether work whose every caller left is interrupted, as the `semantics` of each implementation says. */
  const whenEveryCallerLeaves: ReadonlyArray<readonly [Implementation, "interrupted" | "runs on"]> = [
    [Impl.singleFlight, "interrupted"],
    [Impl.promiseCoalescePeer, "runs on"],
    [Impl.cachePeer, "interrupted"],
    [Impl.rcMapPeer, "interrupted"],
    [Impl.refHashMapPeer, "interrupted"],
    [Impl.designRegistry, "runs on"]
  ]

  describe.each(
    whenEveryCallerLeaves.map(([implementation, outcome]) => [implementation.name, implementation, outcome] as const)
  )("%s", (_, implementation, outcome) => {
    it.effect(`when every caller is interrupted, the work: ${outcome}`, () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const { counter, environment } = gatedEnvironment(gate)
        const call = yield* implementation.make(environment)
        const callers = yield* threeCallers(call)
        yield* Effect.yieldNow
        yield* Fiber.interruptAll(callers)
        expect(counter.interruptions).toBe(outcome === "interrupted" ? 1 : 0)
        // work that runs on ends now, with nobody to hand its value to
        yield* Deferred.succeed(gate, undefined)
        expect(counter.executions).toBe(1)
      }))
  })

  it.effect("the traced variant makes a call span per call and an execution span per execution; the subject none", () =>
    Effect.gen(function*() {
      const { names, tracer } = yield* recordingTracer
      const gate = yield* Deferred.make<void>()
      yield* Deferred.succeed(gate, undefined)
      const { environment } = gatedEnvironment(gate)
      // both made under the recording tracer: the traced variant installs a copy of it around each call
      const [traced, untraced] = yield* Effect.withTracer(
        Effect.all([Impl.singleFlightTraced.make(environment), Impl.singleFlight.make(environment)]),
        tracer
      )
      yield* Effect.forEach(["a", "b", "c"], (key) => untraced(key))
      expect(names).toEqual([])
      yield* Effect.forEach(["a", "b", "c"], (key) => traced(key))
      expect(names.filter((name) => name === "SingleFlight.call")).toHaveLength(3)
      expect(names.filter((name) => name === "SingleFlight.execute")).toHaveLength(3)
    }))
})
