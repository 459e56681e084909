/**
 * Everything the scenarios measure, behind one shape: given the work of a key
 * (`lookup`), make, in a `Scope`, a `call(key)` that returns the key's value.
 * A scenario never knows which one it runs.
 *
 * The effect 4 port of `packages/bench/src/implementations.ts`: the same
 * names, shapes and designs, on effect 4.1. Where a peer of effect 4 behaves
 * differently from its effect 3 namesake, its `semantics` says so.
 */
import { SingleFlight } from "effect-singleflight"
import * as Cache from "effect/Cache"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as RcMap from "effect/RcMap"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { coalesceAsync } from "promise-coalesce"
import type { Described, ImplementationId, Work } from "../../../../packages/bench/src/line.js"

/** One caller's request for a key. Errors are `unknown` because a peer (promise-coalesce) loses their type. */
export type Call = (key: string) => Effect.Effect<number, unknown>

export interface Environment {
  /** The work of one key, as an effect (benchmark work never fails) and as the scenario gives it. */
  readonly lookup: (key: string) => Effect.Effect<number>
  readonly work: (key: string) => Work
  /** The keys of the run, when the scenario knows them before it starts. */
  readonly keys: ReadonlyArray<string>
}

export interface Implementation extends Described {
  readonly make: (environment: Environment) => Effect.Effect<Call, never, Scope.Scope>
}

const subject = (options: SingleFlight.Options<string> = {}) => ({ lookup }: Environment) =>
  Effect.map(SingleFlight.make<string, number>(options), (group) => (key: string) => group.call(key, lookup(key)))

export const singleFlight: Implementation = {
  name: "effect-singleflight",
  role: "subject",
  semantics: "The work runs in its own fiber with the first caller's context; a caller that is interrupted leaves " +
    "alone, the work is interrupted only when its last caller leaves; typed errors; exactly one execution per key " +
    "at any instant.",
  make: subject()
}

export const singleFlightUnobserved: Implementation = {
  name: "effect-singleflight, metrics off",
  role: "limit",
  semantics: "The subject made with `metrics: false`, no tracer installed: no span, no metric update.",
  make: subject({ metrics: false })
}

export const singleFlightTraced: Implementation = {
  name: "effect-singleflight, tracer installed",
  role: "limit",
  semantics: "The subject with a tracer other than Effect's built-in one installed (`Effect.withTracer` around each " +
    "call, whose own cost is included): every call makes a span, every execution another.",
  // a tracer other than Effect's built-in one, as an OpenTelemetry set-up installs: the group then makes spans (the
  // effect 4 line tells the two apart by identity with `Tracer.nativeTracer`, as the effect 3 line does)
  make: (environment) =>
    Effect.zipWith(subject()(environment), Effect.tracer, (call, native) => {
      const tracer = Tracer.make({ span: native.span, context: native.context })
      return (key: string) => Effect.withTracer(call(key), tracer)
    })
}

export const deferredLimit: Implementation = {
  name: "limit: fibers awaiting a Deferred",
  role: "limit",
  semantics: "Not a coalescer: one Deferred per key, made beforehand and completed when the key's work ends, " +
    "without a fiber. No registry, no work fiber: the floor of any design in which waiters await a Deferred.",
  // its Deferreds are made here, before the timed run, when the keys are known
  make: ({ keys, work }) =>
    Effect.sync(() => {
      const deferreds = new Map<string, Deferred.Deferred<number>>()
      const deferredOf = (key: string) => {
        const known = deferreds.get(key)
        if (known !== undefined) return known
        const [deferred, { after, value }] = [Deferred.makeUnsafe<number>(), work(key)]
        deferreds.set(key, deferred)
        const complete = () => Deferred.doneUnsafe(deferred, Exit.succeed(value))
        if (after === undefined) complete()
        else after(complete)
        return deferred
      }
      for (const key of keys) deferredOf(key)
      return (key: string) => Deferred.await(deferredOf(key))
    })
}

export const noCoalescingLimit: Implementation = {
  name: "limit: each caller runs its own work",
  role: "limit",
  semantics: "Not a coalescer: every caller runs the work itself, on its own fiber.",
  make: ({ lookup }) => Effect.succeed(lookup)
}

export const forkJoinLimit: Implementation = {
  name: "limit: one fork + join per call",
  role: "limit",
  semantics: "Not a coalescer: every caller forks the work and joins it, the least a design that runs the work on a " +
    "fiber of its own pays per execution.",
  // `forkChild` is effect 3's `fork`: a child of the caller, scheduled for a later tick
  make: ({ lookup }) => Effect.succeed((key: string) => Effect.flatMap(Effect.forkChild(lookup(key)), Fiber.join))
}

export const promiseCoalescePeer: Implementation = {
  name: "promise-coalesce from Effect",
  role: "peer",
  semantics: "The work runs detached through `Effect.runPromise`: it loses the caller's services and references, is " +
    "never interrupted (an interrupted caller stops waiting, the work runs on), and its error is untyped " +
    "(`UnknownError`).",
  make: ({ lookup }) =>
    Effect.succeed((key: string) => Effect.tryPromise(() => coalesceAsync(key, () => Effect.runPromise(lookup(key)))))
}

export const cachePeer: Implementation = {
  name: "Cache, time-to-live 0",
  role: "peer",
  semantics: "Unlike effect 3's, effect 4's `Cache` runs the lookup on a fiber of its own (with the first caller's " +
    "context) and interrupts it when its last waiter leaves, so a caller's interruption is its own. One fixed " +
    "lookup per cache. A time-to-live of 0 drops the entry as the lookup ends, so (unlike effect 3's) it never " +
    "serves a finished value; the scenarios use fresh keys all the same.",
  make: ({ lookup }) =>
    Effect.map(
      Cache.make({ capacity: Number.MAX_SAFE_INTEGER, timeToLive: 0, lookup }),
      (cache) => (key: string) => Cache.get(cache, key)
    )
}

export const rcMapPeer: Implementation = {
  name: "RcMap.get in Effect.scoped",
  role: "peer",
  semantics: "Cancellation is right (the lookup is interrupted when its last user leaves), but there is one fixed " +
    "lookup per map and every caller needs a Scope of its own. Unlike effect 3's, effect 4's `RcMap.get` registers " +
    "its entry at once (no semaphore), so callers that arrive in the same tick are coalesced; the lookup runs on a " +
    "fiber of its own with the map's context and the first caller's.",
  make: ({ lookup }) => Effect.map(RcMap.make({ lookup }), (map) => (key: string) => Effect.scoped(RcMap.get(map, key)))
}

/** What a user would write in an afternoon: `Ref.modify` over a `HashMap` of `Deferred`s, the work on the first caller. */
export const refHashMapPeer: Implementation = {
  name: "Ref<HashMap> + Deferred",
  role: "peer",
  semantics: "The work runs on the first caller's fiber: interrupting that caller interrupts every waiter, and the " +
    "work sees only the first caller's context. No re-entry detection, no abandonment policy.",
  make: ({ lookup }) =>
    Effect.map(
      Ref.make(HashMap.empty<string, Deferred.Deferred<number>>()),
      (ref) => (key: string) =>
        Effect.flatMap(Deferred.make<number>(), (mine) =>
          Effect.flatten(Ref.modify(ref, (map) => {
            const existing = HashMap.get(map, key)
            if (Option.isSome(existing)) return [Deferred.await(existing.value), map] as const
            const run = lookup(key).pipe(
              Effect.onExit((exit) => Effect.andThen(Ref.update(ref, HashMap.remove(key)), Deferred.done(mine, exit)))
            )
            return [run, HashMap.set(map, key, mine)] as const
          })))
    )
}

/**
 * The registry the original design names, `Ref<HashMap<K, Deferred<A, E>>>`,
 * with the work forked into the group's scope so that it keeps the contract's
 * core: the work runs on a fiber of its own (a caller's interruption is its
 * own, point 5), in the group's lifetime (closing interrupts it, point 10),
 * and the entry is registered and the work forked in one uninterruptible
 * region, so that no registered entry lacks a fiber. It does not interrupt
 * abandoned work (point 6: it runs to completion).
 */
export const designRegistry: Implementation = {
  name: "Ref<HashMap<K, Deferred>>, work forked in scope (the original design)",
  role: "peer",
  semantics: "The original design's registry made to keep the contract where it can: the work is forked into the " +
    "group's scope (its own fiber, closed with the group), registration and fork happen under one mask, waiters " +
    "await the Deferred and leave alone. Abandoned work runs to completion; no re-entry detection, no current key.",
  make: ({ lookup }) =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const ref = yield* Ref.make(HashMap.empty<string, Deferred.Deferred<number>>())
      // by identity: the entry is removed only if it is still this execution's
      const remove = (key: string, mine: Deferred.Deferred<number>) =>
        Ref.update(ref, (map) => {
          const current = HashMap.get(map, key)
          return Option.isSome(current) && current.value === mine ? HashMap.remove(map, key) : map
        })
      return (key: string) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(Deferred.make<number>(), (mine) =>
            Effect.flatMap(
              Ref.modify(ref, (map) => {
                const existing = HashMap.get(map, key)
                return Option.isSome(existing) ? [existing.value, map] : [mine, HashMap.set(map, key, mine)]
              }),
              (deferred) => {
                const wait = restore(Deferred.await(deferred))
                if (deferred !== mine) return wait
                // The fiber's observer, not the work's `onExit`: a fiber interrupted before it starts runs nothing.
                // Effect 4 forks interruptible by default (effect 3 inherits the mask, hence its `interruptible`).
                const work = Effect.ensuring(lookup(key), remove(key, mine))
                return Effect.flatMap(Effect.forkIn(work, scope), (fiber) => {
                  fiber.addObserver((exit) => Deferred.doneUnsafe(mine, exit))
                  return wait
                })
              }
            ))
        )
    })
}

/** Every implementation, in the order of the report (whose semantics it lists). */
export const implementations: Record<ImplementationId, Implementation> = {
  subject: singleFlight,
  deferred: deferredLimit,
  noCoalescing: noCoalescingLimit,
  forkJoin: forkJoinLimit,
  promiseCoalesce: promiseCoalescePeer,
  cache: cachePeer,
  rcMap: rcMapPeer,
  refHashMap: refHashMapPeer,
  designRegistry,
  metricsOff: singleFlightUnobserved,
  traced: singleFlightTraced
}
