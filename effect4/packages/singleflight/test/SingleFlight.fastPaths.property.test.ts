/**
 * The engine's fast paths, under random programs: primitive keys (kept in a
 * native `Map`) mixed with structural keys (arrays and plain objects, which
 * effect 4 compares by value, kept in a `MutableHashMap`), fresh but equal
 * instances on every call, and
 * callers interrupted a few steps after they start, so that the interruption
 * lands anywhere between registering as a waiter and observing the flight.
 * Checked under the same scheduler and yield settings as the contract's
 * properties.
 */
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Equal, Exit, Fiber } from "effect"
import { SingleFlight } from "effect-singleflight"
import { TestClock } from "effect/testing"
import { integer, noFiberLeft, pick, schedulerSweep, withSchedule } from "./utils.js"

/** Keys that look alike but are not `Equal`: a string, a number, an array and an object of the same "1". */
const keyKinds = ["string", "number", "tuple", "struct"] as const
type KeyKind = typeof keyKinds[number]

/** A fresh instance every time: structural keys must match by value, never by reference. */
const keyOf = (kind: KeyKind): unknown =>
  kind === "string" ? "1" : kind === "number" ? 1 : kind === "tuple" ? ["1"] : { id: "1" }

interface CallStep {
  readonly at: number
  readonly kind: KeyKind
  readonly duration: number
  /** `undefined`: the caller waits; otherwise it is interrupted after this many `yieldNow`s of the test fiber. */
  readonly interruptAfter: number | undefined
}

const stepArb: Arbitrary.Arbitrary<CallStep> = Arbitrary.all({
  at: integer(0, 6),
  kind: pick(keyKinds),
  duration: integer(0, 3),
  // as often undefined as each of 0 to 4, like fast-check's `option`
  interruptAfter: pick([undefined, undefined, undefined, undefined, undefined, 0, 1, 2, 3, 4])
})
const programArb = Arbitrary.array(stepArb, { minLength: 1, maxLength: 20 })
const policyArb = pick<SingleFlight.AbandonPolicy>(["interrupt", "interruptInBackground", "runToCompletion"])

const yieldTimes = (times: number): Effect.Effect<void> =>
  times <= 0 ? Effect.void : Effect.andThen(Effect.yieldNow, yieldTimes(times - 1))

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
    const callers: Array<{ readonly step: CallStep; readonly fiber: Fiber.Fiber<string> }> = []
    const interruptions: Array<Fiber.Fiber<unknown>> = []
    let now = 0
    for (const step of sorted) {
      if (step.at * 10 > now) {
        // the interruptions land before the clock moves, that is before any work can end
        yield* Effect.forEach(interruptions, Fiber.join)
        yield* TestClock.adjust(step.at * 10 - now)
        now = step.at * 10
      }
      const fiber = yield* Effect.forkChild(group.call(keyOf(step.kind), work(step)))
      callers.push({ step, fiber })
      if (step.interruptAfter !== undefined) {
        const yields = step.interruptAfter
        // forked: the last waiter's interruption waits for the work's finalizers
        interruptions.push(
          yield* Effect.forkChild(Effect.andThen(yieldTimes(yields + 1), Fiber.interrupt(fiber)))
        )
      }
    }
    yield* Effect.forEach(interruptions, Fiber.join)
    yield* TestClock.adjust(200)
    const exits = yield* Effect.forEach(callers, ({ fiber }) => Effect.exit(Fiber.join(fiber)))

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

describe("SingleFlight fast paths", () => {
  for (const [name, scheduler, maxOps, runs] of schedulerSweep) {
    it.effect.prop(
      `mixed primitive and structural keys, callers interrupted anywhere in a call, keep the contract (${name})`,
      [programArb, policyArb],
      ([program, policy]) =>
        noFiberLeft(runProgram(program, policy).pipe(Effect.scoped, withSchedule(scheduler, maxOps))),
      { timeout: 60_000, arbitrary: { runs } }
    )
  }
})
