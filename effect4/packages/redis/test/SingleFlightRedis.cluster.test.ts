import { startRedisCluster } from "@effect-singleflight/testing/RedisServer"
import type { RedisCluster } from "@effect-singleflight/testing/RedisServer"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { SingleFlightRedis } from "../src/index.js"
import { groupOptions, runsKey, testTiming } from "./fixtures/schemas.js"
import { connect, counter, eventually, namesOf, since } from "./utils/instances.js"
import { isDone, isReady, isStarted, spawnWorker } from "./utils/workers.js"

const { RedisConnection } = SingleFlightRedis

/** A connection to the whole cluster, as an instance of a service would have. */
const connectCluster = (cluster: RedisCluster, commandTimeout: Duration.Input = "500 millis") =>
  SingleFlightRedis.makeCluster({
    rootNodes: cluster.urls.map((url) => ({ url })),
    defaults: { socket: { reconnectStrategy: 50 } },
    connectTimeout: "5 seconds",
    commandTimeout
  })

/** `count` keys of group `name` for each master (in `cluster.nodes` order), by the slot of their names. */
const keysPerMaster = (cluster: RedisCluster, name: string, count: number) =>
  Effect.gen(function*() {
    const admin = yield* connect(cluster.nodes[0]!)
    const ranges = (yield* Effect.orDie(admin.send(["CLUSTER", "SLOTS"]))) as Array<[number, number, [string, number]]>
    const masterOf = (slot: number) => {
      const range = ranges.find(([from, to]) => from <= slot && slot <= to)
      return cluster.nodes.findIndex(({ port }) => port === Number(range?.[2][1]))
    }
    const perMaster = cluster.nodes.map((): Array<string> => [])
    for (let i = 0; perMaster.some((keys) => keys.length < count); i++) {
      const key = `key-${i}`
      const slot = Number(yield* Effect.orDie(admin.send(["CLUSTER", "KEYSLOT", namesOf(name, key).lease])))
      const keys = perMaster[masterOf(slot)]
      if (keys !== undefined && keys.length < count) keys.push(key)
    }
    return perMaster
  }).pipe(Effect.scoped)

const groupOn = (connection: SingleFlightRedis.RedisConnection, name: string) =>
  SingleFlightRedis.make(groupOptions(name)).pipe(Effect.provideService(RedisConnection, connection))

describe("SingleFlightRedis on a Redis Cluster (three masters)", () => {
  it.live(
    "three processes calling keys spread over every master run each key once, and a killed owner is taken over",
    () =>
      Effect.gen(function*() {
        const cluster = yield* startRedisCluster(3)
        const admin = yield* connectCluster(cluster)
        const perMaster = yield* keysPerMaster(cluster, "cluster-fleet", 3)
        const keys = perMaster.flat()
        const workers = yield* Effect.forEach(
          ["w1", "w2", "w3"],
          (id) =>
            spawnWorker({
              id,
              url: cluster.urls[0]!,
              cluster: cluster.urls,
              name: "cluster-fleet",
              keys,
              mode: "succeed",
              // On a loaded machine a worker may hear "go" late, or open its first connection to a shard's
              // pub/sub slowly: a long flight and patient commands keep the test about coalescing.
              workMillis: 2_000,
              commandTimeout: 5_000
            }),
          { concurrency: "unbounded" }
        )
        // The owner to kill: a fourth process whose execution of "hung" never ends.
        const owner = yield* spawnWorker({
          id: "owner",
          url: cluster.urls[0]!,
          cluster: cluster.urls,
          name: "cluster-failover",
          keys: ["hung"],
          mode: "hangFirst",
          workMillis: 100
        })
        yield* Effect.forEach([...workers, owner], (worker) => worker.waitFor(isReady), { discard: true })
        yield* Effect.forEach(workers, (worker) => worker.go, { discard: true })
        yield* owner.go
        for (const key of keys) {
          const outcomes = yield* Effect.forEach(workers, (worker) => worker.waitFor(isDone(key)))
          const values = outcomes.map(({ outcome }) => outcome._tag === "Success" ? outcome.value : outcome._tag)
          const logs = workers.map((worker) => `${worker.id}: ${worker.stderr()}`).join("\n")
          expect(new Set(values).size, `values of ${key}: ${values.join(", ")}; logs:\n${logs}`).toBe(1)
          expect(values[0]).toMatch(new RegExp(`^w[1-3]:${key}$`))
          expect(yield* counter(admin, runsKey("cluster-fleet", key))).toBe(1)
        }

        // A survivor in this process follows the owner's flight, then the owner is killed.
        yield* owner.waitFor(isStarted("hung"))
        const survivor = yield* groupOn(yield* connectCluster(cluster), "cluster-failover")
        const follower = yield* Effect.forkChild(survivor.call("hung", Effect.succeed("taken over")))
        yield* Effect.sleep("200 millis")
        const start = performance.now()
        yield* owner.kill
        expect(yield* Fiber.join(follower)).toBe("taken over")
        const takeover = since(start)
        yield* Effect.logInfo(`cluster: takeover after SIGKILL of the owner: ${takeover} ms`)
        expect(takeover).toBeLessThan(
          Duration.toMillis(testTiming.lease) + Duration.toMillis(testTiming.pollEvery) + 500
        )
        expect(yield* survivor.redisStats).toMatchObject({ owned: 1, takeovers: 1 })
      }),
    90_000
  )

  it.live(
    "a master killed mid-flight: its keys' calls are answered locally, the other masters' keys still coalesce",
    () =>
      Effect.gen(function*() {
        const cluster = yield* startRedisCluster(3)
        const a = yield* groupOn(yield* connectCluster(cluster), "cluster-outage")
        const b = yield* groupOn(yield* connectCluster(cluster), "cluster-outage")
        const [doomed, healthy, other] = (yield* keysPerMaster(cluster, "cluster-outage", 1)).flat()
        let runs = 0
        const work = (value: string, millis: number) =>
          Effect.sync(() => runs++).pipe(Effect.andThen(Effect.sleep(millis)), Effect.as(value))

        // sharded pub/sub across instances, on every master
        const before = yield* Effect.all(
          [doomed!, healthy!, other!].flatMap((key) => [a.call(key, work(key, 200)), b.call(key, work(key, 200))]),
          { concurrency: "unbounded" }
        )
        expect(before).toEqual([doomed, doomed, healthy, healthy, other, other])
        expect(runs).toBe(3)
        // results went out by SPUBLISH on their shard (inside the scripts), never by a broadcast PUBLISH
        const nodeAdmins = yield* Effect.forEach(cluster.nodes, (node) => connect(node))
        const published = yield* Effect.forEach(nodeAdmins, (admin) =>
          Effect.map(Effect.orDie(admin.send(["INFO", "commandstats"])), (info) => ({
            spublish: Number(/cmdstat_spublish:calls=(\d+)/.exec(String(info))?.[1] ?? 0),
            publish: Number(/cmdstat_publish:calls=(\d+)/.exec(String(info))?.[1] ?? 0)
          })))
        expect(published.map(({ spublish }) =>
          spublish
        )).toEqual([1, 1, 1])
        expect(published.map(({ publish }) => publish)).toEqual([0, 0, 0])

        runs = 0
        const owner = yield* Effect.forkChild(a.call(doomed!, work("from a", 600)))
        yield* Effect.sleep("100 millis")
        const follower = yield* Effect.forkChild(b.call(doomed!, work("from b", 10)))
        const channel = namesOf("cluster-outage", doomed!).channel
        yield* eventually(
          "the follower is subscribed to the key's shard channel",
          Effect.map(nodeAdmins[0]!.send(["PUBSUB", "SHARDNUMSUB", channel]), (reply) =>
            Array.isArray(reply) && Number(reply[1]) === 1)
        )
        const start = performance.now()
        yield* cluster.nodes[0]!.kill
        expect(yield* Fiber.join(follower)).toBe("from b")
        const fallback = since(start)
        expect(yield* Fiber.join(owner)).toBe("from a")
        yield* Effect.logInfo(`cluster: master killed, the follower answered locally after ${fallback} ms`)
        // a poll, then one command timeout (500 ms), plus slack
        expect(fallback).toBeLessThan(1_500)
        expect(runs).toBe(2)

        // the surviving masters still coalesce across instances
        runs = 0
        const after = yield* Effect.all(
          [healthy!, other!].flatMap((key) => [a.call(key, work(key, 200)), b.call(key, work(key, 200))]),
          { concurrency: "unbounded" }
        )
        expect(after).toEqual([healthy, healthy, other, other])
        expect(runs).toBe(2)
        // and the dead master's keys are answered, locally
        const start2 = performance.now()
        expect(yield* b.call(doomed!, work("local", 10))).toBe("local")
        expect(since(start2)).toBeLessThan(1_000)
      }),
    60_000
  )
})
