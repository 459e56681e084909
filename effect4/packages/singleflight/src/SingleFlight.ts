/**
 * Call coalescing ("singleflight") for Effect 4: concurrent callers of the same
 * key share one execution of the work, and every one of them gets its `Exit`.
 *
 * Two ways in:
 *
 * - the app-wide `SingleFlight` service, provided by {@link layer}, used
 *   through {@link call}, {@link dedupe}, {@link forget} and
 *   {@link currentKey}; the result type comes from the effect at each call;
 * - a typed {@link Group} made with {@link make}, like Go's `Caller[K, V]`.
 *
 * Keys compare with `Equal`/`Hash`: strings, numbers, plain objects and
 * arrays all compare by value (effect 4's structural equality), so
 * `{ id: 1 }` and another `{ id: 1 }` are the same key.
 *
 * @since 1.0.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import type * as Types from "effect/Types"
import * as internal from "./internal/singleFlight.js"

/**
 * @since 1.0.0
 * @category type ids
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const program = Effect.gen(function*() {
 *   const group = yield* SingleFlight.make<string, number>()
 *   return SingleFlight.TypeId in group // true
 * }).pipe(Effect.scoped)
 * ```
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * @since 1.0.0
 * @category type ids
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * const id: SingleFlight.TypeId = SingleFlight.TypeId
 * ```
 */
export type TypeId = typeof TypeId

/**
 * What happens to the shared work when its last waiter leaves (is interrupted
 * or times out):
 *
 * - `"interrupt"` (default): the work is interrupted and its finalizers run;
 *   the last waiter's interruption waits for them. A newcomer for the same key
 *   waits until they are done, then starts a fresh execution, so at most one
 *   execution per key runs at any instant.
 * - `"interruptInBackground"`: the work is forgotten and interrupted in the
 *   background; neither the last waiter nor a newcomer waits for its
 *   finalizers, so a newcomer's execution may overlap them.
 * - `"runToCompletion"`: the work keeps running (to warm a cache, say);
 *   newcomers join it.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * // keep warming the cache even when every caller has gone
 * const policy: SingleFlight.AbandonPolicy = "runToCompletion"
 * const SingleFlightLive = SingleFlight.layerWith({ whenAbandoned: policy })
 * ```
 */
export type AbandonPolicy = "interrupt" | "interruptInBackground" | "runToCompletion"

/**
 * Options of a group, validated when it is made: an invalid option is a
 * defect with an {@link InvalidOptionsError}.
 *
 * - `name`: the group's name in spans (`singleflight.group`) and metrics
 *   (attribute `singleflight_group`, see `SingleFlightMetrics`); default
 *   `"default"`.
 * - `metrics`: whether the group updates the metrics of `SingleFlightMetrics`;
 *   default `true`.
 * - `keyAttribute`: whether spans carry the key (`singleflight.key`). Keys
 *   can hold personal data, so this is off by default; `true` renders strings
 *   as they are and other keys as compact JSON, a function renders
 *   the key as you choose (hash it, truncate it).
 * - `whenAbandoned`: see {@link AbandonPolicy}; default `"interrupt"`.
 * - `reuseSuccessFor`: after a success, later callers of the same key get the
 *   same value for this long without running the work again. Default zero
 *   (off). Failures, defects and interruptions are never reused.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * const options: SingleFlight.Options = {
 *   whenAbandoned: "runToCompletion",
 *   reuseSuccessFor: "100 millis"
 * }
 * ```
 */
export interface Options<K = unknown> {
  readonly name?: string | undefined
  readonly metrics?: boolean | undefined
  readonly keyAttribute?: boolean | ((key: K) => string) | undefined
  readonly whenAbandoned?: AbandonPolicy | undefined
  readonly reuseSuccessFor?: Duration.Input | undefined
}

/**
 * Options of one call. `whenAbandoned` applies when this call starts the
 * execution; a call that joins a running one follows the policy it was
 * started with.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * const warmUp: SingleFlight.CallOptions = { whenAbandoned: "runToCompletion" }
 * ```
 */
export interface CallOptions {
  readonly whenAbandoned?: AbandonPolicy | undefined
}

/**
 * Counters of a group since it was made, and the executions running now.
 *
 * - `calls`: every call;
 * - `executions`: calls that started the work;
 * - `joined`: calls that joined a running execution;
 * - `reused`: calls answered from a reused success (`reuseSuccessFor`);
 * - `abandoned`: executions interrupted because every waiter left;
 * - `running`: executions running now, forgotten ones included.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const report = (group: SingleFlight.Group<string, number, never>) =>
 *   Effect.map(group.stats, (stats) => `${stats.joined} of ${stats.calls} calls were shared`)
 * ```
 */
export interface Stats {
  readonly calls: number
  readonly executions: number
  readonly joined: number
  readonly reused: number
  readonly abandoned: number
  readonly running: number
}

/**
 * A typed coalescing group, the Effect counterpart of Go's
 * `singleflight.Caller[K, V]`: concurrent `call`s with `Equal` keys share one
 * execution of the work of the first of them, and all get its `Exit`.
 *
 * The work runs in a fiber of its own, with the context (services and
 * references) of the caller that started it and with its own `Scope`. The key must therefore
 * capture everything that changes the result.
 *
 * Made with {@link make}, in a `Scope`: closing it interrupts every execution.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const program = Effect.gen(function*() {
 *   const group = yield* SingleFlight.make<string, number, never>()
 *   const lookup = Effect.map(group.key, (name) => name.length)
 *   return yield* Effect.all([group.call("ada", lookup), group.call("ada", lookup)], {
 *     concurrency: "unbounded"
 *   })
 * }).pipe(Effect.scoped)
 * ```
 */
export interface Group<in out K, in out A, in out E> extends Pipeable {
  readonly [TypeId]: Group.Variance<K, A, E>
  /**
   * Runs `effect` for `key`, or joins the execution already running for an
   * `Equal` key. A re-entrant call (from inside the work of the same key) dies
   * with a {@link ReentrantCallError}; a call after the group closed is
   * interrupted.
   */
  call<R>(key: K, effect: Effect.Effect<A, E, R>, options?: CallOptions): Effect.Effect<A, E, Exclude<R, Scope.Scope>>
  /**
   * Callers after this start a fresh execution. Callers already waiting get
   * the result of the old one, which can no longer evict the new one.
   */
  forget(key: K): Effect.Effect<void>
  /**
   * The key of the innermost call of this group whose work is running on the
   * current fiber. Dies with a {@link NoCurrentKeyError} outside such work.
   */
  readonly key: Effect.Effect<K>
  /** The number of keys with an execution in flight. */
  readonly size: Effect.Effect<number>
  /** The number of callers waiting for the execution of `key` (0 if none). */
  waiters(key: K): Effect.Effect<number>
  /** See {@link Stats}. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * // the helper types of a group live in this namespace
 * type CustomerVariance = SingleFlight.Group.Variance<string, number, never>
 * ```
 */
export declare namespace Group {
  /**
   * @since 1.0.0
   * @category models
   * @example
   * ```ts
   * import { SingleFlight } from "effect-singleflight"
   *
   * // every group carries its variance under the type id
   * type Variance = SingleFlight.Group.Variance<string, number, never>
   * const variance = (group: SingleFlight.Group<string, number, never>): Variance => group[SingleFlight.TypeId]
   * ```
   */
  export interface Variance<in out K, in out A, in out E> {
    readonly _K: Types.Invariant<K>
    readonly _A: Types.Invariant<A>
    readonly _E: Types.Invariant<E>
  }
}

/**
 * The app-wide group: the same contract as {@link Group}, with keys of any
 * type and the result type taken from the effect at each call.
 *
 * Because any effect can be given for any key, the key must also say which
 * work it stands for: prefer `["customer", name]` over a bare `name` when
 * several kinds of work share the service.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const program = Effect.gen(function*() {
 *   const singleFlight = yield* SingleFlight.SingleFlight
 *   return yield* singleFlight.call("answer", Effect.succeed(42))
 * }).pipe(Effect.provide(SingleFlight.layer))
 * ```
 */
export interface SingleFlight extends Pipeable {
  readonly [TypeId]: Group.Variance<unknown, unknown, unknown>
  call<A, E, R>(
    key: unknown,
    effect: Effect.Effect<A, E, R>,
    options?: CallOptions
  ): Effect.Effect<A, E, Exclude<R, Scope.Scope>>
  forget(key: unknown): Effect.Effect<void>
  readonly key: Effect.Effect<unknown>
  readonly size: Effect.Effect<number>
  waiters(key: unknown): Effect.Effect<number>
  readonly stats: Effect.Effect<Stats>
}

/**
 * The tag of the app-wide {@link SingleFlight} service.
 *
 * @since 1.0.0
 * @category tags
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const inFlight = Effect.flatMap(SingleFlight.SingleFlight, (singleFlight) => singleFlight.size)
 * ```
 */
export const SingleFlight: Context.Service<SingleFlight, SingleFlight> = internal.tag

/**
 * Makes a typed {@link Group} that lives as long as the current `Scope`.
 *
 * To make one an application service, put it behind a tag of your own:
 *
 * @since 1.0.0
 * @category constructors
 * @example
 * ```ts
 * import { Context, Data, Effect, Layer } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * class NotFound extends Data.TaggedError("NotFound")<{ readonly name: string }> {}
 *
 * class CustomerIds extends Context.Service<CustomerIds, SingleFlight.Group<string, number, NotFound>>()(
 *   "app/CustomerIds"
 * ) {
 *   static readonly layer = Layer.effect(CustomerIds, SingleFlight.make<string, number, NotFound>())
 * }
 *
 * const fetchCustomerId = (name: string) =>
 *   Effect.flatMap(CustomerIds, (group) =>
 *     group.call(
 *       name,
 *       Effect.flatMap(group.key, (name) => name === "customer-1" ? Effect.succeed(1) : Effect.fail(new NotFound({ name })))
 *     ))
 * ```
 */
export const make: <K, A, E = never>(
  options?: Options<NoInfer<K>>
) => Effect.Effect<Group<K, A, E>, never, Scope.Scope> = internal.make

/**
 * The app-wide {@link SingleFlight} service with default options. Releasing
 * the layer interrupts every execution and waits for its finalizers.
 *
 * @since 1.0.0
 * @category layers
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const program = SingleFlight.call("answer", Effect.succeed(42)).pipe(Effect.provide(SingleFlight.layer))
 * ```
 */
export const layer: Layer.Layer<SingleFlight> = internal.layer

/**
 * The app-wide {@link SingleFlight} service with the given options.
 *
 * @since 1.0.0
 * @category layers
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * const SingleFlightLive = SingleFlight.layerWith({ reuseSuccessFor: "50 millis" })
 * ```
 */
export const layerWith: (options?: Options) => Layer.Layer<SingleFlight> = internal.layerWith

/**
 * Runs `effect` for `key` through the app-wide service, or joins the
 * execution already running for an `Equal` key.
 *
 * @since 1.0.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const fetchCustomerId = (name: string) =>
 *   SingleFlight.call(`customer:${name}`, Effect.succeed(name.length))
 * ```
 */
export const call: <A, E, R>(
  key: unknown,
  effect: Effect.Effect<A, E, R>,
  options?: CallOptions
) => Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight> = internal.call

/**
 * {@link call} in both argument orders, for `pipe`.
 *
 * @since 1.0.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const lookup = Effect.succeed(42).pipe(SingleFlight.dedupe("answer"))
 * const same = SingleFlight.dedupe(Effect.succeed(42), "answer")
 * ```
 */
export const dedupe: {
  (
    key: unknown,
    options?: CallOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: unknown,
    options?: CallOptions
  ): Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight>
} = internal.dedupe

/**
 * Makes the next calls of `key` on the app-wide service start afresh.
 *
 * @since 1.0.0
 * @category combinators
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * const invalidate = (name: string) => SingleFlight.forget(`customer:${name}`)
 * ```
 */
export const forget: (key: unknown) => Effect.Effect<void, never, SingleFlight> = internal.forget

/**
 * The key of the innermost call of the app-wide service whose work is running
 * on the current fiber, like Go's `KeyFromContext`. Outside such work it dies
 * with a {@link NoCurrentKeyError}.
 *
 * @since 1.0.0
 * @category accessors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const doFetchCustomerId = Effect.flatMap(SingleFlight.currentKey, (name) =>
 *   Effect.succeed(String(name).length))
 * const fetchCustomerId = (name: string) => SingleFlight.call(name, doFetchCustomerId)
 * ```
 */
export const currentKey: Effect.Effect<unknown, never, SingleFlight> = internal.currentKey

/**
 * @since 1.0.0
 * @category utils
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * SingleFlight.isGroup({}) // false
 * ```
 */
export const isGroup: (u: unknown) => u is Group<unknown, unknown, unknown> = internal.isGroup

/**
 * The defect of a call that re-entered its own key, directly or through nested
 * calls of the same group: it would otherwise wait for itself forever.
 *
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { Cause, Result } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * const isReentry = (cause: Cause.Cause<unknown>) => {
 *   const defect = Cause.findDefect(cause)
 *   return Result.isSuccess(defect) && defect.success instanceof SingleFlight.ReentrantCallError
 * }
 * ```
 */
export const ReentrantCallError: typeof internal.ReentrantCallError = internal.ReentrantCallError

/**
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * const isReentrant = (defect: unknown): defect is SingleFlight.ReentrantCallError =>
 *   defect instanceof SingleFlight.ReentrantCallError
 * ```
 */
export type ReentrantCallError = internal.ReentrantCallError

/**
 * The defect of reading the current key outside of any call's work.
 *
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * // dies with a NoCurrentKeyError: not inside a call
 * const outside = SingleFlight.currentKey.pipe(Effect.provide(SingleFlight.layer))
 * ```
 */
export const NoCurrentKeyError: typeof internal.NoCurrentKeyError = internal.NoCurrentKeyError

/**
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * const isOutsideCall = (defect: unknown): defect is SingleFlight.NoCurrentKeyError =>
 *   defect instanceof SingleFlight.NoCurrentKeyError
 * ```
 */
export type NoCurrentKeyError = internal.NoCurrentKeyError

/**
 * The defect of making a group with an invalid option (a negative or infinite
 * duration, an unknown policy), raised when the group is made.
 *
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * // dies with an InvalidOptionsError when the layer is built
 * const broken = SingleFlight.layerWith({ reuseSuccessFor: -1 })
 * ```
 */
export const InvalidOptionsError: typeof internal.InvalidOptionsError = internal.InvalidOptionsError

/**
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 *
 * // which option was rejected, and why
 * const describe = (error: SingleFlight.InvalidOptionsError) => `${error.option}: ${error.reason}`
 * ```
 */
export type InvalidOptionsError = internal.InvalidOptionsError

/**
 * Validates a duration option and returns it decoded, or throws an
 * {@link InvalidOptionsError} naming the option: a negative, `NaN` or
 * infinite input, or one that is not a duration. (effect 4's `Duration`
 * accepts negative inputs, which would make no sense as a window or a
 * timeout.) The rule every duration option of this library follows, exported
 * for the integrations that take duration options of their own; call it
 * inside `Effect.sync` so that an invalid option becomes a defect.
 *
 * @since 1.0.0
 * @category utils
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlight } from "effect-singleflight"
 *
 * // dies with an InvalidOptionsError naming "lease"
 * const lease = Effect.sync(() => SingleFlight.validateDuration("lease", -5))
 * ```
 */
export const validateDuration: (option: string, input: Duration.Input) => Duration.Duration = internal.validateWindow
