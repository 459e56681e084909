import { pollUntil } from "@effect-singleflight/testing/Poll"
import type { RedisServer } from "@effect-singleflight/testing/RedisServer"
import { type Duration, Effect, Logger, Option, Result } from "effect"
import type { Scope } from "effect"
import { SingleFlightRedis } from "../../src/index.js"
import { canonicalKey, flightKeys, hashCanonicalKey } from "../../src/internal/protocol.js"

/**
 * The connections of one "instance" of a service: each has its own command
 * and subscriber connections, as a separate process would. Reconnection is
 * quick so that tests of a Redis restart stay short.
 */
export const connect = (
  server: RedisServer,
  options: Partial<SingleFlightRedis.ConnectionOptions> = {}
): Effect.Effect<SingleFlightRedis.RedisConnection, SingleFlightRedis.RedisError, Scope.Scope> =>
  SingleFlightRedis.makeConnection({
    url: server.url,
    socket: { reconnectStrategy: 50 },
    connectTimeout: "2 seconds",
    commandTimeout: "500 millis",
    ...options
  })

/** The Redis names of a string key of group `name` (keys use `Schema.String`, whose JSON form is the string). */
export const namesOf = (name: string, key: string) => {
  const canonical = canonicalKey(key)
  if (Result.isFailure(canonical)) throw new Error("unreachable: a string always has a canonical form")
  return flightKeys(name, hashCanonicalKey(canonical.success))
}

/** The number of connections subscribed to `channel`. */
export const subscribers = (admin: SingleFlightRedis.RedisConnection, channel: string): Effect.Effect<number> =>
  admin.send(["PUBSUB", "NUMSUB", channel]).pipe(
    Effect.map((reply) => Array.isArray(reply) ? Number(reply[1]) : 0),
    Effect.orDie
  )

/** Polls `condition` every 5 ms; dies with `what` after `timeout`. */
export const eventually = <E>(
  what: string,
  condition: Effect.Effect<boolean, E>,
  timeout: Duration.Input = "5 seconds"
): Effect.Effect<void> =>
  pollUntil(Effect.orDie(condition), (ok) => ok, { every: "5 millis", timeout }).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.die(new Error(`timed out waiting until ${what}`)),
      onSome: () => Effect.void
    }))
  )

/** Reads a Redis counter (0 when absent). */
export const counter = (admin: SingleFlightRedis.RedisConnection, key: string): Effect.Effect<number> =>
  admin.send(["GET", key]).pipe(Effect.map((reply) => Number(reply ?? 0)), Effect.orDie)

/** Milliseconds since `start` (from `performance.now()`). */
export const since = (start: number): number => Math.round(performance.now() - start)

/**
 * Runs `effect` with a logger that keeps the warning lines (and no other
 * logger): effect 4 hands a logger the arguments of `Effect.logWarning` as an array.
 */
export const capturingWarnings = <A, E, R>(effect: (lines: Array<string>) => Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    if (logLevel === "Warn") lines.push(Array.isArray(message) ? message.join(" ") : String(message))
  })
  return effect(lines).pipe(Effect.provide(Logger.layer([logger])))
}
