import { describe, expect, it } from "@effect/vitest"
import type { ImplementationId } from "../../../../packages/bench/src/line.js"
import { measureRedis } from "../../../../packages/bench/src/redis.js"
import { held, timed } from "../../../../packages/bench/src/scenarios.js"
import type { Outcome, TimedTask } from "../../../../packages/bench/src/scenarios.js"
import { line } from "../src/effect4.js"
import { implementations } from "../src/implementations.js"

const ids = Object.keys(implementations) as Array<ImplementationId>

/** The executions of one run of `callers` callers over `keys` keys: once per key for a coalescer and the Deferreds. */
const executionsOf = (id: ImplementationId, callers: number, keys: number): number =>
  id === "noCoalescing" || id === "forkJoin" ? callers : keys

/** What the sampler does with a task, without the timing: its hooks around two runs. */
const runTwice = async (task: TimedTask): Promise<Array<Outcome>> => {
  const outcomes: Array<Outcome> = []
  await task.beforeRound()
  for (let run = 0; run < 2; run++) {
    await task.beforeEach()
    await task.run()
    outcomes.push(await task.afterEach())
  }
  expect(await task.afterRound()).toBeUndefined()
  return outcomes
}

/** Every caller got its own key's value (no problem), and the work ran `executions` times. */
const expectCorrect = (outcome: Outcome, executions: number) => expect(outcome).toEqual({ executions })

describe("the effect 4 scenarios", () => {
  describe.each(ids)("%s", (id) => {
    it.each([["hot", 1], ["distinct", 10], ["mixed", 3]] as const)(
      "%s: 10 callers on %i key(s) each get their own key's value",
      async (_, keys) => {
        for (const outcome of await runTwice(timed(line, id, { _tag: "concurrent", callers: 10, keys }))) {
          expectCorrect(outcome, executionsOf(id, 10, keys))
        }
      }
    )

    it.each([["waiters", 1], ["keys", 20]] as const)(
      "memory, %s: 20 callers held on %i key(s) are released with their values",
      async (_, keys) => {
        const callers = await held(line, id, keys, 20)
        await callers.hold()
        expectCorrect(await callers.release(), executionsOf(id, 20, keys))
      }
    )

    it.each([0, 5])(
      "10 sequential calls on fresh keys, %i keys held in flight, each run the work once",
      async (inFlight) => {
        for (const outcome of await runTwice(timed(line, id, { _tag: "sequential", calls: 10, inFlight }))) {
          expectCorrect(outcome, 10)
        }
      }
    )
  })

  it("the Redis scenarios run over a real redis-server, each follower getting its owner's value", async () => {
    const { problems, rows } = await measureRedis(line, 2)
    expect(problems).toEqual([])
    expect(rows).toHaveLength(5)
    expect(rows.every((row) => row.millis.length > 0 && row.millis.every(Number.isFinite))).toBe(true)
  }, 60_000)

  it("covers every implementation: the subject, five limits (two of them its own variants) and five peers", () => {
    const described = Object.values(line.implementations)
    expect(new Set(described.map((implementation) => implementation.name)).size).toBe(11)
    expect(described.filter((implementation) => implementation.role === "peer")).toHaveLength(5)
  })
})
