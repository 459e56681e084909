/**
 * The engine's fast paths, under random programs: primitive keys (kept in a
 * native `Map`) mixed with structural keys (`Data.tuple`, `Data.struct`,
 * kept in a `MutableHashMap`), fresh but equal instances on every call, and
 * callers interrupted a few steps after they start, so that the interruption
 * lands anywhere between registering as a waiter and observing the flight.
 * Checked under the same scheduler and yield settings as the contract's
 * properties.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Equal, Exit, FastCheck as fc, Fiber, Scheduler, Supervisor, TestClock } from "effect"
import { SingleFlight } from "effect-singleflight"

/** Keys that look alike but are not `Equal`: a string, a number, a tuple and a struct of the same "1". */
const keyKinds = ["string", "number", "tuple", "struct"] as const
type KeyKind = typeof keyKinds[number]

/** A fresh instance every time: structural keys must match by value, never by reference. */
const keyOf = (kind: KeyKind): unknown =>
  kind === "string" ? "1" : kind === "number" ? 1 : kind === "tuple" ? Data.tuple("1") : Data.struct({ id: "1" })

interface CallStep {
  readonly at: number
  readonly kind: KeyKind
  readonly duration: number
  /** `undefined`: the caller waits; otherwise it is interrupted after this many `yieldNow`s of the test fiber. */
  readonly interruptAfter: number | undefined
}

const stepArb: fc.Arbitrary<CallStep> = fc.record({
  at: fc.integer({ min: 0, max: 6 }),
  kind: fc.constantFrom(...keyKinds),
  duration: fc.integer({ min: 0, max: 3 }),
  interruptAfter: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined })
})
const programArb = fc.array(stepArb, { minLength: 1, maxLength: 20 })
const policyArb = fc.constantFrom<SingleFlight.AbandonPolicy>("interrupt", "interruptInBackground", "runToCompletion")

const runProgram = (program: ReadonlyArray<CallStep>, whenAbandoned: SingleFlight.AbandonPolicy) =>
  Effect.gen(function*() {
    const group = yield* SingleFlight.make<unknown, string>({ whenAbandoned })
    const executions: Array<{ readonly kind: KeyKind; finalized: boolean; succeeded: boolean }> = []
    const running = new Map<KeyKind, number>()
    let overlapped = false

    const work = (step: CallStep) =>
      Effect.gen(function*() {
        const key = yield* group.key
        expect(Equal.equals(key, keyOf(step.kind))).toBe(true)
        const id = executions.push({ kind: step.kind, finalized: false, succeeded: false }) - 1
        const now = (running.get(step.kind) ?? 0) + 1
        running.set(step.kind, now)
        if (now > 1) overlapped = true
        return yield* Effect.sleep(step.duration * 10 + 5).pipe(
          Effect.as(`${step.kind}#${id}`),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              executions[id]!.finalized = true
              executions[id]!.succeeded = Exit.isSuccess(exit)
              running.set(step.kind, running.get(step.kind)! - 1)
            })
          )
        )
      })

    const sorted = [...program].sort((x, y) => x.at - y.at)
    const callers: Array<{ readonly step: CallStep; readonly fiber: Fiber.RuntimeFiber<string> }> = []
    const interruptions: Array<Fiber.RuntimeFiber<unknown>> = []
    let now = 0
    for (const step of sorted) {
      if (step.at * 10 > now) {
        // the interruptions land before the clock moves, that is before any work can end
        yield* Effect.forEach(interruptions, Fiber.join)
        yield* TestClock.adjust(step.at * 10 - now)
        now = step.at * 10
      }
      const fiber = yield* Effect.fork(group.call(keyOf(step.kind), work(step)))
      callers.push({ step, fiber })
      if (step.interruptAfter !== undefined) {
        const yields = step.interruptAfter
        // forked: the last waiter's interruption waits for the work's finalizers
        interruptions.push(
          yield* Effect.fork(Effect.zipRight(Effect.repeatN(Effect.yieldNow(), yields), Fiber.interrupt(fiber)))
        )
      }
    }
    yield* Effect.forEach(interruptions, Fiber.join)
    yield* TestClock.adjust(200)
    const exits = yield* Effect.forEach(callers, ({ fiber }) => Fiber.await(fiber))

    // a caller that waits gets the value of an execution of its own kind of key, never of a look-alike
    callers.forEach(({ step }, index) => {
      if (step.interruptAfter !== undefined) return
      const exit = exits[index]!
      expect(Exit.isSuccess(exit) && exit.value.split("#")[0]).toBe(step.kind)
    })
    // waiting callers of one key arriving at one instant share one execution
    const byArrival = new Map<string, Set<string>>()
    callers.forEach(({ step }, index) => {
      const exit = exits[index]!
      if (step.interruptAfter !== undefined || !Exit.isSuccess(exit)) return
      const arrival = `${step.kind}@${step.at}`
      byArrival.set(arrival, (byArrival.get(arrival) ?? new Set()).add(exit.value))
    })
    for (const values of byArrival.values()) expect(values.size).toBe(1)

    // Interruptions land within a few yields of the call, before any work ends: an execution completes exactly
    // when one of its callers stayed (or the policy keeps it running), and every other one was abandoned.
    const delivered = new Set([...byArrival.values()].flatMap((values) => [...values]))
    executions.forEach((execution, id) =>
      expect(execution.succeeded, `execution ${id}`).toBe(
        whenAbandoned === "runToCompletion" || delivered.has(`${execution.kind}#${id}`)
      )
    )

    if (whenAbandoned !== "interruptInBackground") expect(overlapped).toBe(false)
    expect(executions.every((execution) => execution.finalized)).toBe(true)
    expect(yield* group.size).toBe(0)
    const stats = yield* group.stats
    expect(stats.running).toBe(0)
    expect(stats.executions).toBe(executions.length)
    expect(stats.calls).toBe(callers.length)
    expect(stats.abandoned).toBe(executions.filter((execution) => !execution.succeeded).length)
  })

const settings: ReadonlyArray<readonly [string, Scheduler.Scheduler, number, number]> = [
  ["default scheduler, 2048 ops", Scheduler.defaultScheduler, 2048, 40],
  ["default scheduler, 64 ops", Scheduler.defaultScheduler, 64, 40],
  ["default scheduler, 16 ops", Scheduler.defaultScheduler, 16, 40],
  ["default scheduler, 12 ops", Scheduler.defaultScheduler, 12, 40],
  ["timer-first scheduler, 12 ops", new Scheduler.MixedScheduler(1), 12, 10],
  ["timer-first scheduler, 2048 ops", new Scheduler.MixedScheduler(1), 2048, 40]
]

describe("SingleFlight fast paths", () => {
  for (const [name, scheduler, maxOps, numRuns] of settings) {
    it.effect.prop(
      `mixed primitive and structural keys, callers interrupted anywhere in a call, keep the contract (${name})`,
      [programArb, policyArb],
      ([program, policy]) =>
        Effect.gen(function*() {
          const supervisor = yield* Supervisor.track
          yield* runProgram(program, policy).pipe(
            Effect.scoped,
            Effect.withScheduler(scheduler),
            Effect.withMaxOpsBeforeYield(maxOps),
            Effect.supervised(supervisor)
          )
          yield* Effect.yieldNow()
          expect((yield* supervisor.value).length).toBe(0)
        }),
      { timeout: 60_000, fastCheck: { numRuns } }
    )
  }
})
