/**
 * Call coalescing across processes, on Redis, behind the `SingleFlight.Group`
 * API: concurrent calls of the same key in any number of processes share one
 * execution of the work, and every caller gets its `Exit`.
 *
 * A group is declared once, with a name and `Schema`s for the key, the
 * success value and the typed error. Inside a process, the in-memory group of
 * `effect-singleflight` coalesces first, so each process makes at most one
 * Redis exchange per key and flight. Across processes, one of them takes a
 * lease on the key, runs the work, renews the lease while it runs, and
 * publishes the encoded `Exit`; the others wait for it and decode it.
 *
 * The guarantee is at most one execution per lease, not exactly once: see
 * docs/scale-out.md for failover, long pauses and clock skew. When Redis
 * cannot help (it is down, a result cannot be decoded, a follower times out),
 * the call runs the work in its own process: Redis trouble degrades to
 * per-process coalescing, never to a failed call.
 *
 * @since 1.0.0
 */
import type { SingleFlight } from "effect-singleflight"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { RedisClientOptions, RedisClusterOptions } from "redis"
import * as connection from "./internal/connection.js"
import * as group from "./internal/group.js"

// -----------------------------------------------------------------------------
// the connection
// -----------------------------------------------------------------------------

/**
 * The Redis connections a group talks through: one for commands, and one
 * dedicated to pub/sub (a subscribed connection cannot send commands).
 *
 * {@link layerConnection} provides one on node-redis, {@link layerCluster}
 * one on a node-redis Cluster client. Another client (ioredis, say) only has
 * to implement these two operations; the protocol's keys and channels of a
 * key share one hash slot.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const ping = Effect.flatMap(SingleFlightRedis.RedisConnection, (redis) => redis.send(["PING"]))
 * ```
 */
export interface RedisConnection {
  /**
   * Sends one command (`["SET", "key", "value"]`) and succeeds with its raw
   * reply: strings, numbers, `null` and arrays of those.
   */
  readonly send: (command: ReadonlyArray<string>) => Effect.Effect<unknown, RedisError>
  /**
   * Calls `onMessage` with every message published on `channel` until the
   * scope closes. Succeeds once Redis confirmed the subscription.
   */
  readonly subscribe: (
    channel: string,
    onMessage: (message: string) => void
  ) => Effect.Effect<void, RedisError, Scope.Scope>
  /**
   * `true` when `subscribe` uses sharded pub/sub (`SSUBSCRIBE`, as on a Redis
   * Cluster): results are then published with `SPUBLISH`, on the key's shard
   * only. Default `false` (`SUBSCRIBE` and `PUBLISH`).
   */
  readonly sharded?: boolean | undefined
}

/**
 * The tag of the {@link RedisConnection} service.
 *
 * @since 1.0.0
 * @category tags
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * // an adapter for another client implements the two operations
 * const adapter = SingleFlightRedis.RedisConnection.of({
 *   send: (command) => Effect.succeed(command.length),
 *   subscribe: () => Effect.void
 * })
 * ```
 */
export const RedisConnection: Context.Service<RedisConnection, RedisConnection> = connection.tag

/**
 * Options of {@link layerConnection}: node-redis's own client options (`url`,
 * `socket.reconnectStrategy`, `password`, …) plus:
 *
 * - `connectTimeout`: how long the first connection may take before the layer
 *   fails with a {@link RedisError}; default 5 seconds. (node-redis itself
 *   would retry forever.)
 * - `commandTimeout`: after this, a command fails with a {@link RedisError}
 *   and the call runs locally; default 2 seconds.
 *
 * `disableOfflineQueue` is always `true`: while Redis is unreachable, commands
 * fail at once (and calls run locally) instead of queueing until it returns.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const options: SingleFlightRedis.ConnectionOptions = {
 *   url: "redis://127.0.0.1:6379",
 *   socket: { reconnectStrategy: 500 },
 *   commandTimeout: "1 second"
 * }
 * ```
 */
export type ConnectionOptions = RedisClientOptions & {
  readonly connectTimeout?: Duration.Input | undefined
  readonly commandTimeout?: Duration.Input | undefined
}

/**
 * Connects to Redis with node-redis (a command connection and a subscriber
 * connection), for as long as the current `Scope`.
 *
 * @since 1.0.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const program = Effect.gen(function*() {
 *   const redis = yield* SingleFlightRedis.makeConnection({ url: "redis://127.0.0.1:6379" })
 *   return yield* redis.send(["PING"])
 * }).pipe(Effect.scoped)
 * ```
 */
export const makeConnection: (
  options?: ConnectionOptions
) => Effect.Effect<RedisConnection, RedisError, Scope.Scope> = connection.make

/**
 * The {@link RedisConnection} service on node-redis. Fails with a
 * {@link RedisError} when Redis cannot be reached within `connectTimeout`;
 * releasing it closes both connections.
 *
 * @since 1.0.0
 * @category layers
 * @example
 * ```ts
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const RedisLive = SingleFlightRedis.layerConnection({ url: "redis://127.0.0.1:6379" })
 * ```
 */
export const layerConnection: (options?: ConnectionOptions) => Layer.Layer<RedisConnection, RedisError> =
  connection.layer

/**
 * Options of {@link layerCluster}: node-redis's own cluster options
 * (`rootNodes`, `defaults` for every node's client, …) plus `connectTimeout`
 * and `commandTimeout`, as in {@link ConnectionOptions}.
 * `defaults.disableOfflineQueue` is always `true`.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const options: SingleFlightRedis.ClusterOptions = {
 *   rootNodes: [{ url: "redis://10.0.0.1:6379" }, { url: "redis://10.0.0.2:6379" }],
 *   commandTimeout: "1 second"
 * }
 * ```
 */
export type ClusterOptions = RedisClusterOptions & {
  readonly connectTimeout?: Duration.Input | undefined
  readonly commandTimeout?: Duration.Input | undefined
}

/**
 * Connects to a Redis Cluster with node-redis's cluster client, for as long
 * as the current `Scope`. Commands are routed by their key's slot (every key
 * and channel of a flight shares one hash tag, so one slot); results travel
 * by sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`, Redis 7), on the key's shard
 * only. When a master is down, the calls of its keys run locally.
 *
 * @since 1.0.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const program = Effect.gen(function*() {
 *   const redis = yield* SingleFlightRedis.makeCluster({ rootNodes: [{ url: "redis://127.0.0.1:7000" }] })
 *   return yield* redis.send(["GET", "some-key"])
 * }).pipe(Effect.scoped)
 * ```
 */
export const makeCluster: (
  options: ClusterOptions
) => Effect.Effect<RedisConnection, RedisError, Scope.Scope> = connection.makeCluster

/**
 * The {@link RedisConnection} service on a Redis Cluster (see
 * {@link makeCluster}). Fails with a {@link RedisError} when the cluster
 * cannot be reached within `connectTimeout`.
 *
 * @since 1.0.0
 * @category layers
 * @example
 * ```ts
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const RedisLive = SingleFlightRedis.layerCluster({
 *   rootNodes: [{ url: "redis://10.0.0.1:6379" }, { url: "redis://10.0.0.2:6379" }]
 * })
 * ```
 */
export const layerCluster: (options: ClusterOptions) => Layer.Layer<RedisConnection, RedisError> =
  connection.layerCluster

// -----------------------------------------------------------------------------
// the group
// -----------------------------------------------------------------------------

/**
 * The timing of the protocol. Defaults: `lease` 5 seconds, `renewEvery` a
 * third of the lease, `pollEvery` 500 ms, `resultTtl` 10 seconds,
 * `followerTimeout` `2 × lease + pollEvery` (10.5 seconds).
 *
 * - `lease`: how long a process owns a key without renewing. If the owner
 *   dies, another process takes over after at most `lease + pollEvery` (plus
 *   a round trip or two).
 * - `renewEvery`: how often the owner extends its lease while the work runs;
 *   less than `lease`.
 * - `pollEvery`: how often a follower re-reads the lease and the result, to
 *   notice a dead owner and a publication it missed; pub/sub usually answers
 *   long before.
 * - `resultTtl`: how long a result stays readable in Redis for followers that
 *   missed its publication; more than `pollEvery`. Results are not reused by
 *   later calls (that is `reuseSuccessFor`, per process).
 * - `followerTimeout`: how long a follower waits for other processes (from
 *   the start of the call's flight, across takeovers). Always finite, so that
 *   no caller waits forever (an owner whose work hangs while it renews its
 *   lease); the default leaves time for a dead owner to be replaced
 *   (`lease + pollEvery`) and one more lease for its successor. Raise it when
 *   the work itself may take longer. Then the follower follows
 *   `onFollowerTimeout`: `"runLocally"` (default) runs the work in this
 *   process, `"fail"` fails with a {@link FollowerTimeoutError}.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const fastFailover: SingleFlightRedis.TimingOptions = {
 *   lease: "2 seconds",
 *   pollEvery: "100 millis",
 *   followerTimeout: "10 seconds"
 * }
 * ```
 */
export interface TimingOptions {
  readonly lease?: Duration.Input | undefined
  readonly renewEvery?: Duration.Input | undefined
  readonly pollEvery?: Duration.Input | undefined
  readonly resultTtl?: Duration.Input | undefined
  readonly followerTimeout?: Duration.Input | undefined
  readonly onFollowerTimeout?: "runLocally" | "fail" | undefined
}

/**
 * The declaration of a group, shared by every process that takes part:
 *
 * - `name`: the namespace of its Redis keys and channels
 *   (`sf:<name>:{<sha256 of the key's canonical encoding>}:…`); no braces or
 *   whitespace. Processes coalesce when they use the same name and key.
 * - `key`, `success`, `failure`: the `Schema`s of the key, the success value
 *   and the typed error (omit it for work that cannot fail). What crosses
 *   Redis is each schema's JSON form (`Schema.toCodecJson`), so `Option`,
 *   `HashSet`, `Date` and class schemas travel too. Two processes share a
 *   flight only for keys with the same canonical encoding (exact: `undefined`
 *   and `null` stay apart, object properties in any order; the members of a
 *   set or map in the order they were added) that decode back to an `Equal`
 *   key. On effect 4 plain structs, tuples, arrays, sets and maps are `Equal`
 *   by value, so `Schema.Struct` and `Schema.Tuple` keys are shared; a key
 *   that does not decode back to an `Equal` key (a lossy transformation, a
 *   class without `Equal`) is coalesced within each process only, with a
 *   warning logged once per group. Use `Schema.TaggedError`
 *   classes so that errors arrive as instances of their class. Defects travel
 *   as `Schema.Defect()`: an `Error`'s name and message (no stack), anything
 *   else as JSON or readable text.
 * - the {@link TimingOptions}, and the options of the in-memory group
 *   (`keyAttribute`, `whenAbandoned`, `reuseSuccessFor`), which apply within
 *   each process; `name` also names the in-memory group in spans and metrics.
 *
 * Invalid options are a defect with a `SingleFlight.InvalidOptionsError`.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { id: Schema.Number }) {}
 *
 * const customerNames = {
 *   name: "customer-names",
 *   key: Schema.Number,
 *   success: Schema.String,
 *   failure: NotFound,
 *   lease: "2 seconds"
 * } satisfies SingleFlightRedis.Options<number, number, string, string, NotFound, typeof NotFound.Encoded>
 * ```
 */
export interface Options<K, KI, A, AI, E, EI> extends TimingOptions {
  readonly name: string
  readonly key: Schema.Codec<K, KI>
  readonly success: Schema.Codec<A, AI>
  readonly failure?: Schema.Codec<E, EI> | undefined
  readonly keyAttribute?: SingleFlight.Options<K>["keyAttribute"]
  readonly whenAbandoned?: SingleFlight.AbandonPolicy | undefined
  readonly reuseSuccessFor?: Duration.Input | undefined
}

/**
 * What the cross-process side of a group did in this process, since it was
 * made; each count is of in-memory flights (one per key and wave of local
 * callers):
 *
 * - `owned`: flights that ran the work holding the lease;
 * - `followed`: flights answered by another process's result;
 * - `takeovers`: owned flights that first followed an owner which went away
 *   without a result (it died, or was interrupted);
 * - `ranLocally`: flights that ran the work without a lease, because Redis
 *   failed, a result could not be decoded or a follower timed out;
 * - `timedOut`: follower timeouts (whatever `onFollowerTimeout` then did).
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const report = (group: SingleFlightRedis.Group<string, number, never>) =>
 *   Effect.map(group.redisStats, (stats) => `${stats.followed} answers came from other processes`)
 * ```
 */
export interface RedisStats {
  readonly owned: number
  readonly followed: number
  readonly takeovers: number
  readonly ranLocally: number
  readonly timedOut: number
}

/**
 * A `SingleFlight.Group` whose coalescing spans processes. `call` has the
 * same shape and contract as the in-memory group's: the work runs in a fiber
 * of its own with the first local caller's context and its own `Scope`; an
 * interrupted caller leaves alone; when the last local caller leaves, the
 * work is interrupted (per `whenAbandoned`), and an interrupted owner gives
 * its lease back at once so that another process takes over.
 *
 * `forget`, `key`, `size`, `waiters` and `stats` are those of the process's
 * in-memory group: `forget` makes the next local calls start a new flight,
 * which may still join another process's execution.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const lookup = (group: SingleFlightRedis.Group<string, number, never>, name: string) =>
 *   group.call(name, Effect.map(group.key, (name) => name.length))
 * ```
 */
export interface Group<in out K, in out A, in out E> extends SingleFlight.Group<K, A, E> {
  /** The group's name, the namespace of its Redis keys. */
  readonly name: string
  /** See {@link RedisStats}. */
  readonly redisStats: Effect.Effect<RedisStats>
}

/**
 * Makes a cross-process {@link Group} that lives as long as the current
 * `Scope`, on the {@link RedisConnection} in context. With
 * `onFollowerTimeout: "fail"`, its error type includes
 * {@link FollowerTimeoutError}.
 *
 * @since 1.0.0
 * @category constructors
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { id: Schema.Number }) {}
 *
 * class CustomerNames extends Context.Service<CustomerNames, SingleFlightRedis.Group<number, string, NotFound>>()(
 *   "app/CustomerNames"
 * ) {
 *   static readonly layer = Layer.effect(
 *     CustomerNames,
 *     SingleFlightRedis.make({ name: "customer-names", key: Schema.Number, success: Schema.String, failure: NotFound })
 *   ).pipe(Layer.provide(SingleFlightRedis.layerConnection({ url: "redis://127.0.0.1:6379" })))
 * }
 *
 * const customerName = (id: number) =>
 *   Effect.flatMap(CustomerNames, (group) =>
 *     group.call(id, id === 1 ? Effect.succeed("Ada") : Effect.fail(new NotFound({ id }))))
 * ```
 */
export const make: {
  <K, KI, A, AI, E = never, EI = never>(
    options: Options<K, KI, A, AI, E, EI> & { readonly onFollowerTimeout: "fail" }
  ): Effect.Effect<Group<K, A, E | FollowerTimeoutError>, never, Scope.Scope | RedisConnection>
  <K, KI, A, AI, E = never, EI = never>(
    options: Options<K, KI, A, AI, E, EI>
  ): Effect.Effect<Group<K, A, E>, never, Scope.Scope | RedisConnection>
} = group.make

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * A Redis command, subscription or connection failed (or timed out). Groups
 * never fail with it: their calls run the work locally instead. It reaches
 * you from {@link layerConnection} when Redis is unreachable at start-up, and
 * from a {@link RedisConnection}'s own operations.
 *
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const ping = Effect.flatMap(SingleFlightRedis.RedisConnection, (redis) => redis.send(["PING"])).pipe(
 *   Effect.catchTag("RedisError", (error) => Effect.succeed(`down: ${error.operation}`))
 * )
 * ```
 */
export const RedisError: typeof connection.RedisError = connection.RedisError

/**
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const logFailure = (error: SingleFlightRedis.RedisError) =>
 *   Effect.logWarning(`Redis ${error.operation} failed`, error.cause)
 * ```
 */
export type RedisError = connection.RedisError

/**
 * A follower waited `followerTimeout` for other processes; only with
 * `onFollowerTimeout: "fail"` (by default the work runs locally instead).
 *
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const orFallback = <A, R>(call: Effect.Effect<A, SingleFlightRedis.FollowerTimeoutError, R>, fallback: A) =>
 *   Effect.catchTag(call, "FollowerTimeoutError", () => Effect.succeed(fallback))
 * ```
 */
export const FollowerTimeoutError: typeof group.FollowerTimeoutError = group.FollowerTimeoutError

/**
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 *
 * const describe = (error: SingleFlightRedis.FollowerTimeoutError) =>
 *   `group ${error.group} waited ${Duration.format(error.timeout)}`
 * ```
 */
export type FollowerTimeoutError = group.FollowerTimeoutError
