/**
 * @internal
 */
import { SingleFlight } from "effect-singleflight"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createClient, createCluster } from "redis"
import type * as SingleFlightRedis from "../SingleFlightRedis.js"

/** @internal */
export class RedisError extends Data.TaggedError("RedisError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `SingleFlightRedis: Redis ${this.operation} failed: ${reason}. Check that Redis is reachable from this process.`
  }
}

/** @internal */
export const tag = Context.Service<SingleFlightRedis.RedisConnection>("@effect-singleflight/redis/RedisConnection")

/**
 * The parts of node-redis's clients this module uses. Declared structurally
 * so the heavily generic client types of `redis` stay out of our signatures.
 */
interface NodeRedisConnectable {
  readonly isOpen: boolean
  connect(): Promise<unknown>
  close(): Promise<void>
  destroy(): void
  on(event: "error", listener: (error: unknown) => void): unknown
}

type Listener = (message: string, channel: string) => unknown

interface NodeRedisClient extends NodeRedisConnectable {
  duplicate(): NodeRedisClient
  sendCommand(args: ReadonlyArray<string>): Promise<unknown>
  subscribe(channel: string, listener: Listener): Promise<void>
  unsubscribe(channel: string, listener: Listener): Promise<void>
}

interface NodeRedisCluster extends NodeRedisConnectable {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: Array<string>): Promise<unknown>
  sSubscribe(channel: string, listener: Listener): Promise<void>
  sUnsubscribe(channel: string, listener: Listener): Promise<void>
}

/**
 * Rejects when `promise` has not settled within `millis`. A timeout inside
 * the promise, rather than `Effect.timeout`, because the latter cannot
 * interrupt an effect running in an uninterruptible region (taking a lease,
 * a finalizer) and would then wait as long as the server does.
 */
const withTimeout = <A>(promise: Promise<A>, millis: number, reason = `no reply within ${millis} ms`): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(reason)), millis)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })

const defaultConnectTimeout = Duration.seconds(5)
const defaultCommandTimeout = Duration.seconds(2)

/**
 * Connects a client, or gives up after `timeout`: node-redis keeps retrying
 * the first connection forever under its reconnect strategy. The finalizer is
 * installed before connecting, so a client that gave up is destroyed too.
 */
const acquireClient = <Client extends NodeRedisConnectable>(
  client: Client,
  role: string,
  timeout: Duration.Duration
): Effect.Effect<Client, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    // Without a listener, node-redis's "error" events (one per failed
    // reconnection attempt) would crash the process. The failures that matter
    // surface as rejected commands, where they are handled and logged.
    client.on("error", () => {})
    yield* Effect.addFinalizer(() => closeClient(client, timeout))
    const millis = Duration.toMillis(timeout)
    yield* Effect.tryPromise({
      try: () => withTimeout(client.connect(), millis, `no connection within ${millis} ms`),
      catch: (cause) => new RedisError({ operation: `connect (${role})`, cause })
    })
    return client
  })

/**
 * A graceful close (pending replies are awaited) that falls back to
 * destroying the socket. Finalizers run uninterruptibly, hence the timeout
 * inside the promise.
 */
const closeClient = (client: NodeRedisConnectable, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!client.isOpen) return Effect.void
    return Effect.tryPromise(() => withTimeout(client.close(), Duration.toMillis(timeout))).pipe(
      Effect.ignore,
      Effect.ensuring(Effect.sync(() => {
        if (client.isOpen) client.destroy()
      }))
    )
  })

/** The timeouts of a connection, validated once. */
const resolveTimeouts = (options: {
  readonly connectTimeout?: Duration.Input | undefined
  readonly commandTimeout?: Duration.Input | undefined
}) =>
  // An invalid option is thrown here and so becomes a defect.
  Effect.sync(() => ({
    connect: options.connectTimeout === undefined
      ? defaultConnectTimeout
      : SingleFlight.validateDuration("connectTimeout", options.connectTimeout),
    commandMillis: Duration.toMillis(
      options.commandTimeout === undefined
        ? defaultCommandTimeout
        : SingleFlight.validateDuration("commandTimeout", options.commandTimeout)
    )
  }))

/**
 * `send` on top of a client's own: node-redis's `timeout` only covers the
 * wait before a command is written; a server that stopped answering needs a
 * timeout on the reply.
 */
const sendWith = (
  timeoutMillis: number,
  sendCommand: (command: ReadonlyArray<string>) => Promise<unknown>
) =>
(command: ReadonlyArray<string>): Effect.Effect<unknown, RedisError> =>
  Effect.tryPromise({
    // No abort signal: by the time an interruption lands the command is
    // usually written, and an AbortController per command costs.
    try: () => withTimeout(sendCommand(command), timeoutMillis),
    catch: (cause) => new RedisError({ operation: command[0] ?? "command", cause })
  })

/** `subscribe` on top of a client's own (classic or sharded) subscribe and unsubscribe. */
const subscribeWith = (
  timeoutMillis: number,
  operation: string,
  subscribe: (channel: string, listener: Listener) => Promise<void>,
  unsubscribe: (channel: string, listener: Listener) => Promise<void>
) =>
(channel: string, onMessage: (message: string) => void): Effect.Effect<void, RedisError, Scope.Scope> => {
  // A fresh function per subscription: node-redis removes exactly this
  // listener on unsubscribe, and unsubscribes from Redis with the last one.
  const listener = (message: string) => {
    onMessage(message)
  }
  // The finalizer goes first, so a subscription that times out or is
  // interrupted half-way still leaves no listener behind.
  return Effect.addFinalizer(() =>
    Effect.ignore(Effect.tryPromise(() => withTimeout(unsubscribe(channel, listener), timeoutMillis)))
  ).pipe(
    Effect.andThen(
      Effect.tryPromise({
        try: () => withTimeout(subscribe(channel, listener), timeoutMillis),
        catch: (cause) => new RedisError({ operation, cause })
      })
    )
  )
}

/** @internal */
export const make = (
  options: SingleFlightRedis.ConnectionOptions = {}
): Effect.Effect<SingleFlightRedis.RedisConnection, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const { commandTimeout, connectTimeout, ...clientOptions } = options
    const timeouts = yield* resolveTimeouts({ commandTimeout, connectTimeout })
    // Commands must fail fast while the connection is down (so that callers
    // fall back to running locally), instead of queueing until Redis returns.
    const client: NodeRedisClient = createClient({ ...clientOptions, disableOfflineQueue: true })
    const commands = yield* acquireClient(client, "commands", timeouts.connect)
    // A connection in subscriber mode cannot send ordinary commands.
    const subscriber = yield* acquireClient(commands.duplicate(), "subscriber", timeouts.connect)
    return tag.of({
      send: sendWith(timeouts.commandMillis, (command) => commands.sendCommand(command)),
      subscribe: subscribeWith(
        timeouts.commandMillis,
        "SUBSCRIBE",
        (channel, listener) => subscriber.subscribe(channel, listener),
        (channel, listener) => subscriber.unsubscribe(channel, listener)
      )
    })
  })

/**
 * The key a command is routed by in a Cluster: the first key after `numkeys`
 * for scripts, the first argument otherwise (every command this package
 * sends has its key there). Commands without a key go to any node.
 */
const firstKeyOf = (command: ReadonlyArray<string>): string | undefined => {
  const name = command[0]?.toUpperCase()
  if (name === "EVAL" || name === "EVALSHA" || name === "FCALL") return Number(command[2]) > 0 ? command[3] : undefined
  return command[1]
}

/** @internal */
export const makeCluster = (
  options: SingleFlightRedis.ClusterOptions
): Effect.Effect<SingleFlightRedis.RedisConnection, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const { commandTimeout, connectTimeout, ...clusterOptions } = options
    const timeouts = yield* resolveTimeouts({ commandTimeout, connectTimeout })
    const cluster: NodeRedisCluster = createCluster({
      ...clusterOptions,
      defaults: { ...clusterOptions.defaults, disableOfflineQueue: true }
    })
    yield* acquireClient(cluster, "cluster", timeouts.connect)
    return tag.of({
      send: sendWith(
        timeouts.commandMillis,
        (command) => cluster.sendCommand(firstKeyOf(command), false, [...command])
      ),
      // Sharded pub/sub: a result travels on its key's shard only, not to every node.
      subscribe: subscribeWith(
        timeouts.commandMillis,
        "SSUBSCRIBE",
        (channel, listener) => cluster.sSubscribe(channel, listener),
        (channel, listener) => cluster.sUnsubscribe(channel, listener)
      ),
      sharded: true
    })
  })

/** @internal */
export const layer = (
  options?: SingleFlightRedis.ConnectionOptions
): Layer.Layer<SingleFlightRedis.RedisConnection, RedisError> => Layer.effect(tag, make(options))

/** @internal */
export const layerCluster = (
  options: SingleFlightRedis.ClusterOptions
): Layer.Layer<SingleFlightRedis.RedisConnection, RedisError> => Layer.effect(tag, makeCluster(options))
