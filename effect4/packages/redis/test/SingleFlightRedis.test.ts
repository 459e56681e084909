import { freePort, startRedisServer } from "@effect-singleflight/testing/RedisServer"
import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Metric, Option, Result, Schema } from "effect"
import { SingleFlight, SingleFlightMetrics } from "effect-singleflight"
import { SingleFlightRedis } from "../src/index.js"
import { groupOptions, NotFound, testTiming } from "./fixtures/schemas.js"
import { capturingWarnings, connect, eventually, namesOf, since, subscribers } from "./utils/instances.js"

const { RedisConnection } = SingleFlightRedis

/** A group of `name` (string keys and values, `NotFound` errors, test timing) on `connection`. */
const groupOn = (
  connection: SingleFlightRedis.RedisConnection,
  name: string,
  overrides: SingleFlightRedis.TimingOptions & { readonly onFollowerTimeout?: "runLocally" | undefined } = {}
) =>
  SingleFlightRedis.make({ ...groupOptions(name), ...overrides }).pipe(
    Effect.provideService(RedisConnection, connection)
  )

/** Work that counts its runs, says when it started, and answers `value` after `millis`. */
const counted = (value: string, millis = 200) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    let runs = 0
    const work = Effect.sync(() => runs++).pipe(
      Effect.andThen(Deferred.succeed(started, undefined)),
      Effect.andThen(Effect.sleep(millis)),
      Effect.as(value)
    )
    return { work, started: Deferred.await(started), runs: () => runs } as const
  })

const failureOf = <E>(exit: Exit.Exit<unknown, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Result.getOrUndefined(Cause.findDefect(exit.cause)) : undefined

describe("SingleFlightRedis", () => {
  describe("coalescing across instances", () => {
    it.live("two groups in one process, each on its own connections, share one execution like two instances", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const a = yield* groupOn(yield* connect(server), "pair")
        const b = yield* groupOn(yield* connect(server), "pair")
        let runs = 0
        const work = (group: SingleFlight.Group<string, string, NotFound>, label: string) =>
          Effect.gen(function*() {
            runs++
            const key = yield* group.key
            yield* Effect.sleep("200 millis")
            return `${label}:${key}`
          })
        const results = yield* Effect.all(
          [
            ...Array.from({ length: 5 }, () => a.call("k", work(a, "a"))),
            ...Array.from({ length: 5 }, () => b.call("k", work(b, "b")))
          ],
          { concurrency: "unbounded" }
        )
        expect(runs).toBe(1)
        expect(new Set(results).size).toBe(1)
        expect(["a:k", "b:k"]).toContain(results[0])
        const [statsA, statsB] = [yield* a.redisStats, yield* b.redisStats]
        expect(statsA.owned + statsB.owned).toBe(1)
        expect(statsA.followed + statsB.followed).toBe(1)
        expect((yield* a.stats).joined).toBe(4)
        expect(yield* a.size).toBe(0)
        // the in-memory groups carry the name into the core's metrics
        const calls = yield* Metric.value(SingleFlightMetrics.forGroup(SingleFlightMetrics.calls, "pair"))
        expect(calls.count).toBe(10)
      }))

    it.live("a flight costs its process two Redis round trips, however many local callers share it", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const group = yield* groupOn(yield* connect(server), "trips")
        // Loads the scripts, so that the count below has no EVAL fallback in it.
        yield* group.call("warm-up", Effect.succeed("ready"))
        // the owner publishes in the background: wait for it before counting
        yield* eventually(
          "the warm-up result is stored",
          Effect.map(admin.send(["EXISTS", namesOf("trips", "warm-up").lease]), (n) => n === 0)
        )
        yield* admin.send(["CONFIG", "RESETSTAT"])
        const { work } = yield* counted("v", 50)
        const results = yield* Effect.all(Array.from({ length: 20 }, () => group.call("k", work)), {
          concurrency: "unbounded"
        })
        expect(results).toEqual(Array.from({ length: 20 }, () => "v"))
        yield* eventually(
          "the result is published",
          Effect.map(admin.send(["EXISTS", namesOf("trips", "k").lease]), (n) => n === 0)
        )
        const info = String(yield* admin.send(["INFO", "commandstats"]))
        const calls: Record<string, number> = Object.fromEntries(
          Array.from(info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm), ([, command, count]) => [command, Number(count)])
        )
        // Redis also counts the commands run inside scripts, and the test's own EXISTS; leave those out.
        const insideScripts = ["set", "get", "del", "publish", "pexpire", "pttl", "config|resetstat", "exists"]
        const sent = Object.keys(calls).filter((command) => !insideScripts.includes(command))
        // acquire, then complete (store + publish + release): nothing else
        expect(sent).toEqual(["evalsha"])
        expect(calls.evalsha).toBe(2)
      }))

    it.live(
      "the owner renews its lease while the work outlasts it, so nobody takes over",
      () =>
        Effect.gen(function*() {
          const server = yield* startRedisServer
          const a = yield* groupOn(yield* connect(server), "renewal")
          const b = yield* groupOn(yield* connect(server), "renewal")
          const { runs, started, work } = yield* counted("long", 1_300)
          const owner = yield* Effect.forkChild(a.call("k", work))
          yield* started
          const follower = yield* b.call("k", work)
          expect(follower).toBe("long")
          expect(yield* Fiber.join(owner)).toBe("long")
          expect(runs()).toBe(1)
          expect(yield* b.redisStats).toMatchObject({ followed: 1, takeovers: 0, ranLocally: 0 })
        }),
      10_000
    )
    it.live("reuseSuccessFor applies within a process: a reused success runs nothing and asks Redis nothing", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const group = yield* SingleFlightRedis.make({ ...groupOptions("reuse"), reuseSuccessFor: "10 seconds" }).pipe(
          Effect.provideService(RedisConnection, yield* connect(server))
        )
        const { runs, work } = yield* counted("fresh", 10)
        expect(yield* group.call("k", work)).toBe("fresh")
        // the owner publishes in the background: wait for it before counting
        yield* eventually(
          "the result is published",
          Effect.map(admin.send(["EXISTS", namesOf("reuse", "k").lease]), (n) => n === 0)
        )
        yield* admin.send(["CONFIG", "RESETSTAT"])
        expect(yield* group.call("k", work)).toBe("fresh")
        expect(runs()).toBe(1)
        expect((yield* group.stats).reused).toBe(1)
        const info = String(yield* admin.send(["INFO", "commandstats"]))
        expect(info).not.toMatch(/cmdstat_eval/)
      }))
  })

  describe("the exit crosses over", () => {
    it.live("a typed error arrives as an instance of its class, and a defect as a readable Error", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const a = yield* groupOn(yield* connect(server), "exits")
        const b = yield* groupOn(yield* connect(server), "exits")
        const started = yield* Deferred.make<void>()
        const failing = Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.sleep("150 millis")),
          Effect.andThen(Effect.fail(new NotFound({ id: "missing" })))
        )
        const owner = yield* Effect.forkChild(a.call("missing", failing))
        yield* Deferred.await(started)
        const followed = yield* Effect.exit(b.call("missing", Effect.succeed("unused")))
        const error = failureOf(followed)
        assert(error instanceof NotFound, "the follower's failure is a NotFound instance")
        expect(error.id).toBe("missing")
        expect(failureOf(yield* Fiber.await(owner))).toBeInstanceOf(NotFound)

        const dying = Effect.sleep("150 millis").pipe(Effect.andThen(Effect.die(new RangeError("out of range"))))
        const owner2 = yield* Effect.forkChild(a.call("broken", dying))
        yield* Effect.sleep("50 millis")
        const defect = defectOf(yield* Effect.exit(b.call("broken", Effect.succeed("unused"))))
        assert(defect instanceof Error, "the follower's defect is an Error")
        expect(defect.name).toBe("RangeError")
        expect(defect.message).toBe("out of range")
        // the owner's own callers keep the original defect
        expect(defectOf(yield* Fiber.await(owner2))).toBeInstanceOf(RangeError)
        expect((yield* b.redisStats).followed).toBe(2)
      }))

    it.live("a result the follower cannot decode (a changed schema) makes it run the work locally", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const a = yield* groupOn(yield* connect(server), "rolling")
        const b = yield* SingleFlightRedis.make({
          name: "rolling",
          key: Schema.String,
          success: Schema.Number,
          ...testTiming
        })
          .pipe(Effect.provideService(RedisConnection, yield* connect(server)))
        const { started, work } = yield* counted("not a number")
        const owner = yield* Effect.forkChild(a.call("k", work))
        yield* started
        expect(yield* b.call("k", Effect.succeed(42))).toBe(42)
        expect(yield* Fiber.join(owner)).toBe("not a number")
        expect(yield* b.redisStats).toMatchObject({ followed: 0, ranLocally: 1 })
      }))

    it.live("a publication for another token is never taken for the followed flight's result", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const a = yield* groupOn(yield* connect(server), "tokens")
        const b = yield* groupOn(yield* connect(server), "tokens")
        const names = namesOf("tokens", "k")
        const finish = yield* Deferred.make<void>()
        const owner = yield* Effect.forkChild(a.call("k", Deferred.await(finish).pipe(Effect.as("genuine"))))
        yield* eventually("the owner holds the lease", Effect.map(admin.send(["EXISTS", names.lease]), (n) => n === 1))
        const follower = yield* Effect.forkChild(b.call("k", Effect.succeed("run by b")))
        yield* eventually("the follower is subscribed", Effect.map(subscribers(admin, names.channel), (n) => n === 1))
        // Another flight's result, stored and published, then another flight's release.
        const stranger = "f".repeat(32)
        const forged = JSON.stringify({ _tag: "Success", value: "forged" })
        yield* admin.send(["SET", names.result(stranger), forged])
        yield* admin.send(["PUBLISH", names.channel, `${stranger}\n${forged}`])
        yield* admin.send(["PUBLISH", names.channel, stranger])
        yield* Effect.sleep("200 millis")
        expect(follower.pollUnsafe()).toBeUndefined()
        yield* Deferred.succeed(finish, undefined)
        expect(yield* Fiber.join(follower)).toBe("genuine")
        expect(yield* Fiber.join(owner)).toBe("genuine")
      }))
  })

  describe("owner failure", () => {
    it.live("an interrupted owner gives its lease back, and a follower takes over at once", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        // A long lease and slow polls: only the owner's release can explain a quick takeover.
        const timing = { lease: "5 seconds", pollEvery: "2 seconds" } as const
        const a = yield* groupOn(yield* connect(server), "handover", timing)
        const b = yield* groupOn(yield* connect(server), "handover", timing)
        const started = yield* Deferred.make<void>()
        const cleanedUp = yield* Deferred.make<void>()
        const forever = Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(cleanedUp, undefined))
        )
        const owner = yield* Effect.forkChild(a.call("k", forever))
        yield* Deferred.await(started)
        const follower = yield* Effect.forkChild(b.call("k", Effect.succeed("taken over")))
        yield* eventually(
          "the follower is subscribed",
          Effect.map(subscribers(admin, namesOf("handover", "k").channel), (n) => n === 1)
        )
        const start = performance.now()
        yield* Fiber.interrupt(owner)
        expect(yield* Fiber.join(follower)).toBe("taken over")
        expect(since(start)).toBeLessThan(1_000)
        expect(yield* Deferred.isDone(cleanedUp)).toBe(true)
        expect(yield* b.redisStats).toMatchObject({ owned: 1, takeovers: 1 })
      }))

    it.live("a follower whose local callers all left unsubscribes, and the owner carries on", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const a = yield* groupOn(yield* connect(server), "leaving")
        const b = yield* groupOn(yield* connect(server), "leaving")
        const channel = namesOf("leaving", "k").channel
        const { runs, started, work } = yield* counted("done", 400)
        const owner = yield* Effect.forkChild(a.call("k", work))
        yield* started
        const follower = yield* Effect.forkChild(b.call("k", work))
        yield* eventually("the follower is subscribed", Effect.map(subscribers(admin, channel), (n) => n === 1))
        yield* Fiber.interrupt(follower)
        yield* eventually("the follower unsubscribed", Effect.map(subscribers(admin, channel), (n) => n === 0))
        expect(yield* b.size).toBe(0)
        expect(yield* Fiber.join(owner)).toBe("done")
        expect(runs()).toBe(1)
      }))

    it.live("an owner that lost its lease (a pause longer than the lease) lets a follower run the work too", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const a = yield* groupOn(yield* connect(server), "paused")
        const b = yield* groupOn(yield* connect(server), "paused")
        const names = namesOf("paused", "k")
        const finish = yield* Deferred.make<void>()
        const owner = yield* Effect.forkChild(a.call("k", Deferred.await(finish).pipe(Effect.as("from a"))))
        yield* eventually("the owner holds the lease", Effect.map(admin.send(["EXISTS", names.lease]), (n) => n === 1))
        const follower = yield* Effect.forkChild(b.call("k", Effect.succeed("from b")))
        yield* eventually("the follower is subscribed", Effect.map(subscribers(admin, names.channel), (n) => n === 1))
        // What a long GC pause of the owner amounts to: its lease expires under it.
        yield* admin.send(["DEL", names.lease])
        // At most one execution per lease, not exactly once: b holds the next lease and runs.
        expect(yield* Fiber.join(follower)).toBe("from b")
        yield* Deferred.succeed(finish, undefined)
        expect(yield* Fiber.join(owner)).toBe("from a")
        expect(yield* b.redisStats).toMatchObject({ owned: 1, takeovers: 1 })
      }))
  })

  describe("when Redis cannot help", () => {
    it.live(
      "with Redis killed mid-flight the follower runs the work locally, and coalescing resumes after a restart",
      () =>
        Effect.gen(function*() {
          const server = yield* startRedisServer
          const admin = yield* connect(server)
          const a = yield* groupOn(yield* connect(server), "outage")
          const b = yield* groupOn(yield* connect(server), "outage")
          const { runs, started, work } = yield* counted("answer", 400)
          const owner = yield* Effect.forkChild(a.call("k", work))
          yield* started
          const follower = yield* Effect.forkChild(b.call("k", work))
          yield* eventually(
            "the follower is subscribed",
            Effect.map(subscribers(admin, namesOf("outage", "k").channel), (n) => n === 1)
          )
          const killedAt = performance.now()
          yield* server.kill
          expect(yield* Fiber.join(follower)).toBe("answer")
          yield* Effect.logInfo(`Redis killed mid-flight: the follower answered ${since(killedAt)} ms after the kill`)
          expect(yield* Fiber.join(owner)).toBe("answer")
          expect(runs()).toBe(2)
          expect(yield* b.redisStats).toMatchObject({ followed: 0, ranLocally: 1 })

          yield* server.restart
          // The clients reconnect on their own (every 50 ms here); a bounded number of waves.
          let resumedAt = -1
          for (let wave = 0; wave < 40 && resumedAt < 0; wave++) {
            const { runs, work } = yield* counted("again", 100)
            const results = yield* Effect.all([a.call(`wave-${wave}`, work), b.call(`wave-${wave}`, work)], {
              concurrency: "unbounded"
            })
            expect(results).toEqual(["again", "again"])
            if (runs() === 1) resumedAt = wave
            else yield* Effect.sleep("50 millis")
          }
          expect(resumedAt).toBeGreaterThanOrEqual(0)
        }),
      15_000
    )

    it.live("with Redis down, a burst of calls logs one warning line per kind, not one per call", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const group = yield* groupOn(yield* connect(server), "burst")
        yield* server.kill
        const start = performance.now()
        const [results, warnings] = yield* capturingWarnings((warnings) =>
          Effect.forEach(
            Array.from({ length: 40 }, (_, i) => `k${i}`),
            (key) => group.call(key, Effect.succeed(key)),
            { concurrency: "unbounded" }
          ).pipe(Effect.map((results) => [results, warnings] as const))
        )
        expect(results).toHaveLength(40)
        yield* Effect.logInfo(`Redis down: 40 concurrent calls answered locally in ${since(start)} ms`)
        expect((yield* group.redisStats).ranLocally).toBe(40)
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain("Redis is unavailable; running the work in this process")
      }))

    it.live("a late subscriber, whose subscription lands after the owner published, reads the stored result", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const a = yield* groupOn(yield* connect(server), "late-subscriber")
        // b's own Redis connection, whose subscriptions wait for a gate: a slow subscriber.
        const gate = yield* Deferred.make<void>()
        const real = yield* connect(server)
        const slow = RedisConnection.of({
          send: real.send,
          subscribe: (channel, onMessage) =>
            Deferred.await(gate).pipe(Effect.andThen(real.subscribe(channel, onMessage)))
        })
        // Polls too slow to explain a quick answer: only the read after subscribing can.
        const b = yield* groupOn(slow, "late-subscriber", { pollEvery: "3 seconds" })
        const names = namesOf("late-subscriber", "k")
        const finish = yield* Deferred.make<void>()
        const owner = yield* Effect.forkChild(a.call("k", Deferred.await(finish).pipe(Effect.as("published"))))
        yield* eventually("the owner holds the lease", Effect.map(admin.send(["EXISTS", names.lease]), (n) => n === 1))
        const follower = yield* Effect.forkChild(b.call("k", Effect.succeed("run by b")))
        yield* Effect.sleep("100 millis")
        // The owner finishes and publishes to nobody.
        yield* Deferred.succeed(finish, undefined)
        expect(yield* Fiber.join(owner)).toBe("published")
        expect(yield* subscribers(admin, names.channel)).toBe(0)
        const start = performance.now()
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(follower)).toBe("published")
        expect(since(start)).toBeLessThan(1_000)
        expect(yield* b.redisStats).toMatchObject({ followed: 1, owned: 0, ranLocally: 0 })
      }))

    it.live("a follower that missed the publication (its subscriber connection dropped) reads the stored result", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const a = yield* groupOn(yield* connect(server), "late")
        // b's subscriber reconnects only after two seconds, long after the owner published.
        const b = yield* groupOn(yield* connect(server, { socket: { reconnectStrategy: 2_000 } }), "late")
        const channel = namesOf("late", "k").channel
        const { runs, started, work } = yield* counted("stored", 300)
        const owner = yield* Effect.forkChild(a.call("k", work))
        yield* started
        const follower = yield* Effect.forkChild(b.call("k", work))
        yield* eventually("the follower is subscribed", Effect.map(subscribers(admin, channel), (n) => n === 1))
        yield* admin.send(["CLIENT", "KILL", "TYPE", "pubsub"])
        yield* eventually("nobody is subscribed", Effect.map(subscribers(admin, channel), (n) => n === 0))
        const start = performance.now()
        expect(yield* Fiber.join(follower)).toBe("stored")
        expect(since(start)).toBeLessThan(1_500)
        expect(yield* Fiber.join(owner)).toBe("stored")
        expect(runs()).toBe(1)
        expect((yield* b.redisStats).followed).toBe(1)
      }))

    it.live("a follower timeout fails with FollowerTimeoutError when asked to, and runs the work locally by default", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const a = yield* groupOn(yield* connect(server), "patience")
        const strict = yield* SingleFlightRedis.make({
          ...groupOptions("patience"),
          followerTimeout: "200 millis",
          onFollowerTimeout: "fail"
        }).pipe(Effect.provideService(RedisConnection, yield* connect(server)))
        const lenient = yield* groupOn(yield* connect(server), "patience", { followerTimeout: "200 millis" })
        const started = yield* Deferred.make<void>()
        const owner = yield* Effect.forkChild(
          a.call("k", Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never)))
        )
        yield* Deferred.await(started)

        const start = performance.now()
        const error = failureOf(yield* Effect.exit(strict.call("k", Effect.succeed("unused"))))
        const waited = since(start)
        assert(error instanceof SingleFlightRedis.FollowerTimeoutError, "the strict follower fails with a timeout")
        expect(error.group).toBe("patience")
        expect(waited).toBeGreaterThanOrEqual(190)
        expect(waited).toBeLessThan(1_000)

        expect(yield* lenient.call("k", Effect.succeed("ran here"))).toBe("ran here")
        expect(yield* lenient.redisStats).toMatchObject({ timedOut: 1, ranLocally: 1 })
        yield* Fiber.interrupt(owner)
      }))

    it.live("a stalled Redis fails commands after commandTimeout, and the call runs locally", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const group = yield* groupOn(yield* connect(server, { commandTimeout: "200 millis" }), "stalled")
        yield* server.freeze
        const start = performance.now()
        const result = yield* group.call("k", Effect.succeed("local"))
        const took = since(start)
        yield* server.thaw
        expect(result).toBe("local")
        expect(took).toBeGreaterThanOrEqual(150)
        expect(took).toBeLessThan(1_500)
        expect((yield* group.redisStats).ranLocally).toBe(1)
      }))

    it.live(
      "with Redis frozen (SIGSTOP), a follower gives up within one command timeout, and the owner's callers do not wait",
      () =>
        Effect.gen(function*() {
          const server = yield* startRedisServer
          const admin = yield* connect(server)
          const a = yield* groupOn(yield* connect(server, { commandTimeout: "1 second" }), "frozen")
          const b = yield* groupOn(yield* connect(server, { commandTimeout: "1 second" }), "frozen")
          let workEnded = 0
          const ownerWork = Effect.sleep("300 millis").pipe(
            Effect.andThen(Effect.sync(() => {
              workEnded = performance.now()
            })),
            Effect.as("from a")
          )
          const owner = yield* Effect.forkChild(a.call("k", ownerWork))
          yield* eventually(
            "the owner holds the lease",
            Effect.map(admin.send(["EXISTS", namesOf("frozen", "k").lease]), (n) => n === 1)
          )
          const follower = yield* Effect.forkChild(b.call("k", Effect.succeed("from b")))
          yield* eventually(
            "the follower is subscribed",
            Effect.map(subscribers(admin, namesOf("frozen", "k").channel), (n) => n === 1)
          )
          yield* server.freeze
          const frozenAt = performance.now()
          // the owner's callers: the work's end, then nothing Redis could delay
          expect(yield* Fiber.join(owner)).toBe("from a")
          const ownerDelay = Math.round(performance.now() - workEnded)
          // the follower: at most a poll, then one command timeout (its MGET); unsubscribing is not waited for
          expect(yield* Fiber.join(follower)).toBe("from b")
          const followerWait = since(frozenAt)
          yield* server.thaw
          yield* Effect.logInfo(`frozen Redis: owner's callers +${ownerDelay} ms, follower ${followerWait} ms`)
          expect(ownerDelay).toBeLessThan(250)
          expect(followerWait).toBeGreaterThanOrEqual(950)
          expect(followerWait).toBeLessThan(1_600)
          expect(yield* b.redisStats).toMatchObject({ followed: 0, ranLocally: 1 })
        }),
      15_000
    )

    it.live("a foreign lease without an expiry goes stale after one lease, and the default options take over", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const names = namesOf("foreign", "k")
        yield* admin.send(["SET", names.lease, "written-by-hand"])
        const group = yield* groupOn(yield* connect(server), "foreign", { followerTimeout: undefined })
        const start = performance.now()
        const result = yield* group.call("k", Effect.succeed("ran")).pipe(Effect.timeout("5 seconds"))
        const took = since(start)
        yield* Effect.logInfo(`foreign TTL-less lease: answered after ${took} ms`)
        expect(result).toBe("ran")
        // the lease is given 500 ms to live when first seen, then one poll notices it is gone
        expect(took).toBeGreaterThanOrEqual(450)
        expect(took).toBeLessThan(1_000)
        expect(yield* group.redisStats).toMatchObject({ owned: 1, takeovers: 1, timedOut: 0 })
      }))

    it.live("by default a follower of an owner whose work hangs (renewing its lease) runs the work itself after 2 × lease + poll", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const a = yield* groupOn(yield* connect(server), "hanging")
        const b = yield* groupOn(yield* connect(server), "hanging", { followerTimeout: undefined })
        const started = yield* Deferred.make<void>()
        const owner = yield* Effect.forkChild(
          a.call("k", Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never)))
        )
        yield* Deferred.await(started)
        const start = performance.now()
        const result = yield* b.call("k", Effect.succeed("ran here")).pipe(Effect.timeout("5 seconds"))
        const took = since(start)
        expect(result).toBe("ran here")
        expect(took).toBeGreaterThanOrEqual(2 * 500 + 50 - 10)
        expect(took).toBeLessThan(1_600)
        expect(yield* b.redisStats).toMatchObject({ timedOut: 1, ranLocally: 1 })
        yield* Fiber.interrupt(owner)
      }))

    it.live("the connection fails with a RedisError when Redis cannot be reached within connectTimeout", () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const exit = yield* SingleFlightRedis.makeConnection({
          url: `redis://127.0.0.1:${port}`,
          socket: { reconnectStrategy: 50 },
          connectTimeout: "300 millis"
        }).pipe(Effect.exit)
        const error = failureOf(exit)
        assert(error instanceof SingleFlightRedis.RedisError, "connecting fails with a RedisError")
        expect(error.message).toContain("connect")
      }))
  })

  describe("names and options", () => {
    it.live("groups with different names never share a flight, and keys live under sf:<name>:{<hash>}", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const alpha = yield* groupOn(yield* connect(server), "alpha")
        const beta = yield* groupOn(yield* connect(server), "beta")
        const { runs, work } = yield* counted("v", 200)
        const both = Effect.all([alpha.call("k", work), beta.call("k", work)], { concurrency: "unbounded" })
        const fiber = yield* Effect.forkChild(both)
        yield* eventually(
          "both leases are taken",
          Effect.map(admin.send(["KEYS", "sf:*:lease"]), (keys) => Array.isArray(keys) && keys.length === 2)
        )
        const keys = (yield* admin.send(["KEYS", "sf:*"])) as Array<string>
        expect(keys.sort()).toEqual([namesOf("alpha", "k").lease, namesOf("beta", "k").lease])
        for (const key of keys) expect(key).toMatch(/^sf:(alpha|beta):\{[0-9a-f]{64}\}:lease$/)
        yield* Fiber.join(fiber)
        expect(runs()).toBe(2)
      }))

    it.live("invalid options are a defect with an InvalidOptionsError naming the option", () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const connection = yield* connect(server)
        const optionOf = (exit: Exit.Exit<unknown, unknown>) => {
          const defect = defectOf(exit)
          return defect instanceof SingleFlight.InvalidOptionsError ? defect.option : undefined
        }
        const tryMake = (overrides: SingleFlightRedis.TimingOptions & { readonly name?: string }) =>
          SingleFlightRedis.make({ ...groupOptions("valid"), ...overrides }).pipe(
            Effect.provideService(RedisConnection, connection),
            Effect.exit
          )
        expect(optionOf(yield* tryMake({ lease: "100 millis", renewEvery: "100 millis" }))).toBe("renewEvery")
        expect(optionOf(yield* tryMake({ pollEvery: "1 second", resultTtl: "1 second" }))).toBe("resultTtl")
        expect(optionOf(yield* tryMake({ lease: -5 }))).toBe("lease")
        expect(optionOf(yield* tryMake({ name: "a{b}" }))).toBe("name")
        expect(optionOf(yield* tryMake({ name: "" }))).toBe("name")
        expect(Exit.isSuccess(yield* tryMake({ lease: "2 seconds", renewEvery: "1 second" }))).toBe(true)
      }))
  })
})
