/**
 * Point 4 of docs/semantics.md in depth: the work's own `Scope` behaves as
 * effect's own scope does, for every way a work uses it. (On effect 4 it is
 * effect's own scope, made with `Scope.makeUnsafe`.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Ref, Scope } from "effect"
import { SingleFlight } from "effect-singleflight"
import { TestClock } from "effect/testing"

describe("SingleFlight: the work's own scope", () => {
  it.effect("4. finalizers run in reverse order when the work ends, and see its exit", () =>
    Effect.gen(function*() {
      const group = yield* SingleFlight.make<string, number, string>()
      const events: Array<string> = []
      const work = Effect.gen(function*() {
        yield* Effect.addFinalizer((exit) => Effect.sync(() => events.push(`first ${exit._tag}`)))
        yield* Effect.addFinalizer((exit) => Effect.sync(() => events.push(`second ${exit._tag}`)))
        return yield* Effect.fail("boom")
      })
      const exit = yield* Effect.exit(group.call("key", work))
      expect(exit).toStrictEqual(Exit.fail("boom"))
      expect(events).toStrictEqual(["second Failure", "first Failure"])
    }))

  it.effect("4. a fiber forked into the work's scope is interrupted when the work ends", () =>
    Effect.gen(function*() {
      const group = yield* SingleFlight.make<string, number>()
      const interrupted = yield* Deferred.make<void>()
      const work = Effect.gen(function*() {
        yield* Effect.forkScoped(Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, void 0)))
        yield* Effect.sleep("1 second")
        return 1
      })
      const caller = yield* Effect.forkChild(group.call("key", work))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(caller)).toBe(1)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))

  it.effect("4. a child scope (a layer built in the work) is released with the work, and forgets itself if closed first", () =>
    Effect.gen(function*() {
      class Resource extends Context.Service<Resource, string>()("Resource") {}
      const group = yield* SingleFlight.make<string, string>()
      const released = yield* Ref.make<Array<string>>([])
      const resource = (name: string) =>
        Layer.effect(
          Resource,
          Effect.acquireRelease(Effect.succeed(name), () => Ref.update(released, (all) => [...all, name]))
        )
      const work = Effect.gen(function*() {
        const scope = yield* Effect.scope
        const early = yield* Scope.fork(scope, "sequential")
        yield* Layer.buildWithScope(resource("early"), early)
        yield* Scope.close(early, Exit.void)
        const context = yield* Layer.build(resource("late"))
        return Context.get(context, Resource)
      })
      expect(yield* group.call("key", work)).toBe("late")
      expect(yield* Ref.get(released)).toStrictEqual(["early", "late"])
    }))
})
