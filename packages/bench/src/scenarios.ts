/**
 * The scenarios, each a function of an implementation and a size that returns
 * a harness `Task` and the record of what the task's callers got.
 *
 * Every run uses fresh keys and a fresh instance (made outside the timed
 * region), so that nothing can answer from a previous run: `Cache` with a
 * time-to-live of 0 still serves a value finished in the same millisecond.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import { collectGarbage, settle } from "./harness.js"
import type { Task } from "./harness.js"
import type { Call, Environment, Implementation } from "./implementations.js"

/** What the callers of a task got, over all its runs. */
export class Check {
  runs = 0
  minExecutions = Number.POSITIVE_INFINITY
  maxExecutions = 0
  correct = true
  readonly problems: Array<string> = []
  private readonly sums = new Set<number>()

  record(executions: number, problem: string | undefined, sum?: number): void {
    this.runs++
    if (sum !== undefined) this.sums.add(sum)
    this.minExecutions = Math.min(this.minExecutions, executions)
    this.maxExecutions = Math.max(this.maxExecutions, executions)
    if (problem !== undefined) {
      this.correct = false
      if (this.problems.length < 3) this.problems.push(problem)
    }
  }

  /** The sums of the values the callers got, one per distinct run outcome: the same for every implementation. */
  get results(): string {
    return [...this.sums].sort((a, b) => a - b).join(", ")
  }

  get executions(): string {
    if (this.runs === 0) return "–"
    return this.minExecutions === this.maxExecutions
      ? String(this.minExecutions)
      : `${this.minExecutions}–${this.maxExecutions}`
  }
}

export interface ScenarioTask {
  readonly implementation: Implementation
  readonly task: Task
  readonly check: Check
  /** Calls per run, to turn a run's time into a per-call cost. */
  readonly callsPerRun: number
}

/** Callbacks that run when the gate opens, or at once if it is open. */
class Gate {
  private isOpen = false
  private waiting: Array<() => void> = []

  onOpen(callback: () => void): void {
    if (this.isOpen) callback()
    else this.waiting.push(callback)
  }

  open(): void {
    this.isOpen = true
    const waiting = this.waiting
    this.waiting = []
    for (const callback of waiting) callback()
  }
}

let serial = 0

/** Keys never used before in this process. */
const freshKeys = (prefix: string, count: number): Array<string> => {
  const run = serial++
  return Array.from({ length: count }, (_, index) => `${prefix}${run}:${index}`)
}

const valuesOf = (keys: ReadonlyArray<string>): Map<string, number> =>
  new Map(keys.map((key, index) => [key, index + 1]))

const sumOf = (values: ReadonlyArray<number>): number => values.reduce((sum, value) => sum + value, 0)

const noDeferred = (key: string): Deferred.Deferred<number> => {
  throw new Error(`no Deferred for ${key} in this scenario`)
}

/**
 * Starts one root fiber per caller, in a plain loop: `Effect.runFork` runs
 * each until its first asynchronous boundary before the next one starts, like
 * requests arriving at a server. (A launcher such as `Effect.forEach` with
 * unbounded concurrency would add its own ~4 KB and tens of microseconds per
 * caller to every implementation alike, and hide what the coalescers cost.)
 */
const launch = (
  count: number,
  callerOf: (index: number) => Effect.Effect<number, unknown>
): Promise<Array<Exit.Exit<number, unknown>>> =>
  new Promise((resolve) => {
    const exits = new Array<Exit.Exit<number, unknown>>(count)
    let remaining = count
    if (count === 0) resolve(exits)
    for (let index = 0; index < count; index++) {
      Effect.runFork(callerOf(index)).addObserver((exit) => {
        exits[index] = exit
        if (--remaining === 0) resolve(exits)
      })
    }
  })

const valuesOfExits = (exits: ReadonlyArray<Exit.Exit<number, unknown>>): Array<number> =>
  exits.flatMap((exit) => Exit.isSuccess(exit) ? [exit.value] : [])

/** An instance made in a scope of its own, for as long as the caller needs it. */
class Instance {
  private scope: Scope.CloseableScope | undefined
  call: Call = () => Effect.die("no instance")

  async open(implementation: Implementation, environment: Environment): Promise<void> {
    const scope = Effect.runSync(Scope.make())
    this.scope = scope
    this.call = await Effect.runPromise(Scope.extend(implementation.make(environment), scope))
  }

  async close(): Promise<void> {
    if (this.scope !== undefined) await Effect.runPromise(Scope.close(this.scope, Exit.void))
    this.scope = undefined
  }
}

// -----------------------------------------------------------------------------
// 1–3: concurrent callers (hot key, distinct keys, mixed)
// -----------------------------------------------------------------------------

/**
 * `callers` concurrent callers over `keyCount` keys (caller `i` takes key
 * `i mod keyCount`); the work of a key is one macrotask (`setImmediate`).
 *
 * The work ends one macrotask after the last caller has arrived, never
 * before: otherwise, with many callers, early works would end while callers
 * are still being forked, and a coalescer would be measured on more
 * executions than the scenario says.
 */
export const concurrent = (implementation: Implementation, callers: number, keyCount: number): ScenarioTask => {
  const check = new Check()
  const instance = new Instance()
  let keys: Array<string> = []
  let values = new Map<string, number>()
  let deferreds = new Map<string, Deferred.Deferred<number>>()
  let gate = new Gate()
  let arrived = 0
  let executions = 0
  let expected = 0
  let results: ReadonlyArray<number> = []

  const environment: Environment = {
    lookup: (key) =>
      Effect.async<number>((resume) => {
        executions++
        const value = values.get(key)!
        gate.onOpen(() => setImmediate(() => resume(Effect.succeed(value))))
      }),
    deferredOf: (key) => deferreds.get(key)!
  }

  const caller = (index: number) =>
    Effect.suspend(() => {
      if (++arrived === callers) gate.open()
      return instance.call(keys[index % keyCount]!)
    })

  const task: Task = {
    id: implementation.id,
    beforeEach: async () => {
      keys = freshKeys("c", keyCount)
      values = valuesOf(keys)
      gate = new Gate()
      arrived = 0
      executions = 0
      expected = 0
      for (let index = 0; index < callers; index++) expected += values.get(keys[index % keyCount]!)!
      deferreds = new Map()
      if (implementation.id === "deferred") {
        deferreds = new Map(keys.map((key) => [key, Deferred.unsafeMake<number>(FiberId.none)]))
        const completed = deferreds
        gate.onOpen(() =>
          setImmediate(() => {
            for (const [key, deferred] of completed) Deferred.unsafeDone(deferred, Exit.succeed(values.get(key)!))
          })
        )
      }
      await instance.open(implementation, environment)
    },
    run: async () => {
      results = valuesOfExits(await launch(callers, caller))
    },
    afterEach: async () => {
      const sum = sumOf(results)
      check.record(
        executions,
        results.length === callers && sum === expected
          ? undefined
          : `${results.length} results summing to ${sum}, expected ${callers} summing to ${expected}`,
        sum
      )
      results = []
      await instance.close()
    }
  }
  return { implementation, task, check, callsPerRun: callers }
}

// -----------------------------------------------------------------------------
// 4: sequential uncontended calls
// -----------------------------------------------------------------------------

/** One run of sequential calls: the keys of the run (read when it starts), one after the other, values summed. */
const sumOfSequentialCalls = (instance: Instance, keysOfRun: () => ReadonlyArray<string>) =>
  Effect.suspend(() =>
    Effect.reduce(keysOfRun(), 0, (sum, key) => Effect.map(instance.call(key), (value) => sum + value))
  )

/** `calls` calls one after the other, each on a fresh key whose value is ready at once. */
export const sequential = (implementation: Implementation, calls: number): ScenarioTask => {
  const check = new Check()
  const instance = new Instance()
  let keys: Array<string> = []
  let values = new Map<string, number>()
  let executions = 0
  let result = 0

  const environment: Environment = {
    lookup: (key) =>
      Effect.sync(() => {
        executions++
        return values.get(key)!
      }),
    deferredOf: noDeferred
  }

  const program = sumOfSequentialCalls(instance, () => keys)

  const task: Task = {
    id: implementation.id,
    beforeEach: async () => {
      keys = freshKeys("s", calls)
      values = valuesOf(keys)
      executions = 0
      await instance.open(implementation, environment)
    },
    run: async () => {
      result = await Effect.runPromise(program)
    },
    afterEach: async () => {
      const expected = (calls * (calls + 1)) / 2
      check.record(executions, result === expected ? undefined : `sum ${result}, expected ${expected}`, result)
      await instance.close()
    }
  }
  return { implementation, task, check, callsPerRun: calls }
}

// -----------------------------------------------------------------------------
// 5: scale, per-call cost with keys already in flight
// -----------------------------------------------------------------------------

/**
 * Before the timed runs, `inFlight` callers start on as many keys whose work
 * waits until the end of the round; each run then makes `calls` sequential
 * calls on fresh keys whose value is ready at once.
 */
export const scale = (implementation: Implementation, inFlight: number, calls: number): ScenarioTask => {
  const check = new Check()
  const instance = new Instance()
  const hold = { gate: new Gate(), arrived: 0, executions: 0 }
  let holder: Promise<Array<Exit.Exit<number, unknown>>> = Promise.resolve([])
  let keys: Array<string> = []
  let values = new Map<string, number>()
  let executions = 0
  let result = 0

  const environment: Environment = {
    lookup: (key) =>
      key.startsWith("h")
        ? Effect.async<number>((resume) => {
          hold.executions++
          hold.gate.onOpen(() => resume(Effect.succeed(0)))
        })
        : Effect.sync(() => {
          executions++
          return values.get(key)!
        }),
    deferredOf: noDeferred
  }

  const program = sumOfSequentialCalls(instance, () => keys)

  const task: Task = {
    id: implementation.id,
    beforeAll: async () => {
      hold.gate = new Gate()
      hold.arrived = 0
      hold.executions = 0
      await instance.open(implementation, environment)
      const held = freshKeys("h", inFlight)
      holder = launch(inFlight, (index) =>
        Effect.suspend(() => {
          hold.arrived++
          return instance.call(held[index]!)
        }))
      await waitFor(() => hold.arrived === inFlight)
      await settle(5)
    },
    beforeEach: () => {
      keys = freshKeys("f", calls)
      values = valuesOf(keys)
      executions = 0
    },
    run: async () => {
      result = await Effect.runPromise(program)
    },
    afterEach: () => {
      const expected = (calls * (calls + 1)) / 2
      check.record(executions, result === expected ? undefined : `sum ${result}, expected ${expected}`, result)
    },
    afterAll: async () => {
      hold.gate.open()
      const released = valuesOfExits(await holder)
      if (released.length !== inFlight || hold.executions !== inFlight) {
        check.record(0, `${hold.executions} executions for ${inFlight} keys held in flight`)
      }
      await instance.close()
    }
  }
  return { implementation, task, check, callsPerRun: calls }
}

/** Polls `done` on every macrotask, for at most `millis`. */
const waitFor = async (done: () => boolean, millis = 60_000): Promise<void> => {
  const deadline = Date.now() + millis
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the callers to arrive")
    await settle()
  }
}

// -----------------------------------------------------------------------------
// 6: memory
// -----------------------------------------------------------------------------

export interface MemoryMeasure {
  readonly bytesPer: number
  /** How many times the work ran. */
  readonly executions: number
  /** The sum of the values the callers got. */
  readonly results: number
  /** Whether every caller got the value. */
  readonly correct: boolean
}

/**
 * Heap bytes (after GC) per caller of `count` callers held in flight: all on
 * one key (`"waiters"`) or each on its own key (`"keys"`). The instance, the
 * keys and the values exist before the first measure; everything the callers
 * make (fibers included) counts.
 */
export const measureMemory = async (
  implementation: Implementation,
  shape: "waiters" | "keys",
  count: number
): Promise<MemoryMeasure> => {
  const instance = new Instance()
  const gate = new Gate()
  const deferreds = new Map<string, Deferred.Deferred<number>>()
  let arrived = 0
  let executions = 0
  const keys = shape === "waiters" ? new Array<string>(count).fill(freshKeys("m", 1)[0]!) : freshKeys("m", count)
  const environment: Environment = {
    lookup: () =>
      Effect.async<number>((resume) => {
        executions++
        gate.onOpen(() => resume(Effect.succeed(1)))
      }),
    deferredOf: (key) => {
      let deferred = deferreds.get(key)
      if (deferred === undefined) {
        deferred = Deferred.unsafeMake<number>(FiberId.none)
        deferreds.set(key, deferred)
      }
      return deferred
    }
  }
  await instance.open(implementation, environment)
  const caller = (index: number) =>
    Effect.suspend(() => {
      arrived++
      return instance.call(keys[index]!)
    })

  await settle()
  collectGarbage()
  const before = process.memoryUsage().heapUsed
  const exits = launch(count, caller)
  await waitFor(() => arrived === count)
  await settle(10)
  collectGarbage()
  const after = process.memoryUsage().heapUsed

  gate.open()
  for (const deferred of deferreds.values()) Deferred.unsafeDone(deferred, Exit.succeed(1))
  const results = valuesOfExits(await exits)
  await instance.close()
  return {
    bytesPer: (after - before) / count,
    executions,
    results: sumOf(results),
    correct: results.length === count && sumOf(results) === count
  }
}
