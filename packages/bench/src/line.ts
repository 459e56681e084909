/**
 * What a line (effect 3 in ./effect3.ts, effect 4 in effect4/packages/bench)
 * gives the suite: its implementations, and an instance of one that callers
 * can be started on. No imports, so that either workspace can type-check its
 * line against it; the scenarios, the sampling and the report are shared.
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

/** The work of one execution: it ends with `value`, at once or when `after` calls back. */
export interface Work {
  readonly value: number
  readonly after?: (resume: () => void) => void
}

/** An implementation made in a scope of its own. */
export interface Instance {
  /** Starts a root fiber that calls `key()`, which it evaluates when it starts; `done` gets the value, if any. */
  readonly fork: (key: () => string, done: (value: number | undefined) => void) => void
  /** Calls `keys` one after the other in one run, and resolves with the sum of their values. */
  readonly sequence: (keys: Iterable<string>) => Promise<number>
  /** Completes the Deferred limit's Deferreds with their key's value, 1 when `values` has none. */
  readonly release: (values: ReadonlyMap<string, number>) => void
  readonly close: () => Promise<void>
}

/** Milliseconds per call of one Redis scenario. */
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
  /** `work(key)` runs once per execution; `keys` are the run's keys when known before it (the Deferred limit's). */
  readonly open: (id: ImplementationId, work: (key: string) => Work, keys: ReadonlyArray<string>) => Promise<Instance>
  /** The scale-out scenarios over a real `redis-server`, `iterations` samples a row; fails without redis-server. */
  readonly redis: (iterations: number) => Promise<Array<RedisSamples>>
}
