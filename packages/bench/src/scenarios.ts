/**
 * The scenarios on effect 3: each puts a load on an implementation and says
 * what its callers got. Every run uses fresh keys and (unless keys are held in
 * flight for the round) a fresh instance, made outside the timed region, so
 * that nothing can answer from a previous run: `Cache` with a time-to-live of 0
 * still serves a value finished in the same millisecond.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import { implementations } from "./implementations.js"
import type { Call, Implementation } from "./implementations.js"
import { freshKeys, Gate, settle, sum } from "./line.js"
import type { HeldCallers, ImplementationId, Line, Load, Outcome, TimedTask } from "./line.js"
import { measureRedis } from "./redis.js"

/** The work of a key held in flight: it ends, with 1, when `gate` opens. */
const heldWork = (gate: Gate) => Effect.async<number>((resume) => gate.onOpen(() => resume(Effect.succeed(1))))

/** An instance of an implementation in a scope of its own, with the work the scenario gives it. */
class Instance {
  private scope: Scope.CloseableScope | undefined
  call: Call = () => Effect.die("no instance")
  executions = 0
  /** The Deferred limit's, one per key: completed by `release` when the key's work would end. */
  private readonly deferreds = new Map<string, Deferred.Deferred<number>>()

  constructor(readonly implementation: Implementation, readonly work: (key: string) => Effect.Effect<number>) {}

  /** `keys`: the keys of the run when they are known before it, for the Deferred limit to make its Deferreds. */
  async open(keys: ReadonlyArray<string> = []): Promise<void> {
    this.executions = 0
    this.deferreds.clear()
    this.scope = Effect.runSync(Scope.make())
    this.call = await Effect.runPromise(Scope.extend(
      this.implementation.make({
        keys,
        lookup: (key) => Effect.suspend(() => (this.executions++, this.work(key))),
        deferredOf: (key) => {
          let deferred = this.deferreds.get(key)
          if (deferred === undefined) this.deferreds.set(key, deferred = Deferred.unsafeMake<number>(FiberId.none))
          return deferred
        }
      }),
      this.scope
    ))
  }

  /** Ends every Deferred of the Deferred limit with its key's value (1 for a held key). */
  release(values: ReadonlyMap<string, number>): void {
    for (const [key, deferred] of this.deferreds) Deferred.unsafeDone(deferred, Exit.succeed(values.get(key) ?? 1))
  }

  async close(): Promise<void> {
    if (this.scope !== undefined) await Effect.runPromise(Scope.close(this.scope, Exit.void))
    this.scope = undefined
  }
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

/**
 * Starts `count` callers over `keys` (caller `i` takes key `i mod keys.length`) and returns once every one is
 * suspended in flight and `settleMillis` more; `values` resolves when they are released.
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
 * Concurrent callers: caller `i` takes key `i mod keys`, and the work of a key is one macrotask (`setImmediate`) that
 * starts once the last caller arrived, so that no execution ends while callers are still arriving. Sequential calls:
 * one `Effect.runPromise` over fresh keys whose value is ready at once, with the held keys in flight for the round.
 */
const timed = (id: ImplementationId, load: Load): TimedTask => {
  const implementation = implementations[id]
  const concurrent = load._tag === "concurrent"
  const calls = concurrent ? load.callers : load.calls
  const inFlight = concurrent ? 0 : load.inFlight
  let values = new Map<string, number>()
  let keys: Array<string> = []
  let arrived = new Gate()
  let released = new Gate()
  let holders = Promise.resolve<Array<number>>([])
  let results: Array<number> = []
  const instance = new Instance(implementation, (key) => {
    const value = values.get(key)
    if (value === undefined) return heldWork(released)
    return concurrent
      ? Effect.async<number>((resume) => arrived.onOpen(() => setImmediate(() => resume(Effect.succeed(value)))))
      : Effect.sync(() => value)
  })
  const caller = (index: number) =>
    Effect.suspend(() => {
      if (index === calls - 1) arrived.open()
      return instance.call(keys[index % keys.length]!)
    })
  const sequential = Effect.suspend(() =>
    Effect.reduce(values.keys(), 0, (total, key) => Effect.map(instance.call(key), (value) => total + value))
  )
  return {
    callsPerRun: calls,
    // putting many keys in flight is slow: with held keys, the instance lives for the round
    beforeRound: async () => {
      if (inFlight === 0) return
      released = new Gate()
      await instance.open()
      holders = (await hold(instance, [...freshKeys(inFlight).keys()], inFlight, 5)).values
    },
    beforeEach: async () => {
      values = freshKeys(concurrent ? load.keys : calls)
      if (concurrent) {
        keys = [...values.keys()]
        arrived = new Gate()
        await instance.open(keys)
        arrived.onOpen(() => setImmediate(() => instance.release(values)))
      } else if (inFlight === 0) {
        await instance.open()
      } else {
        instance.executions = 0
      }
    },
    run: async () => {
      results = concurrent ? await launch(calls, caller) : [await Effect.runPromise(sequential)]
    },
    afterEach: async () => {
      const expectedSum = concurrent
        ? sum(Array.from({ length: calls }, (_, index) => values.get(keys[index % keys.length]!)!))
        : sum(values.values())
      const outcome = outcomeOf(instance, results, concurrent ? calls : 1, expectedSum)
      if (inFlight === 0) await instance.close()
      return outcome
    },
    afterRound: async () => {
      if (inFlight === 0) return undefined
      released.open()
      instance.release(new Map())
      const ended = (await holders).length
      await instance.close()
      return ended === inFlight ? undefined : `${ended} of ${inFlight} held callers ended`
    }
  }
}

const outcomeOf = (instance: Instance, results: Array<number>, expectedResults: number, expectedSum: number) =>
  ({
    executions: instance.executions,
    results: results.length,
    expectedResults,
    sum: sum(results),
    expectedSum
  }) satisfies Outcome

/** `callers` callers over `keyCount` keys, each suspended until released. */
const held = async (id: ImplementationId, keyCount: number, callers: number): Promise<HeldCallers> => {
  const implementation = implementations[id]
  const released = new Gate()
  const instance = new Instance(implementation, () => heldWork(released))
  const keys = [...freshKeys(keyCount).keys()]
  await instance.open()
  let values = Promise.resolve<Array<number>>([])
  return {
    hold: async () => {
      values = (await hold(instance, keys, callers, 10)).values
    },
    release: async () => {
      released.open()
      instance.release(new Map())
      const outcome = outcomeOf(instance, await values, callers, callers)
      await instance.close()
      return outcome
    }
  }
}

export const line: Line = {
  name: "effect 3",
  directory: new URL("..", import.meta.url),
  implementations,
  timed,
  held,
  redis: measureRedis
}
