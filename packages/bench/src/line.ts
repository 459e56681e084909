/**
 * What a line (effect 3 here, effect 4 in effect4/packages/bench) gives the
 * suite: its implementations and how to put a load on one. Types only and no
 * imports, so that either workspace can type-check its line against them; the
 * sampling, the suite and the report are the same for both lines.
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

/** What the callers of one run (or the held callers of one round) got. */
export interface Outcome {
  /** How many times the work ran. */
  readonly executions: number
  readonly results: number
  readonly expectedResults: number
  readonly sum: number
  readonly expectedSum: number
}

/** A timed task: `run` is timed, the hooks around it are not. */
export interface TimedTask {
  /** Calls per run, to turn a run's time into a per-call cost. */
  readonly callsPerRun: number
  /** Once per round: make the instance and put keys in flight. */
  readonly beforeRound: () => Promise<void>
  /** Before each run: fresh keys (and a fresh instance unless keys are held in flight). */
  readonly beforeEach: () => Promise<void>
  readonly run: () => Promise<void>
  readonly afterEach: () => Promise<Outcome>
  /** Once per round: release the keys in flight; a problem if their callers did not all end. */
  readonly afterRound: () => Promise<string | undefined>
}

/** Callers held in flight, for the memory scenarios: `hold` starts them and returns once all are suspended. */
export interface HeldCallers {
  readonly hold: () => Promise<void>
  readonly release: () => Promise<Outcome>
}

/** A sample of the Redis scenarios: milliseconds per call. */
export interface RedisSamples {
  readonly scenario: string
  readonly implementation: string
  readonly millis: Array<number>
  readonly note?: string | undefined
}

export interface Line {
  /** "effect 3", "effect 4". */
  readonly name: string
  /** The line's bench package (its `package.json` and `node_modules` give the versions). */
  readonly directory: URL
  readonly implementations: Readonly<Record<ImplementationId, Described>>
  readonly timed: (implementation: ImplementationId, load: Load) => TimedTask
  /** An instance with `callers` callers over `keys` keys, made (and its keys chosen) before `hold` is measured. */
  readonly held: (implementation: ImplementationId, keys: number, callers: number) => Promise<HeldCallers>
  readonly redis?: (iterations: number) => Promise<Array<RedisSamples>>
}
