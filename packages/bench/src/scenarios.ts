/**
 * The scenarios, the same for both lines: each puts a load on an instance of
 * an implementation and checks what its callers got. Every run uses fresh keys
 * and (unless keys are held in flight for the round) a fresh instance, made
 * outside the timed region, so that nothing can answer from a previous run:
 * `Cache` with a time-to-live of 0 still serves a value finished in the same
 * millisecond.
 */
import type { ImplementationId, Instance, Line, Work } from "./line.js"

/**
 * `callers` concurrent callers over `keys` keys, whose work ends one macrotask after the last caller arrived; or
 * `calls` sequential calls on fresh keys whose value is ready at once, with `inFlight` other keys held in flight.
 */
export type Load =
  | { readonly _tag: "concurrent"; readonly callers: number; readonly keys: number }
  | { readonly _tag: "sequential"; readonly calls: number; readonly inFlight: number }

/** How many times the work ran in one run, and what was wrong with the values its callers got, if anything. */
export interface Outcome {
  readonly executions: number
  readonly problem?: string | undefined
}

/** Only `run` is timed; `afterRound` releases the keys held in flight, with a problem if their callers did not end. */
export interface TimedTask {
  /** Calls per run, to turn a run's time into a per-call cost. */
  readonly callsPerRun: number
  readonly beforeRound: () => Promise<void>
  readonly beforeEach: () => Promise<void>
  readonly run: () => Promise<void>
  readonly afterEach: () => Promise<Outcome>
  readonly afterRound: () => Promise<string | undefined>
}

/** Callers held in flight, for the memory scenarios: `hold` starts them and returns once all are suspended. */
export interface HeldCallers {
  readonly hold: () => Promise<void>
  readonly release: () => Promise<Outcome>
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

/** Resolves after the current macrotask and the timers due by then. */
export const settle = (millis = 0): Promise<void> =>
  new Promise((resolve) => setTimeout(() => setImmediate(resolve), millis))

const outcome = (executions: number, values: ReadonlyArray<number>, expected: ReadonlyArray<number>): Outcome => {
  const [got, want] = [values, expected].map((all) => all.reduce((total, value) => total + value, 0))
  return values.length === expected.length && got === want
    ? { executions }
    : { executions, problem: `${values.length} values summing to ${got}, not ${want}` }
}

/** Work held in flight: it ends with 1 when `gate` opens. */
const heldWork = (gate: Gate): Work => ({ value: 1, after: (resume) => gate.onOpen(resume) })

/**
 * Starts one root fiber per caller, in a plain loop: each runs until its first asynchronous boundary before the
 * next one starts, like requests arriving at a server. (`Effect.forEach` with unbounded concurrency would add its
 * own ~4 KB and tens of microseconds per caller to every implementation alike, and hide what the coalescers cost.)
 */
const launch = (instance: Instance, count: number, key: (index: number) => string): Promise<Array<number>> =>
  new Promise((resolve) => {
    const values: Array<number> = []
    let remaining = count
    if (count === 0) resolve(values)
    for (let index = 0; index < count; index++) {
      instance.fork(() => key(index), (value) => {
        if (value !== undefined) values.push(value)
        if (--remaining === 0) resolve(values)
      })
    }
  })

/** Starts `count` callers over `keys`, and returns their values once every one has started, and `millis` more. */
const hold = async (instance: Instance, keys: ReadonlyArray<string>, count: number, millis: number) => {
  let started = 0
  const values = launch(instance, count, (index) => (started++, keys[index % keys.length]!))
  const deadline = Date.now() + 60_000
  while (started < count) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the callers to start")
    await settle()
  }
  await settle(millis)
  return { values }
}

/**
 * Concurrent callers: caller `i` takes key `i mod keys`, and the work of a key is one macrotask (`setImmediate`)
 * that starts once the last caller arrived, so that no execution ends while callers are still arriving. Sequential
 * calls: one run over fresh keys whose value is ready at once, with the held keys in flight for the round (putting
 * many keys in flight is slow: with held keys, one instance lives for the round).
 */
export const timed = (line: Line, id: ImplementationId, load: Load): TimedTask => {
  const concurrent = load._tag === "concurrent"
  const calls = concurrent ? load.callers : load.calls
  const inFlight = concurrent ? 0 : load.inFlight
  let [values, keys, arrived, released] = [new Map<string, number>(), new Array<string>(), new Gate(), new Gate()]
  let [executions, results, holders] = [0, new Array<number>(), Promise.resolve(new Array<number>())]
  let instance: Instance | undefined
  const work = (key: string): Work => {
    executions++
    const value = values.get(key)
    if (value === undefined) return heldWork(released)
    return concurrent ? { value, after: (resume) => arrived.onOpen(() => setImmediate(resume)) } : { value }
  }
  const open = async (runKeys: ReadonlyArray<string>) => {
    executions = 0
    return instance = await line.open(id, work, runKeys)
  }
  const close = async () => {
    await instance?.close()
    instance = undefined
  }
  return {
    callsPerRun: calls,
    beforeRound: async () => {
      if (inFlight === 0) return
      released = new Gate()
      holders = (await hold(await open([]), [...freshKeys(inFlight).keys()], inFlight, 5)).values
    },
    beforeEach: async () => {
      values = freshKeys(concurrent ? load.keys : calls)
      keys = [...values.keys()]
      arrived = new Gate()
      if (inFlight === 0) await open(concurrent ? keys : [])
      else executions = 0
    },
    run: async () => {
      const current = instance
      if (current === undefined) throw new Error("no instance open")
      results = concurrent
        ? await launch(current, calls, (index) => {
          if (index === calls - 1) arrived.open()
          return keys[index % keys.length]!
        })
        : [await current.sequence(keys)]
    },
    afterEach: async () => {
      const expected = concurrent
        ? Array.from({ length: calls }, (_, index) => values.get(keys[index % keys.length]!)!)
        : [[...values.values()].reduce((total, value) => total + value, 0)]
      const result = outcome(executions, results, expected)
      if (inFlight === 0) await close()
      return result
    },
    afterRound: async () => {
      if (inFlight === 0) return undefined
      released.open()
      const ended = (await holders).length
      await close()
      return ended === inFlight ? undefined : `${ended} of ${inFlight} held callers ended`
    }
  }
}

/** `callers` callers over `keyCount` keys, each suspended until released. */
export const held = async (line: Line, id: ImplementationId, keyCount: number, callers: number) => {
  const released = new Gate()
  const keys = [...freshKeys(keyCount).keys()]
  let executions = 0
  const instance = await line.open(id, () => (executions++, heldWork(released)), [])
  let values = Promise.resolve(new Array<number>())
  return {
    hold: async () => {
      values = (await hold(instance, keys, callers, 10)).values
    },
    release: async () => {
      released.open()
      const result = outcome(executions, await values, new Array<number>(callers).fill(1))
      await instance.close()
      return result
    }
  } satisfies HeldCallers
}
