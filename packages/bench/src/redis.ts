/**
 * The Redis scale-out benchmark (owned by the Redis engineer; the harness only
 * calls it). It starts its own `redis-server` on a free loopback port, measures,
 * stops the server and returns plain rows:
 *
 *   export async function runRedisBench(options?: RedisBenchOptions): Promise<Array<RedisBenchRow>>
 *
 *   interface RedisBenchOptions {
 *     iterations?: number            // samples per row; default 500 (takeover rows: a fifth of it)
 *     log?: (line: string) => void   // progress lines; default none
 *   }
 *   interface RedisBenchRow {
 *     scenario: string; implementation: string; p50Micros: number; p99Micros: number; note?: string
 *   }
 *
 * It rejects with an Error that says how to install redis-server when the
 * binary is missing (set REDIS_SERVER to use another path). Everything runs in
 * one process: two "instances" are two groups on separate Redis connections,
 * over loopback TCP, which is the round-trip cost a real deployment adds to.
 *
 * Scenarios (each next to the in-memory group where it has a counterpart):
 * - "uncontended call": one caller, a fresh key each time, work that returns at
 *   once: the overhead of a flight (Redis: acquire, then complete: 2 round trips);
 * - "follower latency after the owner finishes": from the end of the owner's
 *   work to the moment a waiting follower has the value (Redis: the publication
 *   reaches the follower in another instance, which decodes it);
 * - "takeover after the owner is interrupted": from interrupting the owner to
 *   the start of the follower's own execution (Redis only).
 */
import { SingleFlightRedis } from "@effect-singleflight/redis"
import { startRedisServer } from "@effect-singleflight/testing/RedisServer"
import { SingleFlight } from "effect-singleflight"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

export interface RedisBenchOptions {
  readonly iterations?: number
  readonly log?: (line: string) => void
}

export interface RedisBenchRow {
  readonly scenario: string
  readonly implementation: string
  readonly p50Micros: number
  readonly p99Micros: number
  readonly note?: string
}

const inMemory = "effect-singleflight (in-memory)"
const overRedis = "@effect-singleflight/redis (loopback redis-server)"

// -----------------------------------------------------------------------------
// measuring
// -----------------------------------------------------------------------------

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN

const row = (
  scenario: string,
  implementation: string,
  samplesMillis: ReadonlyArray<number>,
  note?: string
): RedisBenchRow => {
  const sorted = [...samplesMillis].sort((a, b) => a - b)
  const micros = (millis: number) => Math.round(millis * 1000 * 10) / 10
  return {
    scenario,
    implementation,
    p50Micros: micros(percentile(sorted, 0.5)),
    p99Micros: micros(percentile(sorted, 0.99)),
    ...(note === undefined ? {} : { note: `${note} (${sorted.length} samples)` })
  }
}

type Group = SingleFlight.Group<string, number, never>

const redisGroup = (connection: SingleFlightRedis.RedisConnection): Effect.Effect<Group, never, Scope.Scope> =>
  SingleFlightRedis.make({ name: "bench", key: Schema.String, success: Schema.Number }).pipe(
    Effect.provideService(SingleFlightRedis.RedisConnection, connection)
  )

/** Milliseconds taken by each of `count` sequential calls of a fresh key. */
const uncontended = (group: Group, prefix: string, count: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < count; i++) {
      const start = performance.now()
      yield* group.call(`${prefix}-${i}`, Effect.succeed(i))
      samples.push(performance.now() - start)
    }
    return samples
  })

/**
 * Milliseconds from the end of the owner's work to the follower having the
 * value. The follower joins while the work runs (it waits 5 ms after the start
 * of a 20 ms work, enough to be subscribed on loopback).
 */
const followerLatency = (owner: Group, follower: Group, prefix: string, count: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < count; i++) {
      const key = `${prefix}-${i}`
      const started = yield* Deferred.make<void>()
      let workEnded = 0
      const work = Deferred.succeed(started, undefined).pipe(
        Effect.zipRight(Effect.sleep("20 millis")),
        Effect.map(() => {
          workEnded = performance.now()
          return i
        })
      )
      const owning = yield* Effect.fork(owner.call(key, work))
      yield* Deferred.await(started)
      yield* Effect.sleep("5 millis")
      yield* follower.call(key, Effect.succeed(-1))
      samples.push(performance.now() - workEnded)
      yield* Fiber.join(owning)
    }
    return samples
  })

/** Milliseconds from interrupting the owner to the start of the follower's own execution. */
const takeoverLatency = (owner: Group, follower: Group, prefix: string, count: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < count; i++) {
      const key = `${prefix}-${i}`
      const started = yield* Deferred.make<void>()
      const owning = yield* Effect.fork(
        owner.call(key, Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never)))
      )
      yield* Deferred.await(started)
      let takenOverAt = 0
      const following = yield* Effect.fork(follower.call(
        key,
        Effect.sync(() => {
          takenOverAt = performance.now()
          return i
        })
      ))
      yield* Effect.sleep("5 millis")
      const interruptedAt = performance.now()
      yield* Fiber.interrupt(owning)
      yield* Fiber.join(following)
      samples.push(takenOverAt - interruptedAt)
    }
    return samples
  })

const measure = (url: string, iterations: number, log: (line: string) => void) =>
  Effect.gen(function*() {
    const connect = SingleFlightRedis.makeConnection({ url })
    const local = yield* SingleFlight.make<string, number>()
    const a = yield* redisGroup(yield* connect)
    const b = yield* redisGroup(yield* connect)
    const rows: Array<RedisBenchRow> = []

    log("redis bench: uncontended calls")
    yield* uncontended(local, "warm-local", 200)
    yield* uncontended(a, "warm-redis", 200)
    rows.push(row("uncontended call", inMemory, yield* uncontended(local, "local", iterations)))
    rows.push(
      row(
        "uncontended call",
        overRedis,
        yield* uncontended(a, "redis", iterations),
        "acquire + complete: 2 Redis round trips"
      )
    )

    log("redis bench: follower latency")
    const followers = Math.max(20, Math.round(iterations / 2))
    rows.push(
      row(
        "follower latency after the owner finishes",
        inMemory,
        yield* followerLatency(local, local, "f-local", followers)
      )
    )
    rows.push(
      row(
        "follower latency after the owner finishes",
        overRedis,
        yield* followerLatency(a, b, "f-redis", followers),
        "owner and follower on separate connections; pub/sub delivery + Schema decode"
      )
    )

    log("redis bench: takeover")
    rows.push(
      row(
        "takeover after the owner is interrupted",
        overRedis,
        yield* takeoverLatency(a, b, "t-redis", Math.max(10, Math.round(iterations / 5))),
        "the owner gives its lease back and publishes; the follower takes the lease and runs"
      )
    )
    return rows
  }).pipe(Effect.scoped)

export async function runRedisBench(options: RedisBenchOptions = {}): Promise<Array<RedisBenchRow>> {
  const iterations = options.iterations ?? 500
  const log = options.log ?? (() => {})
  // The shared launcher: a redis-server on a free loopback port, killed when the scope closes.
  const exit = await Effect.runPromiseExit(
    Effect.scoped(Effect.flatMap(startRedisServer, (server) => measure(server.url, iterations, log)))
  )
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  throw Option.isSome(failure) ? new Error(failure.value.message) : Cause.squash(exit.cause)
}
