/**
 * The public wiring: constructors, the app-wide service and its accessors.
 * The engine is in ./group.ts, the options in ./options.ts, the metrics and
 * spans in ./observability.ts.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import type * as SingleFlight from "../SingleFlight.js"
import { GroupImpl, TypeId } from "./group.js"
import * as observability from "./observability.js"
import { resolveOptions } from "./options.js"

/** @internal */
export { InvalidOptionsError, NoCurrentKeyError, ReentrantCallError } from "./errors.js"
/** @internal */
export { TypeId } from "./group.js"
/** @internal */
export { resolveOptions, validateWindow } from "./options.js"

/** @internal */
export const isGroup = (u: unknown): u is SingleFlight.Group<unknown, unknown, unknown> =>
  Predicate.hasProperty(u, TypeId)

const makeImpl = <K>(options?: SingleFlight.Options<K>): Effect.Effect<GroupImpl<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    // an invalid option is thrown, and a throw inside `sync` is a defect
    const resolved = yield* Effect.sync(() => resolveOptions(options))
    const scope = yield* Effect.scope
    const events = resolved.metrics ? observability.withMetrics(resolved.name) : observability.silent
    const group = new GroupImpl<K>(resolved, scope, events)
    yield* Scope.addFinalizer(scope, group.close)
    return group
  })

/** @internal */
export const make = <K, A, E>(
  options?: SingleFlight.Options<NoInfer<K>>
): Effect.Effect<SingleFlight.Group<K, A, E>, never, Scope.Scope> =>
  // The value and error types exist only in the public interface.
  makeImpl<K>(options) as unknown as Effect.Effect<SingleFlight.Group<K, A, E>, never, Scope.Scope>

/** @internal */
export const makeService = (
  options?: SingleFlight.Options
): Effect.Effect<SingleFlight.SingleFlight, never, Scope.Scope> => makeImpl<unknown>(options)

/** @internal */
export const tag = Context.Service<SingleFlight.SingleFlight>("effect-singleflight/SingleFlight")

/** @internal */
export const layerWith = (options?: SingleFlight.Options): Layer.Layer<SingleFlight.SingleFlight> =>
  Layer.effect(tag, makeService(options))

/** @internal */
export const layer: Layer.Layer<SingleFlight.SingleFlight> = layerWith()

/** @internal */
export const call = <A, E, R>(
  key: unknown,
  effect: Effect.Effect<A, E, R>,
  options?: SingleFlight.CallOptions
): Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight.SingleFlight> =>
  Effect.flatMap(tag, (group) => group.call(key, effect, options))

/** @internal */
export const dedupe: {
  (
    key: unknown,
    options?: SingleFlight.CallOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight.SingleFlight>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: unknown,
    options?: SingleFlight.CallOptions
  ): Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight.SingleFlight>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(self: Effect.Effect<A, E, R>, key: unknown, options?: SingleFlight.CallOptions) => call(key, self, options)
)

/** @internal */
export const forget = (key: unknown): Effect.Effect<void, never, SingleFlight.SingleFlight> =>
  Effect.flatMap(tag, (group) => group.forget(key))

/** @internal */
export const currentKey: Effect.Effect<unknown, never, SingleFlight.SingleFlight> = Effect.flatMap(
  tag,
  (group) => group.key
)
