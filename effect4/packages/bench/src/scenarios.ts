/**
 * The scenarios: each turns an implementation and a size into a timed task
 * (or a memory measure) and checks what its callers got.
 *
 * Every run uses fresh keys and a fresh instance (made outside the timed
 * region), so that nothing can answer from a previous run: `Cache` with a
 * time-to-live of 0 still serves a value finished in the same millisecond.
 *
 * The effect 4 port of `packages/bench/src/scenarios.ts`: the same scenarios,
 * checks and exports. Effect 4 has no `FiberId` (a `Deferred` is made without
 * one), `Effect.async` is `Effect.callback`, and a scope is given to an effect
 * with `Scope.provide` (effect 3's `Scope.extend`).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { collectGarbage, settle } from "./harness.js"
import type { Task } from "./harness.js"
import type { Call, Environment, Implementation } from "./implementations.js"

/** What the callers of a task got, over all its runs. */
export class Check {
  readonly executions = new Set<number>()
  readonly sums = new Set<number>()
  readonly problems: Array<string> = []

  record(executions: number, sum: number, expected: number, results = 1, expectedResults = 1): void {
    this.executions.add(executions)
    this.sums.add(sum)
    if ((sum !== expected || results !== expectedResults) && this.problems.length < 3) {
      this.problems.push(`${results} results summing to ${sum}, expected ${expectedResults} summing to ${expected}`)
    }
  }
}

/** A timed task and the record of its results. */
export interface Measured {
  readonly task: Task
  readonly check: Check
  /** Calls per run, to turn a run's time into a per-call cost. */
  readonly callsPerRun: number
}

/** Callbacks that run when the gate opens, or at once if it is open. */
class Gate {
  private waiting: Array<() => void> | undefined = []
  onOpen(callback: () => void): void {
    if (this.waiting === undefined) callback()
    else this.waiting.push(callback)
  }
  open(): void {
    const waiting = this.waiting ?? []
    this.waiting = undefined
    for (const callback of waiting) callback()
  }
}

let serial = 0
/** `count` keys never used before in this process, valued 1, 2, 3… */
const freshKeys = (count: number): Map<string, number> => {
  const run = serial++
  return new Map(Array.from({ length: count }, (_, index) => [`${run}:${index}`, index + 1]))
}

const sum = (values: Iterable<number>): number => {
  let total = 0
  for (const value of values) total += value
  return total
}

/**
 * Starts one root fiber per caller, in a plain loop: `Effect.runFork` runs
 * each until its first asynchronous boundary before the next one starts, like
 * requests arriving at a server. (`Effect.forEach` with unbounded concurrency
 * would add its own ~4 KB and tens of microseconds per caller to every
 * implementation alike, and hide what the coalescers cost.)
 */
const launch = (count: number, caller: (index: number) => Effect.Effect<number, unknown>): Promise<Array<number>> =>
  new Promise((resolve) => {
    const values: Array<number> = []
    let remaining = count
    if (count === 0) resolve(values)
    for (let index = 0; index < count; index++) {
      Effect.runFork(caller(index)).addObserver((exit) => {
        if (Exit.isSuccess(exit)) values.push(exit.value)
        if (--remaining === 0) resolve(values)
      })
    }
  })

/** An instance of an implementation in a scope of its own, with the work the scenario gives it. */
class Instance {
  private scope: Scope.Closeable | undefined
  call: Call = () => Effect.die("no instance")
  executions = 0
  readonly deferreds = new Map<string, Deferred.Deferred<number>>()

  constructor(readonly implementation: Implementation, readonly work: (key: string) => Effect.Effect<number>) {}

  async open(): Promise<void> {
    this.executions = 0
    this.deferreds.clear()
    this.scope = Scope.makeUnsafe()
    const environment: Environment = {
      lookup: (key) => Effect.suspend(() => (this.executions++, this.work(key))),
      deferredOf: (key) => {
        let deferred = this.deferreds.get(key)
        if (deferred === undefined) this.deferreds.set(key, deferred = Deferred.makeUnsafe<number>())
        return deferred
      }
    }
    this.call = await Effect.runPromise(Scope.provide(this.implementation.make(environment), this.scope))
  }

  /** Ends every Deferred of the Deferred limit with the key's value. */
  completeDeferreds(values: ReadonlyMap<string, number>): void {
    for (const [key, deferred] of this.deferreds) Deferred.doneUnsafe(deferred, Exit.succeed(values.get(key) ?? 1))
  }

  async close(): Promise<void> {
    if (this.scope !== undefined) await Effect.runPromise(Scope.close(this.scope, Exit.void))
    this.scope = undefined
  }
}

/**
 * `callers` concurrent callers over `keyCount` keys (caller `i` takes key
 * `i mod keyCount`); the work of a key is one macrotask (`setImmediate`) that
 * starts once the last caller arrived, so that no execution ends while callers
 * are still arriving.
 */
export const concurrent = (implementation: Implementation, callers: number, keyCount: number): Measured => {
  const check = new Check()
  let values = new Map<string, number>()
  let keys: Array<string> = []
  let gate = new Gate()
  let results: Array<number> = []
  const later = (value: number) =>
    Effect.callback<number>((resume) => gate.onOpen(() => setImmediate(() => resume(Effect.succeed(value)))))
  const instance = new Instance(implementation, (key) => later(values.get(key)!))
  const caller = (index: number) =>
    Effect.suspend(() => {
      if (index === callers - 1) gate.open()
      return instance.call(keys[index % keyCount]!)
    })
  const task: Task = {
    id: implementation.name,
    beforeEach: async () => {
      values = freshKeys(keyCount)
      keys = [...values.keys()]
      gate = new Gate()
      await instance.open()
      if (implementation.usesDeferreds) {
        for (const key of keys) instance.deferreds.set(key, Deferred.makeUnsafe())
      }
      gate.onOpen(() => setImmediate(() => instance.completeDeferreds(values)))
    },
    run: async () => {
      results = await launch(callers, caller)
    },
    afterEach: async () => {
      const expected = sum(Array.from({ length: callers }, (_, index) => values.get(keys[index % keyCount]!)!))
      check.record(instance.executions, sum(results), expected, results.length, callers)
      await instance.close()
    }
  }
  return { task, check, callsPerRun: callers }
}

/** One run: `calls` sequential calls on the keys of the run, each on a fresh key whose value is ready at once. */
const sequentialRun = (instance: Instance, keys: () => Iterable<string>) =>
  Effect.suspend(() =>
    Effect.reduce(keys(), () => 0, (total, key) => Effect.map(instance.call(key), (value) => total + value))
  )

export const sequential = (implementation: Implementation, calls: number): Measured => {
  const check = new Check()
  let values = new Map<string, number>()
  let result = 0
  const instance = new Instance(implementation, (key) => Effect.sync(() => values.get(key)!))
  const program = sequentialRun(instance, () => values.keys())
  const task: Task = {
    id: implementation.name,
    beforeEach: async () => {
      values = freshKeys(calls)
      await instance.open()
    },
    run: async () => {
      result = await Effect.runPromise(program)
    },
    afterEach: async () => {
      check.record(instance.executions, result, (calls * (calls + 1)) / 2)
      await instance.close()
    }
  }
  return { task, check, callsPerRun: calls }
}

/**
 * With `inFlight` keys held in flight (their callers suspended until the end
 * of the round), `calls` sequential calls on fresh keys whose value is ready
 * at once.
 */
export const scale = (implementation: Implementation, inFlight: number, calls: number): Measured => {
  const check = new Check()
  let held = new Map<string, number>()
  let values = new Map<string, number>()
  let gate = new Gate()
  let holders = { values: Promise.resolve<Array<number>>([]) }
  let result = 0
  const instance = new Instance(implementation, (key) =>
    held.has(key)
      ? Effect.callback<number>((resume) => gate.onOpen(() => resume(Effect.succeed(0))))
      : Effect.sync(() => values.get(key)!))
  const program = sequentialRun(instance, () => values.keys())
  const task: Task = {
    id: implementation.name,
    beforeAll: async () => {
      held = freshKeys(inFlight)
      gate = new Gate()
      await instance.open()
      holders = await hold(instance, [...held.keys()], inFlight, 5)
    },
    beforeEach: () => {
      values = freshKeys(calls)
      instance.executions = 0
    },
    run: async () => {
      result = await Effect.runPromise(program)
    },
    afterEach: () => check.record(instance.executions, result, (calls * (calls + 1)) / 2),
    afterAll: async () => {
      gate.open()
      instance.completeDeferreds(held)
      const released = await holders.values
      if (released.length !== inFlight) check.problems.push(`${released.length} of ${inFlight} held callers ended`)
      await instance.close()
    }
  }
  return { task, check, callsPerRun: calls }
}

/**
 * Starts `count` callers over `keys` (caller `i` takes key `i mod keys.length`), and waits until every one is
 * suspended in flight and `settleMillis` more; `values` has their values once they are released.
 */
const hold = async (instance: Instance, keys: ReadonlyArray<string>, count: number, settleMillis: number) => {
  let arrived = 0
  const values = launch(count, (index) => Effect.suspend(() => (arrived++, instance.call(keys[index % keys.length]!))))
  const deadline = Date.now() + 60_000
  while (arrived < count) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the callers to arrive")
    await settle()
  }
  await settle(settleMillis)
  return { values }
}

/**
 * Heap bytes (after GC) per caller of `count` callers held in flight, all on
 * one key (`"waiters"`) or each on its own key (`"keys"`), measured `repeats`
 * times. The instance and the keys exist before each measure; everything the
 * callers make (fibers included) counts.
 */
export const measureMemory = async (
  implementation: Implementation,
  shape: "waiters" | "keys",
  count: number,
  repeats: number
): Promise<{ readonly bytes: Array<number>; readonly check: Check }> => {
  const check = new Check()
  const bytes: Array<number> = []
  for (let repeat = 0; repeat < repeats; repeat++) {
    const gate = new Gate()
    const instance = new Instance(
      implementation,
      () => Effect.callback<number>((resume) => gate.onOpen(() => resume(Effect.succeed(1))))
    )
    const keys = [...freshKeys(shape === "waiters" ? 1 : count).keys()]
    await instance.open()
    await settle()
    collectGarbage()
    const before = process.memoryUsage().heapUsed
    const held = await hold(instance, keys, count, 10)
    collectGarbage()
    bytes.push((process.memoryUsage().heapUsed - before) / count)
    gate.open()
    instance.completeDeferreds(new Map())
    const values = await held.values
    check.record(instance.executions, sum(values), count, values.length, count)
    await instance.close()
    await settle()
  }
  return { bytes, check }
}
