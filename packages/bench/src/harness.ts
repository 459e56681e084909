/**
 * The sampler: the tasks of one size run interleaved in rounds, their order
 * rotated each round, so that the noise of a shared machine falls on every
 * task alike. Only a task's `run` is timed, between its untimed hooks.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { settle } from "./scenarios.js"
import type { HeldCallers, Outcome, TimedTask } from "./scenarios.js"

export interface SamplingPlan {
  readonly rounds: number
  /** Timed runs of each task per round, at least. */
  readonly iterations: number
  /** Milliseconds of timed runs of each task per round, at least. */
  readonly time: number
  /** Untimed runs of each task before its first round. */
  readonly warmupIterations: number
}

/** What the callers of a task got over all its runs: how many times the work ran per run, and the first problems. */
export class Check {
  readonly executions = new Set<number>()
  readonly problems: Array<string> = []
  record({ executions, problem }: Outcome): void {
    this.executions.add(executions)
    if (problem !== undefined && this.problems.length < 3) this.problems.push(problem)
  }
}

/** The milliseconds of every timed run of every task, in the order of `tasks`, and what their callers got. */
export const sample = async (tasks: ReadonlyArray<TimedTask>, plan: SamplingPlan) => {
  const results = tasks.map(() => ({ millis: new Array<number>(), check: new Check() }))
  for (let round = 0; round < plan.rounds; round++) {
    for (let turn = 0; turn < tasks.length; turn++) {
      const index = (turn + round) % tasks.length
      const [task, { check, millis }] = [tasks[index]!, results[index]!]
      const runOnce = async () => {
        await task.beforeEach()
        const start = performance.now()
        await task.run()
        const elapsed = performance.now() - start
        check.record(await task.afterEach())
        return elapsed
      }
      collectGarbage()
      await task.beforeRound()
      for (let warmup = round === 0 ? plan.warmupIterations : 0; warmup > 0; warmup--) await runOnce()
      const until = performance.now() + plan.time
      for (let run = 0; run < plan.iterations || performance.now() < until; run++) millis.push(await runOnce())
      const problem = await task.afterRound()
      if (problem !== undefined) check.problems.push(problem)
    }
  }
  return results
}

/**
 * Heap bytes (after GC) per caller, `repeats` times: each repeat makes its instance and keys first, so that only
 * what the callers make (fibers included) counts.
 */
export const measureHeap = async (make: () => Promise<HeldCallers>, callers: number, repeats: number) => {
  const [check, bytes] = [new Check(), new Array<number>()]
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
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2
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
