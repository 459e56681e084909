/**
 * Everything the scenarios measure, behind one shape: given the work of a key
 * (`lookup`), make, in a `Scope`, a `call(key)` that returns the key's value.
 *
 * The subject, the limits and the peers all go through this shape, so a
 * scenario never knows which one it runs.
 */
import { SingleFlight } from "effect-singleflight"
import * as Cache from "effect/Cache"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as RcMap from "effect/RcMap"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { coalesceAsync } from "promise-coalesce"

/** The work of one key. Benchmark work never fails. */
export type Lookup = (key: string) => Effect.Effect<number>

/** One caller's request for a key. Errors are `unknown` because a peer (promise-coalesce) loses their type. */
export type Call = (key: string) => Effect.Effect<number, unknown>

/**
 * - `subject`: effect-singleflight;
 * - `limit`: what the subject cannot beat (a floor made of the same Effect primitives, no registry);
 * - `peer`: another way to coalesce calls that a user could pick instead.
 */
export type Role = "subject" | "limit" | "peer"

/** What a scenario offers to an implementation besides the work. */
export interface Environment {
  readonly lookup: Lookup
  /**
   * The `Deferred` of a key, made by the scenario before the callers start and
   * completed by it when the key's work would end. Only the Deferred limit uses it.
   */
  readonly deferredOf: (key: string) => Deferred.Deferred<number>
}

export interface Implementation {
  readonly id: string
  readonly name: string
  readonly role: Role
  /** Where its semantics are weaker than the subject's, so that speed is never compared without correctness. */
  readonly semantics: string
  readonly make: (environment: Environment) => Effect.Effect<Call, never, Scope.Scope>
}

// -----------------------------------------------------------------------------
// the subject
// -----------------------------------------------------------------------------

export const singleFlight: Implementation = {
  id: "singleflight",
  name: "effect-singleflight",
  role: "subject",
  semantics: "The work runs in its own fiber with the first caller's context; a caller that is interrupted leaves " +
    "alone, the work is interrupted only when its last caller leaves; typed errors; exactly one execution per key " +
    "at any instant.",
  make: ({ lookup }) =>
    Effect.map(SingleFlight.make<string, number>(), (group) => (key: string) => group.call(key, lookup(key)))
}

/** A tracer other than Effect's built-in one, as an OpenTelemetry set-up installs: the group then makes spans. */
const installedTracer = Effect.map(
  Effect.tracer,
  (native) => Tracer.make({ span: native.span, context: native.context })
)

/** The subject with its metrics off and no tracer installed: the baseline of the observability section. */
export const singleFlightUnobserved: Implementation = {
  id: "singleflight-unobserved",
  name: "effect-singleflight, metrics off",
  role: "limit",
  semantics: "The subject made with `metrics: false`, no tracer installed: no span, no metric update.",
  make: ({ lookup }) =>
    Effect.map(
      SingleFlight.make<string, number>({ metrics: false }),
      (group) => (key: string) => group.call(key, lookup(key))
    )
}

/** The subject with a tracer installed around every call, so that it makes its call and execution spans. */
export const singleFlightTraced: Implementation = {
  id: "singleflight-traced",
  name: "effect-singleflight, tracer installed",
  role: "limit",
  semantics: "The subject with a tracer other than Effect's built-in one installed (`Effect.withTracer` around each " +
    "call, whose own cost is included): every call makes a span, every execution another.",
  make: ({ lookup }) =>
    Effect.zipWith(
      SingleFlight.make<string, number>(),
      installedTracer,
      (group, tracer) => (key: string) => group.call(key, lookup(key)).pipe(Effect.withTracer(tracer))
    )
}

// -----------------------------------------------------------------------------
// limits
// -----------------------------------------------------------------------------

export const deferredLimit: Implementation = {
  id: "deferred",
  name: "limit: fibers awaiting a Deferred",
  role: "limit",
  semantics: "Not a coalescer: one Deferred per key, made beforehand and completed by the scenario when the work " +
    "would end. No registry, no work fiber: the floor of any design in which waiters await a Deferred.",
  make: ({ deferredOf }) => Effect.succeed((key: string) => Deferred.await(deferredOf(key)))
}

export const noCoalescingLimit: Implementation = {
  id: "no-coalescing",
  name: "limit: each caller runs its own work",
  role: "limit",
  semantics: "Not a coalescer: every caller runs the work itself, on its own fiber.",
  make: ({ lookup }) => Effect.succeed(lookup)
}

export const forkJoinLimit: Implementation = {
  id: "fork-join",
  name: "limit: one fork + join per call",
  role: "limit",
  semantics: "Not a coalescer: every caller forks the work and joins it, the least a design that runs the work on a " +
    "fiber of its own pays per execution.",
  make: ({ lookup }) => Effect.succeed((key: string) => Effect.flatMap(Effect.fork(lookup(key)), Fiber.join))
}

// -----------------------------------------------------------------------------
// peers
// -----------------------------------------------------------------------------

export const promiseCoalescePeer: Implementation = {
  id: "promise-coalesce",
  name: "promise-coalesce from Effect",
  role: "peer",
  semantics: "The work runs detached through `Effect.runPromise`: it loses the caller's services and FiberRefs, is " +
    "never interrupted (an interrupted caller stops waiting, the work runs on), and its error is untyped " +
    "(`UnknownException`).",
  make: ({ lookup }) =>
    Effect.succeed((key: string) => Effect.tryPromise(() => coalesceAsync(key, () => Effect.runPromise(lookup(key)))))
}

export const cachePeer: Implementation = {
  id: "cache",
  name: "Cache, time-to-live 0",
  role: "peer",
  semantics: "The lookup runs on the first caller's fiber: interrupting that caller interrupts every waiter. One " +
    "fixed lookup per cache. Expiry is `now > expiry` in milliseconds, so a time-to-live of 0 still serves a " +
    "finished value to callers in the same millisecond (the scenarios use fresh keys so that it cannot).",
  make: ({ lookup }) =>
    Effect.map(
      Cache.make({ capacity: Number.MAX_SAFE_INTEGER, timeToLive: 0, lookup }),
      (cache) => (key: string) => cache.get(key)
    )
}

export const rcMapPeer: Implementation = {
  id: "rcmap",
  name: "RcMap.get in Effect.scoped",
  role: "peer",
  semantics: "Cancellation is right (the lookup is released when its last user leaves), but there is one fixed " +
    "lookup per map and every caller needs a Scope of its own. Callers that arrive in the same tick are not " +
    "coalesced: `RcMap.get` registers its entry only after a scheduler hop (its semaphore yields even when free), " +
    "so each of them runs the lookup (see the executions columns).",
  make: ({ lookup }) => Effect.map(RcMap.make({ lookup }), (map) => (key: string) => Effect.scoped(RcMap.get(map, key)))
}

/**
 * What a user would write in an afternoon: a `Ref<HashMap>` of `Deferred`s,
 * changed with `Ref.modify`, the work run on the first caller's fiber.
 */
const makeRefHashMap = ({ lookup }: Environment): Effect.Effect<Call> =>
  Effect.map(
    Ref.make(HashMap.empty<string, Deferred.Deferred<number>>()),
    (ref) => (key: string) =>
      Effect.flatMap(Deferred.make<number>(), (mine) =>
        Effect.flatten(Ref.modify(ref, (map) => {
          const existing = HashMap.get(map, key)
          if (Option.isSome(existing)) return [Deferred.await(existing.value), map] as const
          const run = lookup(key).pipe(
            Effect.onExit((exit) => Effect.zipRight(Ref.update(ref, HashMap.remove(key)), Deferred.done(mine, exit)))
          )
          return [run, HashMap.set(map, key, mine)] as const
        })))
  )

export const refHashMapPeer: Implementation = {
  id: "ref-hashmap",
  name: "Ref<HashMap> + Deferred",
  role: "peer",
  semantics: "The work runs on the first caller's fiber: interrupting that caller interrupts every waiter, and the " +
    "work sees only the first caller's context. No re-entry detection, no abandonment policy.",
  make: makeRefHashMap
}

export const peers: ReadonlyArray<Implementation> = [promiseCoalescePeer, cachePeer, rcMapPeer, refHashMapPeer]

/** Peers built on Effect's own data types: the "ahead of every Effect peer" is measured against these. */
export const effectPeers: ReadonlyArray<Implementation> = [cachePeer, rcMapPeer, refHashMapPeer]
