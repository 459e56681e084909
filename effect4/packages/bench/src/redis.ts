/**
 * The Redis scale-out scenarios on effect 4, the port of
 * packages/bench/src/redis.ts, next to the in-memory group where it has a
 * counterpart. A `redis-server` of its own (the shared launcher of
 * packages/testing) on a free loopback port; two "instances" are two groups on
 * separate Redis connections in this process, over loopback TCP: the
 * round-trip cost a real deployment adds to.
 */
import { SingleFlightRedis } from "@effect-singleflight/redis"
import { startRedisServer } from "@effect-singleflight/testing/RedisServer"
import { SingleFlight } from "effect-singleflight"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import type { RedisSamples } from "../../../../packages/bench/src/line.js"

type Group = SingleFlight.Group<string, number, never>

const inMemory = "effect-singleflight (in-memory)"
const overRedis = "@effect-singleflight/redis (loopback redis-server)"

/** `count` samples of `one`, one after the other, each on a key of its own. */
const samples = (count: number, prefix: string, one: (key: string) => Effect.Effect<number>) =>
  Effect.forEach(Array.from({ length: count }, (_, index) => `${prefix}-${index}`), one)

/** Milliseconds taken by a call of a fresh key whose work returns at once. */
const uncontended = (group: Group) => (key: string) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(group.call(key, Effect.succeed(1)), () => performance.now() - start)
  })

/**
 * Milliseconds from the end of the owner's work to the follower having the
 * value. The follower joins while the work runs (it waits 5 ms after the start
 * of a 20 ms work, enough to be subscribed on loopback).
 */
const followerLatency = (owner: Group, follower: Group) => (key: string) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    let workEnded = 0
    const work = Deferred.succeed(started, undefined).pipe(
      Effect.andThen(Effect.sleep("20 millis")),
      Effect.map(() => {
        workEnded = performance.now()
        return 1
      })
    )
    const owning = yield* Effect.forkChild(owner.call(key, work))
    yield* Deferred.await(started)
    yield* Effect.sleep("5 millis")
    yield* follower.call(key, Effect.succeed(-1))
    const latency = performance.now() - workEnded
    yield* Fiber.join(owning)
    return latency
  })

/** Milliseconds from interrupting the owner to the start of the follower's own execution. */
const takeoverLatency = (owner: Group, follower: Group) => (key: string) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const owning = yield* Effect.forkChild(
      owner.call(key, Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never)))
    )
    yield* Deferred.await(started)
    let takenOverAt = 0
    const takeOver = Effect.sync(() => {
      takenOverAt = performance.now()
      return 1
    })
    const following = yield* Effect.forkChild(follower.call(key, takeOver))
    yield* Effect.sleep("5 millis")
    const interruptedAt = performance.now()
    yield* Fiber.interrupt(owning)
    yield* Fiber.join(following)
    return takenOverAt - interruptedAt
  })

const row = (scenario: string, implementation: string, millis: Array<number>, note?: string): RedisSamples => ({
  scenario,
  implementation,
  millis,
  note
})

/**
 * `iterations` samples a row, the follower rows half, the takeover row a fifth. Fails when redis-server is missing.
 */
export const measureRedis = (iterations: number): Promise<Array<RedisSamples>> =>
  Effect.gen(function*() {
    const server = yield* startRedisServer
    const local = yield* SingleFlight.make<string, number>()
    const redisGroup = Effect.gen(function*() {
      const connection = yield* SingleFlightRedis.makeConnection({ url: server.url })
      return yield* SingleFlightRedis.make({ name: "bench", key: Schema.String, success: Schema.Number }).pipe(
        Effect.provideService(SingleFlightRedis.RedisConnection, connection)
      )
    })
    const a = yield* redisGroup
    const b = yield* redisGroup
    const followers = Math.max(20, Math.round(iterations / 2))
    const follower = "follower latency after the owner finishes"

    yield* samples(200, "warm-local", uncontended(local))
    yield* samples(200, "warm-redis", uncontended(a))
    return [
      row("uncontended call", inMemory, yield* samples(iterations, "local", uncontended(local))),
      row(
        "uncontended call",
        overRedis,
        yield* samples(iterations, "redis", uncontended(a)),
        "acquire + complete: 2 Redis round trips"
      ),
      row(follower, inMemory, yield* samples(followers, "f-local", followerLatency(local, local))),
      row(
        follower,
        overRedis,
        yield* samples(followers, "f-redis", followerLatency(a, b)),
        "owner and follower on separate connections; pub/sub delivery + Schema decode"
      ),
      row(
        "takeover after the owner is interrupted",
        overRedis,
        yield* samples(Math.max(10, Math.round(iterations / 5)), "t-redis", takeoverLatency(a, b)),
        "the owner gives its lease back and publishes; the follower takes the lease and runs"
      )
    ]
  }).pipe(Effect.scoped, Effect.runPromise)
