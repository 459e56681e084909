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
import { createClient } from "redis"
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
export const tag = Context.GenericTag<SingleFlightRedis.RedisConnection>("@effect-singleflight/redis/RedisConnection")

/**
 * The part of a node-redis client this module uses. Declared structurally so
 * the heavily generic client type of `redis` stays out of our signatures.
 */
interface NodeRedisClient {
  readonly isOpen: boolean
  connect(): Promise<unknown>
  close(): Promise<void>
  destroy(): void
  duplicate(): NodeRedisClient
  on(event: "error", listener: (error: unknown) => void): unknown
  sendCommand(args: ReadonlyArray<string>): Promise<unknown>
  subscribe(channel: string, listener: (message: string, channel: string) => unknown): Promise<void>
  unsubscribe(channel: string, listener: (message: string, channel: string) => unknown): Promise<void>
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
const acquireClient = (
  client: NodeRedisClient,
  role: string,
  timeout: Duration.Duration
): Effect.Effect<NodeRedisClient, RedisError, Scope.Scope> =>
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
const closeClient = (client: NodeRedisClient, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!client.isOpen) return Effect.void
    return Effect.tryPromise(() => withTimeout(client.close(), Duration.toMillis(timeout))).pipe(
      Effect.ignore,
      Effect.ensuring(Effect.sync(() => {
        if (client.isOpen) client.destroy()
      }))
    )
  })

/** @internal */
export const make = (
  options: SingleFlightRedis.ConnectionOptions = {}
): Effect.Effect<SingleFlightRedis.RedisConnection, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const { commandTimeout, connectTimeout, ...clientOptions } = options
    // An invalid option is thrown here and so becomes a defect.
    const resolvedConnectTimeout = yield* Effect.sync(() =>
      connectTimeout === undefined
        ? defaultConnectTimeout
        : SingleFlight.validateDuration("connectTimeout", connectTimeout)
    )
    const resolvedCommandTimeout = yield* Effect.sync(() =>
      commandTimeout === undefined
        ? defaultCommandTimeout
        : SingleFlight.validateDuration("commandTimeout", commandTimeout)
    )

    // Commands must fail fast while the connection is down (so that callers
    // fall back to running locally), instead of queueing until Redis returns.
    const client: NodeRedisClient = createClient({ ...clientOptions, disableOfflineQueue: true })
    const commands = yield* acquireClient(client, "commands", resolvedConnectTimeout)
    // A connection in subscriber mode cannot send ordinary commands.
    const subscriber = yield* acquireClient(commands.duplicate(), "subscriber", resolvedConnectTimeout)

    const timeoutMillis = Duration.toMillis(resolvedCommandTimeout)

    // node-redis's own `timeout` only covers the wait before a command is
    // written; a server that stopped answering needs a timeout on the reply.
    const send = (command: ReadonlyArray<string>): Effect.Effect<unknown, RedisError> => {
      const operation = command[0] ?? "command"
      return Effect.tryPromise({
        // No abort signal: by the time an interruption lands the command is
        // usually written, and an AbortController per command costs.
        try: () => withTimeout(commands.sendCommand(command), timeoutMillis),
        catch: (cause) => new RedisError({ operation, cause })
      })
    }

    const subscribe = (
      channel: string,
      onMessage: (message: string) => void
    ): Effect.Effect<void, RedisError, Scope.Scope> => {
      // A fresh function per subscription: node-redis removes exactly this
      // listener on unsubscribe, and unsubscribes from Redis with the last one.
      const listener = (message: string) => {
        onMessage(message)
      }
      // The finalizer goes first, so a subscription that times out or is
      // interrupted half-way still leaves no listener behind.
      return Effect.addFinalizer(() =>
        Effect.ignore(Effect.tryPromise(() => withTimeout(subscriber.unsubscribe(channel, listener), timeoutMillis)))
      ).pipe(
        Effect.zipRight(
          Effect.tryPromise({
            try: () => withTimeout(subscriber.subscribe(channel, listener), timeoutMillis),
            catch: (cause) => new RedisError({ operation: "SUBSCRIBE", cause })
          })
        )
      )
    }

    return tag.of({ send, subscribe })
  })

/** @internal */
export const layer = (
  options?: SingleFlightRedis.ConnectionOptions
): Layer.Layer<SingleFlightRedis.RedisConnection, RedisError> => Layer.scoped(tag, make(options))
