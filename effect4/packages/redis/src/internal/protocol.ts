/**
 * The Redis side of a flight: key names, Lua scripts and the commands that
 * read and write them. Everything here is one round trip.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
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
 * A canonical, injective text for a Schema-encoded key: two encoded values
 * get the same text only when they are the same value, down to what JSON
 * would lose (`NaN`, `±Infinity`, `-0`, `undefined`, `null`, a `Set`, a
 * `Map`, a `bigint`). Object properties and the members of sets and maps are
 * sorted, so the order they were built in does not matter. Every part is
 * self-delimiting (strings are JSON-quoted, containers bracketed), which is
 * what makes the text injective. `Left` names what has no canonical form: a
 * class instance, a function, a symbol, a cycle.
 *
 * @internal
 */
export const canonicalKey = (encoded: unknown): Result.Result<string, string> => {
  const ancestors = new Set<object>()
  const visit = (value: unknown): string => {
    switch (typeof value) {
      case "string":
        return JSON.stringify(value)
      case "number":
        return Object.is(value, -0) ? "n:-0" : `n:${value}`
      case "bigint":
        return `b:${value}`
      case "boolean":
        return value ? "T" : "F"
      case "undefined":
        return "U"
      case "object":
        return value === null ? "N" : visitObject(value)
      default:
        throw new Unrepresentable(`a ${typeof value}`)
    }
  }
  const visitObject = (value: object): string => {
    if (ancestors.has(value)) throw new Unrepresentable("a cycle")
    ancestors.add(value)
    try {
      return container(value)
    } finally {
      ancestors.delete(value)
    }
  }
  const container = (value: object): string => {
    if (Array.isArray(value)) return `[${Array.from(value, visit).join(",")}]`
    if (value instanceof Set) return `S[${Array.from(value, visit).sort().join(",")}]`
    if (value instanceof Map) {
      return `M[${Array.from(value, ([key, member]) => `[${visit(key)},${visit(member)}]`).sort().join(",")}]`
    }
    if (value instanceof Date) return `D:${value.getTime()}`
    if (value instanceof Uint8Array) return `Y:${Buffer.from(value).toString("hex")}`
    const prototype: unknown = Object.getPrototypeOf(value)
    if (prototype !== Object.prototype && prototype !== null) {
      throw new Unrepresentable(`an instance of ${value.constructor?.name ?? "a class"}`)
    }
    if (Object.getOwnPropertySymbols(value).length > 0) throw new Unrepresentable("an object with symbol keys")
    const properties = Object.keys(value).sort().map((property) =>
      `${JSON.stringify(property)}:${visit((value as Record<string, unknown>)[property])}`
    )
    return `{${properties.join(",")}}`
  }
  try {
    return Result.succeed(visit(encoded))
  } catch (error) {
    if (error instanceof Unrepresentable) return Result.fail(`its encoded form holds ${error.what}`)
    throw error
  }
}

class Unrepresentable {
  constructor(readonly what: string) {}
}

/**
 * The version of the key encoding, hashed with it: processes that encode
 * keys differently (an older release, or the effect 3 line, whose schemas
 * encode keys and results differently) never derive the same name.
 */
const keyEncodingVersion = "e4k1|"

/**
 * The SHA-256 (hex) of a key's canonical text: the hash tag of its names.
 *
 * @internal
 */
export const hashCanonicalKey = (canonical: string): string =>
  createHash("sha256").update(keyEncodingVersion).update(canonical).digest("hex")

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
 * beat us (Redis 7's `SET … NX GET` does the same, but not on Redis 6). A
 * lease without an expiry was not written by an owner (they always set one):
 * another tool, an old release, a hand. It is given one lease to live, so
 * that it goes stale like a dead owner's instead of holding the key forever.
 */
const acquireScript = script(`redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2])
if redis.call("PTTL", KEYS[1]) == -1 then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
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
redis.call(ARGV[5], ARGV[4], ARGV[1] .. "\\n" .. ARGV[2])
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
end
return 1`)

/** Gives the lease back without a result and tells the followers to take over now. */
const releaseScript = script(`if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
end
redis.call(ARGV[3], ARGV[2], ARGV[1])
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

/**
 * Sharded pub/sub on a Cluster keeps a publication on its key's shard;
 * classic `PUBLISH` would be broadcast to every node.
 */
const publishCommand = (connection: SingleFlightRedis.RedisConnection): string =>
  connection.sharded === true ? "SPUBLISH" : "PUBLISH"

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
      keys.channel,
      publishCommand(connection)
    ])
  )

/** @internal */
export const release = (
  connection: SingleFlightRedis.RedisConnection,
  keys: FlightKeys,
  token: string
): Effect.Effect<void, RedisError> =>
  Effect.asVoid(
    evalScript(connection, scripts.release, [keys.lease], [token, keys.channel, publishCommand(connection)])
  )

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

/**
 * The payload an owner publishes when its result cannot be encoded. An
 * encoded `Exit` is a JSON object and never starts with `!`; a process of an
 * older release fails to decode it and runs the work locally, which is what
 * the marker asks for anyway.
 *
 * @internal
 */
export const unencodableResult = "!unencodable"

/** @internal */
export const parseMessage = (raw: string): Message => {
  const newline = raw.indexOf("\n")
  return newline < 0
    ? { token: raw, payload: undefined }
    : { token: raw.slice(0, newline), payload: raw.slice(newline + 1) }
}
