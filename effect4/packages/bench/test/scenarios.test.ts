import { describe, expect, it } from "@effect/vitest"
import type { Task } from "../src/harness.js"
import * as Impl from "../src/implementations.js"
import type { Implementation } from "../src/implementations.js"
import { concurrent, measureMemory, scale, sequential } from "../src/scenarios.js"
import type { Check, Measured } from "../src/scenarios.js"

/** Every implementation, the subject's observability variants included. */
const implementations: ReadonlyArray<Implementation> = [
  ...Impl.all,
  Impl.singleFlightUnobserved,
  Impl.singleFlightTraced
]
/** The Deferred limit has no work to end its Deferreds in the sequential scenarios: its callers would wait forever. */
const withWork = implementations.filter((implementation) => !implementation.usesDeferreds)

/** Whether callers of one key share one execution. */
const coalesces = (implementation: Implementation): boolean =>
  implementation !== Impl.noCoalescingLimit && implementation !== Impl.forkJoinLimit && !implementation.usesDeferreds

/** The executions of one run of `callers` callers over `keys` keys. */
const executionsOf = (implementation: Implementation, callers: number, keys: number): number =>
  implementation.usesDeferreds ? 0 : coalesces(implementation) ? keys : callers

/** What the sampler does with a task, without the timing: its hooks around `iterations` runs. */
const runTask = async (task: Task, iterations: number): Promise<void> => {
  await task.beforeAll?.()
  for (let iteration = 0; iteration < iterations; iteration++) {
    await task.beforeEach?.()
    await task.run()
    await task.afterEach?.()
  }
  await task.afterAll?.()
}

const expectCorrect = (check: Check, executions: number, sum: number, label: string) => {
  expect(check.problems, label).toEqual([])
  expect([...check.executions], label).toEqual([executions])
  expect([...check.sums], label).toEqual([sum])
}

const measured = async ({ callsPerRun, check, task }: Measured, calls: number) => {
  expect(callsPerRun).toBe(calls)
  await runTask(task, 2)
  return check
}

/** 1 + 2 + … + n */
const triangle = (n: number): number => (n * (n + 1)) / 2

describe("the effect 4 scenarios", () => {
  describe.each(implementations.map((implementation) => [implementation.name, implementation] as const))(
    "%s",
    (_, implementation) => {
      it("hot: 10 callers on one key each get its value", async () => {
        const check = await measured(concurrent(implementation, 10, 1), 10)
        expectCorrect(check, executionsOf(implementation, 10, 1), 10, "hot")
      })

      it("distinct: 10 callers on 10 keys each get their own key's value", async () => {
        const check = await measured(concurrent(implementation, 10, 10), 10)
        expectCorrect(check, executionsOf(implementation, 10, 10), triangle(10), "distinct")
      })

      it("mixed: 10 callers on 3 keys each get their own key's value", async () => {
        const check = await measured(concurrent(implementation, 10, 3), 10)
        // callers 0, 3, 6, 9 on the key valued 1, 1, 4, 7 on 2, 2, 5, 8 on 3
        expectCorrect(check, executionsOf(implementation, 10, 3), 4 * 1 + 3 * 2 + 3 * 3, "mixed")
      })

      it("memory, waiters: 20 callers held on one key are released with its value", async () => {
        const { bytes, check } = await measureMemory(implementation, "waiters", 20, 1)
        expect(bytes).toHaveLength(1)
        expect(Number.isFinite(bytes[0])).toBe(true)
        expectCorrect(check, executionsOf(implementation, 20, 1), 20, "memory waiters")
      })

      it("memory, keys: 20 callers held on 20 keys are released with their values", async () => {
        const { check } = await measureMemory(implementation, "keys", 20, 1)
        expectCorrect(check, executionsOf(implementation, 20, 20), 20, "memory keys")
      })
    }
  )

  describe.each(withWork.map((implementation) => [implementation.name, implementation] as const))(
    "%s",
    (_, implementation) => {
      it("sequential: 10 calls on fresh keys each run the work once", async () => {
        const check = await measured(sequential(implementation, 10), 10)
        expectCorrect(check, 10, triangle(10), "sequential")
      })

      it("scale: with 5 keys held in flight, 10 calls on fresh keys each run the work once", async () => {
        const check = await measured(scale(implementation, 5, 10), 10)
        expectCorrect(check, 10, triangle(10), "scale")
      })
    }
  )

  it("covers every implementation: the subject, five limits (two of them its own variants) and five peers", () => {
    expect(new Set(implementations.map((implementation) => implementation.name)).size).toBe(11)
    expect(implementations.filter((implementation) => implementation.role === "peer")).toEqual(Impl.peers)
  })
})
