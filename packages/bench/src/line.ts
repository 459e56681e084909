/**
 * What a line (effect 3 in ./effect3.ts, effect 4 in effect4/packages/bench)
 * gives the suite: its implementations, and an instance of one to start
 * callers on. No imports, so that either workspace can type-check its line
 * against it.
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
  /** Starts a root fiber that calls `key()`, evaluated when it starts; `done` gets the value, if any. */
  readonly fork: (key: () => string, done: (value: number | undefined) => void) => void
  /** Calls `keys` one after the other in one run, and resolves with the sum of their values. */
  readonly sequence: (keys: Iterable<string>) => Promise<number>
  readonly close: () => Promise<void>
}

/** A call started as a root fiber, for the Redis scenarios: its value (none if it failed), and how to interrupt it. */
export interface Started {
  readonly done: Promise<number | undefined>
  readonly interrupt: () => Promise<void>
}

/** A group of the Redis scenarios: an in-memory one, or two over one `redis-server` on separate connections. */
export type Group = (key: string, work: Work) => Started
export interface RedisGroups {
  readonly local: Group
  readonly a: Group
  readonly b: Group
  readonly close: () => Promise<void>
}

export interface Line {
  readonly name: "effect 3" | "effect 4"
  /** The line's bench package (its `node_modules` give the versions). */
  readonly directory: URL
  readonly implementations: Readonly<Record<ImplementationId, Described>>
  /** `work(key)` runs once per execution; `keys` are the run's keys when known before it (the Deferred limit's). */
  readonly open: (id: ImplementationId, work: (key: string) => Work, keys: ReadonlyArray<string>) => Promise<Instance>
  /** The groups of the Redis scenarios, over a `redis-server` of their own; fails without redis-server. */
  readonly redis: () => Promise<RedisGroups>
}
