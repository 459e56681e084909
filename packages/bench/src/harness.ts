/**
 * The sampler: tinybench runs each task's iterations (with untimed hooks
 * around them), and this module interleaves the tasks of one size in rounds,
 * rotating their order, so that the noise of a shared machine falls on every
 * task alike. Medians are taken over the samples of all rounds.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Bench } from "tinybench"
import { settle } from "./line.js"
import type { HeldCallers, Outcome, TimedTask } from "./line.js"

export interface SamplingPlan {
  readonly rounds: number
  /** Iterations of each task per round, at least. */
  readonly iterations: number
  /** Milliseconds of each task per round, at least (tinybench runs until both are reached). */
  readonly time: number
  /** Untimed iterations of each task before its first round. */
  readonly warmupIterations: number
}

/** What the callers of a task got, over all its runs. */
export class Check {
  readonly executions = new Set<number>()
  readonly problems: Array<string> = []

  record(outcome: Outcome): void {
    const { executions, expectedResults, expectedSum, results, sum } = outcome
    this.executions.add(executions)
    if ((sum !== expectedSum || results !== expectedResults) && this.problems.length < 3) {
      this.problems.push(`${results} results summing to ${sum}, expected ${expectedResults} summing to ${expectedSum}`)
    }
  }
}

/** Samples (milliseconds per iteration) of every task, in the order of `tasks`, and what their callers got. */
export const sample = async (
  tasks: ReadonlyArray<TimedTask>,
  plan: SamplingPlan
): Promise<Array<{ readonly millis: Array<number>; readonly check: Check }>> => {
  const results = tasks.map(() => ({ millis: new Array<number>(), check: new Check() }))
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
    const order = tasks.map((_, index) => (index + round) % tasks.length)
    for (const index of order) {
      const task = tasks[index]!
      const { check } = results[index]!
      // An `async` function: tinybench calls any other function once, unhooked, to see whether it returns a promise.
      bench.add(`${index}`, async () => {
        await task.run()
      }, {
        beforeAll: async () => {
          collectGarbage()
          await task.beforeRound()
        },
        beforeEach: task.beforeEach,
        afterEach: async () => check.record(await task.afterEach()),
        afterAll: async () => {
          const problem = await task.afterRound()
          if (problem !== undefined) check.problems.push(problem)
        }
      })
    }
    await bench.run()
    for (const benchTask of bench.tasks) {
      const result = benchTask.result
      if (result === undefined || result.error !== undefined) {
        throw new Error(`benchmark task ${benchTask.name} failed`, { cause: result?.error })
      }
      results[Number(benchTask.name)]!.millis.push(...result.latency.samples)
    }
  }
  return results
}

/**
 * Heap bytes (after GC) per caller, `repeats` times: each repeat makes its
 * instance and keys first, so that only what the callers make (fibers
 * included) counts.
 */
export const measureHeap = async (
  make: () => Promise<HeldCallers>,
  callers: number,
  repeats: number
): Promise<{ readonly bytes: Array<number>; readonly check: Check }> => {
  const check = new Check()
  const bytes: Array<number> = []
  for (let repeat = 0; repeat < repeats; repeat++) {
    const held = await make()
    await settle()
    collectGarbage()
    const before = process.memoryUsage().heapUsed
    await held.hold()
    collectGarbage()
    bytes.push((process.memoryUsage().heapUsed - before) / callers)
    check.record(await held.release())
    await settle()
  }
  return { bytes, check }
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

const collectGarbage = (): void => {
  gc()
  gc()
}
