/**
 * Random programs of calls, interruptions, timeouts, failures, defects and
 * forgets over a few keys, checked against the invariants of the contract
 * under several scheduler and yield settings.
 *
 * Time is laid out so that nothing else happens at the instant callers
 * arrive: calls and forgets happen on multiples of 10 ms, interruptions and
 * timeouts at +3 ms, and work ends at +5 ms.
 *
 * effect 4 has no fast-check: the programs are drawn with `effect/Arbitrary`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Cause, Data, Effect, Exit, Fiber, Option } from "effect"
import { SingleFlight } from "effect-singleflight"
import { TestClock } from "effect/testing"
import { integer, noFiberLeft, pick, schedulerSweep, withSchedule } from "./utils.js"

type Outcome = "succeed" | "fail" | "die" | "interruptItself"
type CallerFate = "waits" | "interrupted" | "timesOut"

interface CallStep {
  readonly _tag: "Call"
  readonly at: number
  readonly key: string
  readonly outcome: Outcome
  readonly duration: number
  readonly fate: CallerFate
  readonly leaveAfter: number
}
interface ForgetStep {
  readonly _tag: "Forget"
  readonly at: number
  readonly key: string
}
type Step = CallStep | ForgetStep

class WorkFailed extends Data.TaggedError("WorkFailed")<{ readonly execution: number }> {}
class WorkDied extends Data.Error<{ readonly execution: number }> {}

const keyArb = pick(["a", "b", "c"])
const callArb: Arbitrary.Arbitrary<Step> = Arbitrary.all({
  _tag: Arbitrary.Constant("Call" as const),
  at: integer(0, 20),
  key: keyArb,
  outcome: pick<Outcome>(["succeed", "succeed", "fail", "die", "interruptItself"]),
  duration: integer(0, 6),
  fate: pick<CallerFate>(["waits", "waits", "interrupted", "timesOut"]),
  leaveAfter: integer(0, 6)
})
const forgetArb: Arbitrary.Arbitrary<Step> = Arbitrary.all({
  _tag: Arbitrary.Constant("Forget" as const),
  at: integer(0, 20),
  key: keyArb
})
/** Eight calls for one forget. */
const stepArb = Arbitrary.flatMap(integer(0, 8), (draw) => draw === 0 ? forgetArb : callArb)
const programArb = Arbitrary.array(stepArb, { minLength: 1, maxLength: 25 })
const policyArb = pick<SingleFlight.AbandonPolicy>(["interrupt", "runToCompletion"])

interface Execution {
  readonly id: number
  readonly key: string
  exit: Exit.Exit<string, WorkFailed> | undefined
  finalized: boolean
}

const ms = (n: number) => n * 10

const runProgram = (program: ReadonlyArray<Step>, whenAbandoned: SingleFlight.AbandonPolicy) =>
  Effect.gen(function*() {
    const group = yield* SingleFlight.make<string, string, WorkFailed>({ whenAbandoned })
    const executions: Array<Execution> = []
    const runningPerKey = new Map<string, number>()
    let overlapped = false

    const work = (step: CallStep) =>
      Effect.gen(function*() {
        const key = yield* group.key
        const execution: Execution = { id: executions.length, key, exit: undefined, finalized: false }
        executions.push(execution)
        const running = (runningPerKey.get(key) ?? 0) + 1
        runningPerKey.set(key, running)
        if (running > 1) overlapped = true
        return yield* Effect.sleep(ms(step.duration) + 5).pipe(
          Effect.andThen(
            step.outcome === "succeed"
              ? Effect.succeed(`${key}#${execution.id}`)
              : step.outcome === "fail"
              ? Effect.fail(new WorkFailed({ execution: execution.id }))
              : step.outcome === "die"
              ? Effect.die(new WorkDied({ execution: execution.id }))
              : Effect.interrupt
          ),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              execution.exit = exit
              execution.finalized = true
              runningPerKey.set(key, runningPerKey.get(key)! - 1)
            })
          )
        )
      })

    const sorted = [...program].sort((x, y) => x.at - y.at)
    // `forgets`: how many forgets of the caller's key came before it; a forget between two callers of one
    // instant rightly gives the second a new execution
    const callers: Array<
      { readonly step: CallStep; readonly forgets: number; readonly fiber: Fiber.Fiber<string, unknown> }
    > = []
    const forgetsPerKey = new Map<string, number>()
    const interruptions: Array<Fiber.Fiber<unknown>> = []
    let now = 0
    const advanceTo = (time: number) =>
      Effect.suspend(() => {
        const delta = time - now
        now = time
        return delta > 0 ? TestClock.adjust(delta) : Effect.void
      })

    for (const step of sorted) {
      yield* advanceTo(ms(step.at))
      if (step._tag === "Forget") {
        yield* group.forget(step.key)
        forgetsPerKey.set(step.key, (forgetsPerKey.get(step.key) ?? 0) + 1)
        continue
      }
      const call = group.call(step.key, work(step))
      const leaveAt = ms(step.leaveAfter) + 3
      const fiber = yield* (step.fate === "timesOut"
        ? Effect.forkChild(Effect.timeoutOrElse(call, { duration: leaveAt, orElse: () => Effect.fail("timed out") }))
        : Effect.forkChild(call))
      callers.push({ step, forgets: forgetsPerKey.get(step.key) ?? 0, fiber })
      if (step.fate === "interrupted") {
        // forked: the last waiter's interruption waits for the work's finalizers
        interruptions.push(yield* Effect.forkChild(Effect.andThen(Effect.sleep(leaveAt), Fiber.interrupt(fiber))))
      }
    }
    yield* advanceTo(ms(40))
    yield* Effect.forEach(interruptions, Fiber.join)
    const exits = yield* Effect.forEach(callers, ({ fiber }) => Effect.exit(Fiber.join(fiber)))

    // every caller that did not leave got the exit of an execution of its own key
    callers.forEach(({ step }, index) => {
      const exit = exits[index]!
      if (step.fate !== "waits") return
      if (Exit.isSuccess(exit)) {
        const [key, id] = exit.value.split("#")
        expect(key).toBe(step.key)
        expect(executions[Number(id)]!.exit).toStrictEqual(exit)
        return
      }
      const failure = Cause.findErrorOption(exit.cause)
      const defect = Option.getSuccess(Cause.findDefect(exit.cause))
      const execution = Option.isSome(failure)
        ? executions[(failure.value as WorkFailed).execution]
        : Option.isSome(defect)
        ? executions[(defect.value as WorkDied).execution]
        : undefined
      if (execution !== undefined) {
        expect(execution.key).toBe(step.key)
        expect(execution.exit).toStrictEqual(exit)
      } else {
        // an interruption: of the work itself (self-interrupting work or abandoned)
        expect(Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      }
    })

    // callers of one key arriving at the same instant, with no forget of it between them, share one execution
    const byArrival = new Map<string, Set<string>>()
    callers.forEach(({ forgets, step }, index) => {
      const exit = exits[index]!
      if (step.fate !== "waits" || !Exit.isSuccess(exit)) return
      const arrival = `${step.key}@${step.at}#${forgets}`
      byArrival.set(arrival, (byArrival.get(arrival) ?? new Set()).add(exit.value))
    })
    for (const values of byArrival.values()) expect(values.size).toBe(1)

    // at most one execution of a key at any instant, unless forget was called
    if (!program.some((step) => step._tag === "Forget")) expect(overlapped).toBe(false)
    // every execution ended and ran its finalizers; nothing is left in flight
    expect(executions.every((execution) => execution.finalized)).toBe(true)
    expect(yield* group.size).toBe(0)
    const stats = yield* group.stats
    expect(stats.running).toBe(0)
    expect(stats.executions).toBe(executions.length)
    expect(stats.calls).toBe(callers.length)
    expect(stats.executions + stats.joined).toBeLessThanOrEqual(stats.calls)
  })

describe("SingleFlight properties", () => {
  for (const [name, scheduler, maxOps, runs] of schedulerSweep) {
    it.effect.prop(
      `random programs keep the contract (${name})`,
      [programArb, policyArb],
      ([program, policy]) =>
        noFiberLeft(runProgram(program, policy).pipe(Effect.scoped, withSchedule(scheduler, maxOps))),
      { timeout: 60_000, arbitrary: { runs } }
    )
  }
})
