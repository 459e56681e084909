/**
 * The Redis side of a flight: key names, Lua scripts and the commands that
 * read and write them. Everything here is one round trip.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { createHash, randomBytes } from "node:crypto"
import type * as SingleFlightRedis from "../SingleFlightRedis.js"
import type { RedisError } from "./connection.js"

// -----------------------------------------------------------------------------
// names
// -----------------------------------------------------------------------------

/**
 * The Redis names of one key of one group. The key's hash is the hash tag
 * (`{…}`), so that the lease, the results and the channel of a key live in
 * one Redis Cluster slot and a script may touch them together.
 *
 * @internal
 */
export interface FlightKeys {
  readonly lease: string
  readonly channel: string
  readonly result: (token: string) => string
}

/** @internal */
export const flightKeys = (name: string, keyHash: string): FlightKeys => {
  const base = `sf:${name}:{${keyHash}}`
  return {
    lease: `${base}:lease`,
    channel: `${base}:done`,
    result: (token) => `${base}:result:${token}`
  }
}

/**
 * JSON with the properties of every object sorted, so that equal encoded keys
 * hash equally whatever order their properties were built in.
 */
const canonicalJson = (value: unknown): string =>
  String(JSON.stringify(value, (_, nested: unknown) => {
    if (nested === null || typeof nested !== "object" || Array.isArray(nested)) return nested
    const sorted: Record<string, unknown> = {}
    for (const property of Object.keys(nested).sort()) sorted[property] = (nested as Record<string, unknown>)[property]
    return sorted
  }))

/**
 * The SHA-256 (hex) of the canonical JSON of a Schema-encoded key. Fails for
 * encoded values JSON cannot hold (a `bigint`, a cycle).
 *
 * @internal
 */
export const hashEncodedKey = (encoded: unknown): Either.Either<string, unknown> =>
  Either.try({
    try: () => createHash("sha256").update(canonicalJson(encoded)).digest("hex"),
    catch: (error) => error
  })

/**
 * A flight's token: 128 random bits. Followers wait for the result of exactly
 * this token, so a result can never be mistaken for another flight's.
 *
 * @internal
 */
export const newToken: Effect.Effect<string> = Effect.sync(() => randomBytes(16).toString("hex"))

// -----------------------------------------------------------------------------
// scripts
// -----------------------------------------------------------------------------

/** @internal */
export interface Script {
  readonly source: string
  readonly sha1: string
}

const script = (source: string): Script => ({ source, sha1: createHash("sha1").update(source).digest("hex") })

/**
 * `SET NX PX`, then the holder: our own token when we took the lease, the
 * owner's otherwise. One atomic step, so the holder read is the one that
 * beat us (Redis 7's `SET … NX GET` does the same, but not on Redis 6).
 */
const acquireScript = script(`redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2])
return redis.call("GET", KEYS[1])`)

/** Compare-and-extend: only the holder of the token may renew its lease. */
const renewScript = script(`if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

/**
 * Stores the result, publishes it, then releases the lease (compare-and-
 * delete), atomically: a follower that polls never sees the lease gone
 * without the result in place. The result is stored and published even when
 * the lease was lost, because it is tagged with its own token and its
 * followers still wait for it.
 */
const completeScript = script(`redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3])
redis.call("PUBLISH", ARGV[4], ARGV[1] .. "\\n" .. ARGV[2])
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
end
return 1`)

/** Gives the lease back without a result and tells the followers to take over now. */
const releaseScript = script(`if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
end
redis.call("PUBLISH", ARGV[2], ARGV[1])
return 1`)

/** @internal */
export const scripts = {
  acquire: acquireScript,
  renew: renewScript,
  complete: completeScript,
  release: releaseScript
} as const

const isNoScript = (error: RedisError): boolean =>
  error.cause instanceof Error && error.cause.message.startsWith("NOSCRIPT")

/**
 * `EVALSHA`, and `EVAL` when the server does not know the script yet (first
 * use, or after a restart or `SCRIPT FLUSH`).
 *
 * @internal
 */
export const evalScript = (
  connection: SingleFlightRedis.RedisConnection,
  script: Script,
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string>
): Effect.Effect<unknown, RedisError> => {
  const tail = [String(keys.length), ...keys, ...args]
  return connection.send(["EVALSHA", script.sha1, ...tail]).pipe(
    Effect.catchIf(isNoScript, () => connection.send(["EVAL", script.source, ...tail]))
  )
}

// -----------------------------------------------------------------------------
// commands
// -----------------------------------------------------------------------------

const asStringOrNull = (reply: unknown): string | null => typeof reply === "string" ? reply : null

/**
 * Tries to take the lease with `token`; returns the token that holds it now
 * (`token` itself when taken).
 *
 * @internal
 */
export const acquire = (
  connection: SingleFlightRedis.RedisConnection,
  keys: FlightKeys,
  token: string,
  leaseMillis: number
): Effect.Effect<string | null, RedisError> =>
  Effect.map(evalScript(connection, scripts.acquire, [keys.lease], [token, String(leaseMillis)]), asStringOrNull)

/**
 * Extends the lease if `token` still holds it; `false` when it was lost.
 *
 * @internal
 */
export const renew = (
  connection: SingleFlightRedis.RedisConnection,
  keys: FlightKeys,
  token: string,
  leaseMillis: number
): Effect.Effect<boolean, RedisError> =>
  Effect.map(evalScript(connection, scripts.renew, [keys.lease], [token, String(leaseMillis)]), (reply) => reply === 1)

/** @internal */
export const complete = (
  connection: SingleFlightRedis.RedisConnection,
  keys: FlightKeys,
  token: string,
  payload: string,
  resultTtlMillis: number
): Effect.Effect<void, RedisError> =>
  Effect.asVoid(
    evalScript(connection, scripts.complete, [keys.lease, keys.result(token)], [
      token,
      payload,
      String(resultTtlMillis),
      keys.channel
    ])
  )

/** @internal */
export const release = (
  connection: SingleFlightRedis.RedisConnection,
  keys: FlightKeys,
  token: string
): Effect.Effect<void, RedisError> =>
  Effect.asVoid(evalScript(connection, scripts.release, [keys.lease], [token, keys.channel]))

/**
 * The holder of the lease and the stored result of `token`, read together
 * (one `MGET`, both keys in the same slot).
 *
 * @internal
 */
export const peek = (
  connection: SingleFlightRedis.RedisConnection,
  keys: FlightKeys,
  token: string
): Effect.Effect<{ readonly holder: string | null; readonly result: string | null }, RedisError> =>
  Effect.map(connection.send(["MGET", keys.lease, keys.result(token)]), (reply) => {
    const [holder, result] = Array.isArray(reply) ? reply : []
    return { holder: asStringOrNull(holder), result: asStringOrNull(result) }
  })

// -----------------------------------------------------------------------------
// messages
// -----------------------------------------------------------------------------

/**
 * A publication on a key's channel: `<token>\n<encoded exit>` when a flight
 * completed, `<token>` alone when its owner gave the lease back.
 *
 * @internal
 */
export interface Message {
  readonly token: string
  readonly payload: string | undefined
}

/** @internal */
export const parseMessage = (raw: string): Message => {
  const newline = raw.indexOf("\n")
  return newline < 0
    ? { token: raw, payload: undefined }
    : { token: raw.slice(0, newline), payload: raw.slice(newline + 1) }
}
