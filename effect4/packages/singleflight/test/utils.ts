/**
 * Helpers shared by the tests: forking, reading exits, and the fiber-counting
 * check that replaces effect 3's `Supervisor.track`.
 */
import { expect } from "@effect/vitest"
import { Arbitrary, Cause, Effect, Exit, Fiber, Metric, Result, Scheduler, Schema } from "effect"

export const forkAll = <A, E, R>(effects: Iterable<Effect.Effect<A, E, R>>) =>
  Effect.forEach(effects, (effect) => Effect.forkChild(effect))

export const awaitExit = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.exit(Fiber.join(fiber))

export const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return undefined
  const defect = Cause.findDefect(exit.cause)
  return Result.isSuccess(defect) ? defect.success : undefined
}

export const isInterrupted = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)

/** Lets other fibers run until `condition` holds (a bounded number of times). */
export const eventually = (condition: () => boolean, tries = 100): Effect.Effect<void> =>
  Effect.suspend(() =>
    condition() || tries === 0 ? Effect.void : Effect.andThen(Effect.yieldNow, eventually(condition, tries - 1))
  )

const activeFibers = Effect.map(
  Metric.snapshot,
  (snapshots) => snapshots.find((snapshot) => snapshot.id === "child_fibers_active")
)

/**
 * Runs `body` with effect's fiber runtime metrics, in a registry of its own,
 * and checks that every fiber started inside it (forked by the test or by
 * the library) has ended.
 */
export const noFiberLeft = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const result = yield* body
    yield* Effect.yieldNow
    const active = yield* activeFibers
    expect(active?.type).toBe("Gauge")
    expect(active?.state).toMatchObject({ value: 0 })
    return result
  }).pipe(Metric.enableRuntimeMetrics, Effect.provideService(Metric.MetricRegistry, new Map()))

/** A whole number from `min` to `max`. */
export const integer = (min: number, max: number): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: min, maximum: max })))

/** One of `values`; a value listed twice is drawn twice as often. */
export const pick = <const A>(values: ReadonlyArray<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.map(integer(0, values.length - 1), (index) => values[index]!)

/**
 * [name, scheduler, max ops before yield, runs]: the scheduler sweep of the
 * property tests, from a yield every 12 operations up to the default 2 048,
 * on the default (macrotask) scheduler and on the microtask one.
 */
export const schedulerSweep: ReadonlyArray<readonly [string, Scheduler.Scheduler, number, number]> = [
  ["default scheduler, 2048 ops", new Scheduler.MixedScheduler(), 2048, 40],
  ["default scheduler, 64 ops", new Scheduler.MixedScheduler(), 64, 40],
  ["default scheduler, 16 ops", new Scheduler.MixedScheduler(), 16, 40],
  ["default scheduler, 12 ops", new Scheduler.MixedScheduler(), 12, 40],
  ["sync scheduler, 12 ops", new Scheduler.MixedScheduler("sync"), 12, 40],
  ["sync scheduler, 2048 ops", new Scheduler.MixedScheduler("sync"), 2048, 40]
]

/** Runs `effect` under one setting of the sweep. */
export const withSchedule =
  (scheduler: Scheduler.Scheduler, maxOps: number) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(
      Effect.provideService(Scheduler.Scheduler, scheduler),
      Effect.provideService(Scheduler.MaxOpsBeforeYield, maxOps)
    )
