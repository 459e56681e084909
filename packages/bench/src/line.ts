/**
 * What a line (effect 3 here, effect 4 in effect4/packages/bench) gives the
 * suite: its implementations and how to put a load on one, and the plain
 * helpers both lines' scenarios use. No imports, so that either workspace can
 * type-check its line against it; the sampling, the suite and the report are
 * the same for both lines.
 */

/** `subject`: effect-singleflight; `limit`: a floor made of the same primitives, no registry; `peer`: an alternative. */
export type Role = "subject" | "limit" | "peer"

export interface Described {
  readonly name: string
  readonly role: Role
  /** Where its semantics are weaker than the subject's, so that speed is never compared without correctness. */
  readonly semantics: string
}

/** The implementations every line measures, under the names the suite's sections and targets use. */
export type ImplementationId =
  | "subject"
  | "metricsOff"
  | "traced"
  | "deferred"
  | "noCoalescing"
  | "forkJoin"
  | "promiseCoalesce"
  | "cache"
  | "rcMap"
  | "refHashMap"
  | "designRegistry"

/**
 * `callers` concurrent callers over `keys` keys, whose work ends one macrotask after the last caller arrived; or
 * `calls` sequential calls on fresh keys whose value is ready at once, with `inFlight` other keys held in flight.
 */
export type Load =
  | { readonly _tag: "concurrent"; readonly callers: number; readonly keys: number }
  | { readonly _tag: "sequential"; readonly calls: number; readonly inFlight: number }

/** What the callers of one run got: how many values, summing to what, and how many times the work ran. */
export interface Outcome {
  readonly executions: number
  readonly results: number
  readonly expectedResults: number
  readonly sum: number
  readonly expectedSum: number
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

/** Samples of one Redis scenario: milliseconds per call. */
export interface RedisSamples {
  readonly scenario: string
  readonly implementation: string
  readonly millis: Array<number>
  readonly note?: string | undefined
}

export interface Line {
  readonly name: "effect 3" | "effect 4"
  /** The line's bench package (its `package.json` and `node_modules` give the versions). */
  readonly directory: URL
  readonly implementations: Readonly<Record<ImplementationId, Described>>
  readonly timed: (implementation: ImplementationId, load: Load) => TimedTask
  /** An instance with `callers` callers over `keys` keys, made (and its keys chosen) before `hold` is measured. */
  readonly held: (implementation: ImplementationId, keys: number, callers: number) => Promise<HeldCallers>
  /** The scale-out scenarios over a real `redis-server`, `iterations` samples a row; fails without redis-server. */
  readonly redis: (iterations: number) => Promise<Array<RedisSamples>>
}

/** Callbacks that run when the gate opens, or at once if it is open. */
export class Gate {
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
export const freshKeys = (count: number): Map<string, number> => {
  const run = serial++
  return new Map(Array.from({ length: count }, (_, index) => [`${run}:${index}`, index + 1]))
}

export const sum = (values: Iterable<number>): number => {
  let total = 0
  for (const value of values) total += value
  return total
}

/** Resolves after the current macrotask and the timers due by then. */
export const settle = (millis = 0): Promise<void> =>
  new Promise((resolve) => setTimeout(() => setImmediate(resolve), millis))
