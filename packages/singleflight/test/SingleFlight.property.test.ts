/**
 * Random programs of calls, interruptions, timeouts, failures, defects and
 * forgets over a few keys, checked against the invariants of the contract
 * under several scheduler and yield settings.
 *
 * Time is laid out so that nothing else happens at the instant callers
 * arrive: calls and forgets happen on multiples of 10 ms, interruptions and
 * timeouts at +3 ms, and work ends at +5 ms.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, FastCheck as fc, Fiber, Option, Scheduler, Supervisor, TestClock } from "effect"
import { SingleFlight } from "effect-singleflight"

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

const keyArb = fc.constantFrom("a", "b", "c")
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      _tag: fc.constant("Call" as const),
      at: fc.integer({ min: 0, max: 20 }),
      key: keyArb,
      outcome: fc.constantFrom<Outcome>("succeed", "succeed", "fail", "die", "interruptItself"),
      duration: fc.integer({ min: 0, max: 6 }),
      fate: fc.constantFrom<CallerFate>("waits", "waits", "interrupted", "timesOut"),
      leaveAfter: fc.integer({ min: 0, max: 6 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({ _tag: fc.constant("Forget" as const), at: fc.integer({ min: 0, max: 20 }), key: keyArb })
  }
)
const programArb = fc.array(stepArb, { minLength: 1, maxLength: 25 })
const policyArb = fc.constantFrom<SingleFlight.AbandonPolicy>("interrupt", "runToCompletion")

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
          Effect.zipRight(
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
      { readonly step: CallStep; readonly forgets: number; readonly fiber: Fiber.RuntimeFiber<string, unknown> }
    > = []
    const forgetsPerKey = new Map<string, number>()
    const interruptions: Array<Fiber.RuntimeFiber<unknown>> = []
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
        ? Effect.fork(Effect.timeoutFail(call, { duration: leaveAt, onTimeout: () => "timed out" as const }))
        : Effect.fork(call))
      callers.push({ step, forgets: forgetsPerKey.get(step.key) ?? 0, fiber })
      if (step.fate === "interrupted") {
        // forked: the last waiter's interruption waits for the work's finalizers
        interruptions.push(yield* Effect.fork(Effect.zipRight(Effect.sleep(leaveAt), Fiber.interrupt(fiber))))
      }
    }
    yield* advanceTo(ms(40))
    yield* Effect.forEach(interruptions, Fiber.join)
    const exits = yield* Effect.forEach(callers, ({ fiber }) => Fiber.await(fiber))

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
      const failure = Cause.failureOption(exit.cause)
      const defect = Cause.dieOption(exit.cause)
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
        expect(Exit.isInterrupted(exit)).toBe(true)
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

/** [name, scheduler, max ops before yield, runs]: the timer-first scheduler is slow under TestClock, so fewer runs. */
const settings: ReadonlyArray<readonly [string, Scheduler.Scheduler, number, number]> = [
  ["default scheduler, 2048 ops", Scheduler.defaultScheduler, 2048, 40],
  ["default scheduler, 64 ops", Scheduler.defaultScheduler, 64, 40],
  ["default scheduler, 16 ops", Scheduler.defaultScheduler, 16, 40],
  ["default scheduler, 12 ops", Scheduler.defaultScheduler, 12, 40],
  ["timer-first scheduler, 12 ops", new Scheduler.MixedScheduler(1), 12, 10],
  ["timer-first scheduler, 2048 ops", new Scheduler.MixedScheduler(1), 2048, 40]
]

describe("SingleFlight properties", () => {
  for (const [name, scheduler, maxOps, numRuns] of settings) {
    it.effect.prop(
      `random programs keep the contract (${name})`,
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
