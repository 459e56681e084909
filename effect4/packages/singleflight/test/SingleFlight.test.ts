import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Context, Data, Deferred, Duration, Effect, Equal, Exit, Fiber, Layer, pipe, Ref, Scope } from "effect"
import { SingleFlight } from "effect-singleflight"
import { TestClock } from "effect/testing"
import { awaitExit, defectOf, eventually, forkAll, isInterrupted, noFiberLeft } from "./utils.js"

class NotFound extends Data.TaggedError("NotFound")<{ readonly name: string }> {}

/** A piece of work that counts its runs and ends when the test clock reaches `delay`. */
const makeWork = <A>(value: A, delay: Duration.Input = "1 second") =>
  Effect.gen(function*() {
    const runs = yield* Ref.make(0)
    const work = Ref.update(runs, (n) => n + 1).pipe(Effect.andThen(Effect.sleep(delay)), Effect.as(value))
    return { runs: Ref.get(runs), work } as const
  })

describe("SingleFlight", () => {
  describe("ported from golang.org/x/sync/singleflight", () => {
    it.effect("Do: a call returns the value of its work", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>()
        expect(yield* group.call("key", Effect.succeed("bar"))).toBe("bar")
      }))

    it.effect("DoErr: a call fails with the typed error of its work", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string, NotFound>()
        const error = new NotFound({ name: "key" })
        const exit = yield* Effect.exit(group.call("key", Effect.fail(error)))
        expect(exit).toStrictEqual(Exit.fail(error))
      }))

    it.effect("DoDupSuppress: concurrent calls of one key run the work once and all get its value", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const { runs, work } = yield* makeWork(42)
        const fibers = yield* forkAll(Array.from({ length: 10 }, () => group.call("key", work)))
        yield* TestClock.adjust("1 second")
        expect(yield* Effect.forEach(fibers, Fiber.join)).toStrictEqual(Array(10).fill(42))
        expect(yield* runs).toBe(1)
        const stats = yield* group.stats
        expect(stats).toMatchObject({ calls: 10, executions: 1, joined: 9 })
      }))

    it.effect("Forget: a call after forget runs afresh while the forgotten work finishes for its own waiters", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const first = yield* Effect.forkChild(group.call("key", Effect.as(Effect.sleep("2 seconds"), 1)))
        yield* TestClock.adjust("1 second")
        yield* group.forget("key")
        const second = yield* Effect.forkChild(group.call("key", Effect.as(Effect.sleep("2 seconds"), 2)))
        const joinsSecond = yield* Effect.forkChild(group.call("key", Effect.succeed(3)))
        yield* TestClock.adjust("1 second")
        // the first work ends now; it must not evict the second
        expect(yield* Fiber.join(first)).toBe(1)
        expect(yield* group.waiters("key")).toBe(2)
        const joinsSecondToo = yield* Effect.forkChild(group.call("key", Effect.succeed(4)))
        yield* TestClock.adjust("1 second")
        expect(yield* Effect.forEach([second, joinsSecond, joinsSecondToo], Fiber.join)).toStrictEqual([2, 2, 2])
      }))

    it.effect("PanicDo: a defect reaches every caller, and the group works after it", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const boom = new Error("boom")
        const work = Effect.andThen(Effect.sleep("1 second"), Effect.die(boom))
        const fibers = yield* forkAll([group.call("key", work), group.call("key", work)])
        yield* TestClock.adjust("1 second")
        const [first, second] = yield* Effect.forEach(fibers, awaitExit)
        // the very instance, for both callers
        expect(defectOf(first!)).toBe(boom)
        expect(defectOf(second!)).toBe(boom)
        expect(yield* group.call("key", Effect.succeed(1))).toBe(1)
      }))

    it.effect("Goexit: work that interrupts itself interrupts every caller, and the next call runs again", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const work = Effect.andThen(Effect.sleep("1 second"), Effect.interrupt)
        const fibers = yield* forkAll([group.call("key", work), group.call("key", work)])
        yield* TestClock.adjust("1 second")
        for (const exit of yield* Effect.forEach(fibers, awaitExit)) {
          expect(isInterrupted(exit)).toBe(true)
        }
        expect(yield* group.size).toBe(0)
        expect(yield* group.call("key", Effect.succeed(2))).toBe(2)
      }))
  })

  describe("ported from the seed (azazeal/singleflight)", () => {
    it.effect("the work reads its key from the fiber, like KeyFromContext", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number, NotFound>()
        const doFetchCustomerId = Effect.flatMap(
          group.key,
          (name) => name === "customer-1" ? Effect.succeed(1) : Effect.fail(new NotFound({ name }))
        )
        expect(yield* group.call("customer-1", doFetchCustomerId)).toBe(1)
        expect(yield* Effect.flip(group.call("customer-2", doFetchCustomerId))).toStrictEqual(
          new NotFound({ name: "customer-2" })
        )
      }))

    it.effect("a follower that is interrupted leaves while the others get the value", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const { runs, work } = yield* makeWork(7)
        const leader = yield* Effect.forkChild(group.call("key", work))
        const follower = yield* Effect.forkChild(group.call("key", work))
        yield* TestClock.adjust("500 millis")
        yield* Fiber.interrupt(follower)
        expect(yield* group.waiters("key")).toBe(1)
        yield* TestClock.adjust("500 millis")
        expect(yield* Fiber.join(leader)).toBe(7)
        expect(yield* runs).toBe(1)
      }))

    it.effect("a follower that times out fails alone while the others get the value", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const { work } = yield* makeWork(7)
        const leader = yield* Effect.forkChild(group.call("key", work))
        const follower = yield* Effect.forkChild(Effect.timeout(group.call("key", work), "100 millis"))
        yield* TestClock.adjust("100 millis")
        const timedOut = yield* awaitExit(follower)
        assert(Exit.isFailure(timedOut))
        // effect 4's timeout error (effect 3's was a TimeoutException)
        expect(Cause.isTimeoutError(Cause.squash(timedOut.cause))).toBe(true)
        yield* TestClock.adjust("900 millis")
        expect(yield* Fiber.join(leader)).toBe(7)
      }))
  })

  describe("the contract", () => {
    it.effect("1. callers of Equal keys share one execution and the same Exit: value, error instance or defect", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<unknown, unknown, NotFound>()
        const error = new NotFound({ name: "x" })
        const defect = new Error("defect")
        const outcomes = [Effect.succeed({ id: 1 }), Effect.fail(error), Effect.die(defect)] as const
        const keyPairs: ReadonlyArray<readonly [unknown, unknown]> = [
          [{ table: "customers", id: 1 }, { table: "customers", id: 1 }],
          [["customers", 1], ["customers", 1]],
          [1, 1],
          ["customers:1", "customers:1"]
        ]
        for (const [key, sameKey] of keyPairs) {
          for (const outcome of outcomes) {
            const runs = yield* Ref.make(0)
            const work = Ref.update(runs, (n) => n + 1).pipe(
              Effect.andThen(Effect.sleep("1 second")),
              Effect.andThen(outcome)
            )
            const fibers = yield* forkAll([group.call(key, work), group.call(sameKey, work), group.call(key, work)])
            yield* TestClock.adjust("1 second")
            const exits = yield* Effect.forEach(fibers, awaitExit)
            expect(yield* Ref.get(runs)).toBe(1)
            const [first, ...others] = exits
            for (const exit of others) expect(exit).toStrictEqual(first)
            if (Exit.isSuccess(first!)) {
              expect((exits[1] as Exit.Success<unknown, never>).value).toBe(first.value) // the same instance
            }
          }
        }
      }))

    it.effect("1. plain objects and arrays compare by value: equal-looking keys share, Equal.byReference opts out", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<unknown, number>()
        const { runs, work } = yield* makeWork(1)
        const shared = yield* forkAll([group.call({ id: 1 }, work), group.call({ id: 1 }, work)])
        const arrays = yield* forkAll([group.call(["id", 1], work), group.call(["id", 1], work)])
        const apart = yield* forkAll([
          group.call({ id: 2 }, work),
          group.call(Equal.byReference({ id: 2 }), work),
          group.call(Equal.byReference({ id: 2 }), work)
        ])
        yield* TestClock.adjust("1 second")
        expect(yield* Effect.forEach([...shared, ...arrays, ...apart], Fiber.join)).toStrictEqual(Array(7).fill(1))
        expect(yield* runs).toBe(5)
      }))

    it.effect("2. nothing is kept after success, failure or defect: the next call runs again", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number, string>()
        const runs = yield* Ref.make(0)
        for (const outcome of [Effect.succeed(1), Effect.fail("nope"), Effect.die("boom")]) {
          yield* Effect.exit(group.call("key", Effect.andThen(Ref.update(runs, (n) => n + 1), outcome)))
          yield* Effect.exit(group.call("key", Effect.andThen(Ref.update(runs, (n) => n + 1), outcome)))
        }
        expect(yield* Ref.get(runs)).toBe(6)
        expect(yield* group.size).toBe(0)
      }))

    it.effect("3. different keys never wait for each other", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>()
        const slow = yield* Effect.forkChild(group.call("slow", Effect.as(Effect.never, "never")))
        expect(yield* group.call("fast", Effect.succeed("fast"))).toBe("fast")
        yield* Fiber.interrupt(slow)
      }))

    it.effect("4. the work runs with the first caller's services, in a scope of its own that closes when it ends", () =>
      Effect.gen(function*() {
        class Tenant extends Context.Service<Tenant, string>()("Tenant") {}
        const group = yield* SingleFlight.make<string, string>()
        const events: Array<string> = []
        const work = Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Effect.sync(() => events.push("work scope closed")))
          yield* Effect.sleep("1 second")
          return yield* Tenant
        })
        const callerScope = yield* Scope.make()
        const first = yield* group.call("key", work).pipe(
          Effect.provideService(Tenant, "first"),
          Scope.provide(callerScope),
          Effect.forkChild
        )
        const second = yield* group.call("key", work).pipe(Effect.provideService(Tenant, "second"), Effect.forkChild)
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(first)).toBe("first")
        expect(yield* Fiber.join(second)).toBe("first")
        expect(events).toStrictEqual(["work scope closed"])
        yield* Scope.close(callerScope, Exit.void)
        expect(events).toStrictEqual(["work scope closed"])
      }))

    it.effect("4. closing the first caller's scope does not close the work's resources", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>()
        const released = yield* Ref.make(false)
        const work = Effect.acquireRelease(Effect.succeed("resource"), () => Ref.set(released, true)).pipe(
          Effect.tap(Effect.sleep("1 second"))
        )
        const first = yield* Effect.forkChild(Effect.scoped(group.call("key", work)))
        const second = yield* Effect.forkChild(group.call("key", work))
        yield* TestClock.adjust("10 millis")
        yield* Fiber.interrupt(first)
        expect(yield* Ref.get(released)).toBe(false)
        yield* TestClock.adjust("990 millis")
        expect(yield* Fiber.join(second)).toBe("resource")
        expect(yield* Ref.get(released)).toBe(true)
      }))

    it.effect("5. the first caller leaving is no different: the others keep waiting and the work keeps running", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const { runs, work } = yield* makeWork(9)
        const first = yield* Effect.forkChild(group.call("key", work))
        const others = yield* forkAll([group.call("key", work), group.call("key", work)])
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(first)
        expect(yield* group.waiters("key")).toBe(2)
        yield* TestClock.adjust("900 millis")
        expect(yield* Effect.forEach(others, Fiber.join)).toStrictEqual([9, 9])
        expect(yield* runs).toBe(1)
      }))

    it.effect("6. when the last waiter leaves, the work is interrupted and its finalizers run before it returns", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const finalized = yield* Ref.make(false)
        const work = Effect.as(Effect.sleep("1 second"), 1).pipe(Effect.onInterrupt(() => Ref.set(finalized, true)))
        const fibers = yield* forkAll([group.call("key", work), group.call("key", work)])
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(fibers[0]!)
        expect(yield* Ref.get(finalized)).toBe(false)
        yield* Fiber.interrupt(fibers[1]!)
        expect(yield* Ref.get(finalized)).toBe(true)
        const stats = yield* group.stats
        expect(stats).toMatchObject({ abandoned: 1, running: 0 })
        expect(yield* group.size).toBe(0)
      }))

    it.effect("6. with runToCompletion the abandoned work finishes and a newcomer joins it", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>({ whenAbandoned: "runToCompletion" })
        const { runs, work } = yield* makeWork(5)
        const first = yield* Effect.forkChild(group.call("key", work))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(first)
        expect(yield* group.size).toBe(1)
        const newcomer = yield* Effect.forkChild(group.call("key", work))
        yield* TestClock.adjust("900 millis")
        expect(yield* Fiber.join(newcomer)).toBe(5)
        expect(yield* runs).toBe(1)
      }))

    it.effect("6. the per-call policy of the caller that starts the work wins", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const { runs, work } = yield* makeWork(5)
        const warmUp = yield* Effect.forkChild(group.call("key", work, { whenAbandoned: "runToCompletion" }))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(warmUp)
        yield* TestClock.adjust("900 millis")
        expect(yield* runs).toBe(1)
        expect((yield* group.stats).abandoned).toBe(0)
      }))

    it.effect("6. a newcomer never joins a cancelled flight and never overlaps its finalizers", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>()
        const events: Array<string> = []
        const work = (name: string) =>
          Effect.sync(() => events.push(`${name} started`)).pipe(
            Effect.andThen(Effect.sleep("1 second")),
            Effect.as(name),
            Effect.onInterrupt(() =>
              Effect.sync(() => events.push(`${name} finalizing`)).pipe(
                Effect.andThen(Effect.sleep("1 second")),
                Effect.andThen(Effect.sync(() => events.push(`${name} finalized`)))
              )
            )
          )
        const abandoned = yield* Effect.forkChild(group.call("key", work("old")))
        yield* TestClock.adjust("100 millis")
        // the interruption waits for the finalizers, which sleep on the TestClock: fork it
        const interrupting = yield* Effect.forkChild(Fiber.interrupt(abandoned))
        yield* eventually(() => events.length === 2)
        expect(events).toStrictEqual(["old started", "old finalizing"])
        const newcomer = yield* Effect.forkChild(group.call("key", work("new")))
        const impatient = yield* Effect.forkChild(group.call("key", work("impatient")))
        yield* TestClock.adjust("500 millis")
        expect(events).toStrictEqual(["old started", "old finalizing"])
        // a newcomer interrupted while it waits for the finalizers just leaves: it starts nothing
        yield* Fiber.interrupt(impatient)
        yield* TestClock.adjust("500 millis")
        yield* Fiber.join(interrupting)
        expect(events).toStrictEqual(["old started", "old finalizing", "old finalized", "new started"])
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(newcomer)).toBe("new")
        expect((yield* group.stats).executions).toBe(2)
      }))

    it.effect("6. with interruptInBackground the last waiter does not wait and a newcomer starts at once", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>({ whenAbandoned: "interruptInBackground" })
        const finalized = yield* Ref.make(false)
        const slowFinalizer = Effect.andThen(Effect.sleep("1 second"), Ref.set(finalized, true))
        const old = yield* Effect.forkChild(group.call("key", Effect.onInterrupt(Effect.never, () => slowFinalizer)))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(old)
        expect(yield* Ref.get(finalized)).toBe(false)
        expect(yield* group.call("key", Effect.succeed("new"))).toBe("new")
        expect((yield* group.stats).running).toBe(1)
        yield* TestClock.adjust("1 second")
        expect(yield* Ref.get(finalized)).toBe(true)
        expect((yield* group.stats).running).toBe(0)
      }))

    it.effect("7. forget: waiters keep the old result and newcomers start a fresh execution", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>()
        const old = yield* Effect.forkChild(group.call("key", Effect.as(Effect.sleep("1 second"), "old")))
        yield* TestClock.adjust("10 millis")
        yield* group.forget("key")
        const fresh = yield* Effect.forkChild(group.call("key", Effect.as(Effect.sleep("1 second"), "fresh")))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(old)).toBe("old")
        expect(yield* Fiber.join(fresh)).toBe("fresh")
        expect((yield* group.stats).executions).toBe(2)
      }))

    it.effect("8. nested calls see their own key, and the outer key is restored after them", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, ReadonlyArray<string>>()
        const other = yield* SingleFlight.make<number, string>()
        const inner = Effect.map(group.key, (key) => [key])
        const outer = Effect.gen(function*() {
          const before = yield* group.key
          const [nested] = yield* group.call("inner", inner)
          const otherKey = yield* other.call(7, Effect.map(other.key, String))
          const insideOther = yield* other.call(8, group.key)
          const after = yield* group.key
          return [before, nested!, otherKey, insideOther, after]
        })
        expect(yield* group.call("outer", outer)).toStrictEqual(["outer", "inner", "7", "outer", "outer"])
      }))

    it.effect("8. the key is also readable from fibers forked inside the work", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>()
        const work = Effect.forkChild(group.key).pipe(Effect.flatMap(Fiber.join))
        expect(yield* group.call("key", work)).toBe("key")
      }))

    it.effect("8. reading the key outside of any call is a NoCurrentKeyError defect", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, string>()
        const exit = yield* Effect.exit(group.key)
        const defect = defectOf(exit)
        expect(defect).toBeInstanceOf(SingleFlight.NoCurrentKeyError)
        expect((defect as Error).message).toMatch(/outside of any call/)
        const other = yield* SingleFlight.make<string, string>()
        const insideOther = yield* Effect.exit(other.call("key", group.key))
        expect(defectOf(insideOther)).toBeInstanceOf(SingleFlight.NoCurrentKeyError)
      }))

    it.effect("9. a call that re-enters its own key fails fast with a ReentrantCallError", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const direct: Effect.Effect<number> = Effect.suspend(() => group.call("a", direct))
        const directExit = yield* Effect.exit(group.call("a", direct))
        const defect = defectOf(directExit)
        expect(defect).toBeInstanceOf(SingleFlight.ReentrantCallError)
        expect((defect as SingleFlight.ReentrantCallError).key).toBe("a")
        expect((defect as Error).message).toMatch(/re-entered/)

        const throughB: Effect.Effect<number> = Effect.suspend(() =>
          group.call("b", Effect.suspend(() => group.call("a", throughB)))
        )
        expect(defectOf(yield* Effect.exit(group.call("a", throughB)))).toBeInstanceOf(SingleFlight.ReentrantCallError)
        expect(yield* group.size).toBe(0)
      }))

    it.effect("9. the same key on another group is not a re-entry", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const other = yield* SingleFlight.make<string, number>()
        expect(yield* group.call("a", other.call("a", Effect.succeed(1)))).toBe(1)
      }))

    it.effect("10. closing the group interrupts every flight, runs its finalizers and ends every waiter", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const group = yield* Scope.provide(SingleFlight.make<string, number>(), scope)
        const finalized: Array<string> = []
        const work = (key: string) => Effect.onInterrupt(Effect.never, () => Effect.sync(() => finalized.push(key)))
        const fibers = yield* forkAll([
          group.call("a", work("a")),
          group.call("a", work("a")),
          group.call("b", work("b"))
        ])
        yield* group.forget("b") // a forgotten flight is still closed
        yield* Effect.yieldNow
        yield* Scope.close(scope, Exit.void)
        expect(finalized.sort()).toStrictEqual(["a", "b"])
        for (const exit of yield* Effect.forEach(fibers, awaitExit)) {
          expect(isInterrupted(exit)).toBe(true)
        }
        const late = yield* Effect.exit(group.call("a", Effect.succeed(1)))
        expect(isInterrupted(late)).toBe(true)
        expect((yield* group.stats).running).toBe(0)
      }))

    it.effect("10. releasing the layer interrupts the app-wide service's flights", () =>
      Effect.gen(function*() {
        const finalized = yield* Deferred.make<void>()
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(SingleFlight.layer, scope)
        const caller = yield* SingleFlight.call(
          "key",
          Effect.onInterrupt(Effect.never, () => Deferred.succeed(finalized, void 0))
        ).pipe(
          Effect.provide(context),
          Effect.forkChild
        )
        yield* Effect.yieldNow
        yield* Scope.close(scope, Exit.void)
        expect(yield* Deferred.isDone(finalized)).toBe(true)
        expect(isInterrupted(yield* awaitExit(caller))).toBe(true)
      }))

    it.effect("11. after a mix of outcomes nothing is in flight and no fiber is left", () =>
      noFiberLeft(Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number, string>()
        const fibers = yield* forkAll([
          group.call("ok", Effect.as(Effect.sleep("1 second"), 1)),
          group.call("ok", Effect.as(Effect.sleep("1 second"), 1)),
          group.call("fail", Effect.andThen(Effect.sleep("1 second"), Effect.fail("nope"))),
          group.call("die", Effect.andThen(Effect.sleep("1 second"), Effect.die("boom"))),
          group.call("interrupted", Effect.never),
          Effect.timeout(group.call("timeout", Effect.never), "10 millis").pipe(Effect.as(0))
        ])
        yield* TestClock.adjust("10 millis")
        yield* Fiber.interrupt(fibers[4]!)
        yield* TestClock.adjust("1 second")
        yield* Effect.forEach(fibers, awaitExit)
        expect(yield* group.size).toBe(0)
        expect(yield* group.stats).toMatchObject({ calls: 6, executions: 5, joined: 1, abandoned: 2, running: 0 })
      })))
  })

  describe("options", () => {
    it.effect("reuseSuccessFor reuses a success for its window, then runs again", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>({ reuseSuccessFor: "1 minute" })
        const runs = yield* Ref.make(0)
        const work = Ref.updateAndGet(runs, (n) => n + 1)
        expect(yield* group.call("key", work)).toBe(1)
        yield* TestClock.adjust("59 seconds")
        expect(yield* group.call("key", work)).toBe(1)
        expect(yield* group.size).toBe(0) // a reused success is not in flight
        yield* TestClock.adjust("1 second")
        expect(yield* group.call("key", work)).toBe(2)
        expect((yield* group.stats).reused).toBe(1)
      }))

    it.effect("reuseSuccessFor never reuses failures or defects, and forget drops a reused success", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number, string>({ reuseSuccessFor: "1 minute" })
        const runs = yield* Ref.make(0)
        const failing = Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.fail("nope"))
        yield* Effect.exit(group.call("fail", failing))
        yield* Effect.exit(group.call("fail", failing))
        const dying = Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.die("boom"))
        yield* Effect.exit(group.call("die", dying))
        yield* Effect.exit(group.call("die", dying))
        expect(yield* Ref.get(runs)).toBe(4)
        expect(yield* group.call("ok", Effect.succeed(1))).toBe(1)
        yield* group.forget("ok")
        expect(yield* group.call("ok", Effect.succeed(2))).toBe(2)
      }))

    const invalid: ReadonlyArray<readonly [string, SingleFlight.Options]> = [
      ["a negative number", { reuseSuccessFor: -1 }],
      ["NaN", { reuseSuccessFor: Number.NaN }],
      ["an infinite duration", { reuseSuccessFor: Duration.infinity }],
      ["a negative string", { reuseSuccessFor: "-5 seconds" }],
      ["garbage", { reuseSuccessFor: "soon" as Duration.Input }],
      ["an unknown policy", { whenAbandoned: "explode" as SingleFlight.AbandonPolicy }],
      ["a metrics flag that is not a boolean", { metrics: "yes" as unknown as boolean }]
    ]
    for (const [name, options] of invalid) {
      it.effect(`make rejects ${name} with an InvalidOptionsError defect`, () =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(Effect.scoped(SingleFlight.make(options)))
          const defect = defectOf(exit)
          expect(defect).toBeInstanceOf(SingleFlight.InvalidOptionsError)
          expect((defect as Error).message).toMatch(/^SingleFlight: invalid option `\w+`: expected/)
        }))
    }

    it.effect("validateDuration decodes a valid duration and names the option of an invalid one", () =>
      Effect.gen(function*() {
        expect(Duration.toMillis(SingleFlight.validateDuration("lease", "2 seconds"))).toBe(2000)
        expect(Duration.toMillis(SingleFlight.validateDuration("lease", 0))).toBe(0)
        const invalid: ReadonlyArray<Duration.Input> = [
          -5,
          Number.NaN,
          "-1 second",
          Duration.infinity,
          "soon" as Duration.Input
        ]
        for (const input of invalid) {
          const exit = yield* Effect.exit(Effect.sync(() => SingleFlight.validateDuration("lease", input)))
          const defect = defectOf(exit)
          expect(defect).toBeInstanceOf(SingleFlight.InvalidOptionsError)
          expect((defect as SingleFlight.InvalidOptionsError).option).toBe("lease")
        }
      }))

    it.effect("an unknown per-call policy is an InvalidOptionsError defect and registers nothing", () =>
      Effect.gen(function*() {
        const group = yield* SingleFlight.make<string, number>()
        const exit = yield* Effect.exit(
          group.call("key", Effect.succeed(1), { whenAbandoned: "later" as SingleFlight.AbandonPolicy })
        )
        expect(defectOf(exit)).toBeInstanceOf(SingleFlight.InvalidOptionsError)
        expect(yield* group.size).toBe(0)
      }))
  })

  describe("the app-wide service", () => {
    it.effect("call, dedupe, forget and currentKey work through the layer, with the result type of each effect", () =>
      Effect.gen(function*() {
        const runs = yield* Ref.make(0)
        const lookup = Effect.flatMap(
          SingleFlight.currentKey,
          (key) =>
            Ref.update(runs, (n) => n + 1).pipe(
              Effect.andThen(Effect.sleep("1 second")),
              Effect.as(`value of ${String(key)}`)
            )
        )
        const fibers = yield* forkAll([
          SingleFlight.call("a", lookup),
          pipe(lookup, SingleFlight.dedupe("a")),
          SingleFlight.dedupe(lookup, "a")
        ])
        yield* TestClock.adjust("1 second")
        const values: ReadonlyArray<string> = yield* Effect.forEach(fibers, Fiber.join)
        expect(values).toStrictEqual(["value of a", "value of a", "value of a"])
        expect(yield* Ref.get(runs)).toBe(1)
        const number: number = yield* SingleFlight.call("n", Effect.succeed(1))
        expect(number).toBe(1)
        yield* SingleFlight.forget("a")
      }).pipe(Effect.provide(SingleFlight.layer)))

    it.effect("layerWith validates its options when the layer is built", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Layer.build(SingleFlight.layerWith({ reuseSuccessFor: -1 })).pipe(Effect.scoped)
        )
        expect(defectOf(exit)).toBeInstanceOf(SingleFlight.InvalidOptionsError)
      }))

    it.effect("a typed group can be an application service behind a tag of its own", () => {
      class CustomerIds extends Context.Service<CustomerIds, SingleFlight.Group<string, number, NotFound>>()(
        "app/CustomerIds"
      ) {
        static readonly layer = Layer.effect(CustomerIds, SingleFlight.make<string, number, NotFound>())
      }
      const fetchCustomerId = (name: string) =>
        Effect.flatMap(CustomerIds, (group) =>
          group.call(
            name,
            Effect.flatMap(
              group.key,
              (name) => name === "customer-1" ? Effect.succeed(1) : Effect.fail(new NotFound({ name }))
            )
          ))
      return Effect.gen(function*() {
        expect(yield* fetchCustomerId("customer-1")).toBe(1)
        expect(yield* Effect.flip(fetchCustomerId("nobody"))).toStrictEqual(new NotFound({ name: "nobody" }))
        expect(SingleFlight.isGroup(yield* CustomerIds)).toBe(true)
      }).pipe(Effect.provide(CustomerIds.layer))
    })
  })
})
