/**
 * The sampler: tinybench runs each task's iterations (with untimed hooks
 * around them), and this module interleaves the tasks of one scenario in
 * rounds, rotating their order, so that the noise of a shared machine falls on
 * every task alike. Medians are taken over the samples of all rounds.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Bench } from "tinybench"

export interface Task {
  readonly id: string
  /** Untimed, once per round: make the instance, put keys in flight. */
  readonly beforeAll?: () => Promise<void>
  /** Untimed, before each iteration: fresh keys, a fresh gate. */
  readonly beforeEach?: () => void
  /** Timed: one iteration. */
  readonly run: () => Promise<void>
  /** Untimed, after each iteration: check the results. */
  readonly afterEach?: () => void
  /** Untimed, once per round: release everything `beforeAll` made. */
  readonly afterAll?: () => Promise<void>
}

export interface SamplingPlan {
  readonly rounds: number
  /** Iterations of each task per round, at least. */
  readonly iterations: number
  /** Milliseconds of each task per round, at least (tinybench runs until both are reached). */
  readonly time: number
  /** Untimed iterations of each task before its first round. */
  readonly warmupIterations: number
}

/** Samples (milliseconds per iteration) of every task, by id. */
export const sample = async (
  tasks: ReadonlyArray<Task>,
  plan: SamplingPlan
): Promise<ReadonlyMap<string, ReadonlyArray<number>>> => {
  const samples = new Map<string, Array<number>>(tasks.map((task) => [task.id, []]))
  for (let round = 0; round < plan.rounds; round++) {
    const bench = new Bench({
      iterations: plan.iterations,
      time: plan.time,
      warmup: round === 0 && plan.warmupIterations > 0,
      warmupIterations: plan.warmupIterations,
      warmupTime: 0,
      throws: true
    })
    // the order rotates each round, so that no task always runs first (or last)
    const shift = round % tasks.length
    for (const task of [...tasks.slice(shift), ...tasks.slice(0, shift)]) {
      // An `async` function: tinybench calls any other function once, unhooked, to see whether it returns a promise.
      bench.add(task.id, async () => {
        await task.run()
      }, {
        beforeAll: async () => {
          collectGarbage()
          await task.beforeAll?.()
        },
        beforeEach: () => task.beforeEach?.(),
        afterEach: () => task.afterEach?.(),
        afterAll: () => task.afterAll?.() ?? Promise.resolve()
      })
    }
    await bench.run()
    for (const benchTask of bench.tasks) {
      const result = benchTask.result
      if (result === undefined || result.error !== undefined) {
        throw new Error(`benchmark task ${benchTask.name} failed`, { cause: result?.error })
      }
      samples.get(benchTask.name)?.push(...result.latency.samples)
    }
  }
  return samples
}

export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** `global.gc`: exposed by `--expose-gc` (the `bench` script passes it), or enabled here (under vitest, say). */
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
})()

export const collectGarbage = (): void => {
  gc()
  gc()
}

/** Resolves after the current macrotask and the timers due by then. */
export const settle = (millis = 0): Promise<void> =>
  new Promise((resolve) => setTimeout(() => setImmediate(resolve), millis))
