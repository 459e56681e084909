import { startRedisServer } from "@effect-singleflight/testing/RedisServer"
import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Option, Result } from "effect"
import { SingleFlightRedis } from "../src/index.js"
import {
  groupOptions,
  NotFound,
  runsKey,
  testTiming,
  unencodablePrefix,
  type WorkerConfig
} from "./fixtures/schemas.js"
import { connect, counter, eventually, namesOf, since, subscribers } from "./utils/instances.js"
import { isDone, isReady, isStarted, spawnWorker, type Worker } from "./utils/workers.js"

const worker = (config: Omit<WorkerConfig, "workMillis"> & { readonly workMillis?: number }) =>
  spawnWorker({ workMillis: 300, ...config })

const allReady = (workers: ReadonlyArray<Worker>) =>
  Effect.forEach(workers, (worker) => worker.waitFor(isReady), { concurrency: "unbounded", discard: true })

const leaseMillis = Duration.toMillis(testTiming.lease)
const pollMillis = Duration.toMillis(testTiming.pollEvery)

describe("SingleFlightRedis across processes", () => {
  it.live(
    "four worker processes calling the same five keys at once run each key once and all get its value",
    () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const keys = ["a", "b", "c", "d", "e"]
        const workers = yield* Effect.forEach(
          ["w1", "w2", "w3", "w4"],
          // long enough that every worker joins before the first flight ends
          (id) => worker({ id, url: server.url, name: "fleet", keys, mode: "succeed", workMillis: 1_000 }),
          { concurrency: "unbounded" }
        )
        yield* allReady(workers)
        yield* Effect.forEach(workers, (worker) => worker.go, { discard: true })
        for (const key of keys) {
          const outcomes = yield* Effect.forEach(workers, (worker) => worker.waitFor(isDone(key)), {
            concurrency: "unbounded"
          })
          const values = outcomes.map(({ outcome }) => outcome._tag === "Success" ? outcome.value : outcome._tag)
          expect(new Set(values).size).toBe(1)
          expect(values[0]).toMatch(new RegExp(`^w[1-4]:${key}$`))
          expect(yield* counter(admin, runsKey("fleet", key))).toBe(1)
        }
      }),
    60_000
  )

  it.live(
    "when the owner process is killed with SIGKILL mid-flight, a survivor takes over within lease + poll + slack and every caller gets an answer",
    () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const config = { url: server.url, name: "failover", keys: ["k"], mode: "hangFirst" } as const
        const owner = yield* worker({ id: "owner", ...config })
        const survivors = yield* Effect.forEach(["s1", "s2"], (id) => worker({ id, ...config }), {
          concurrency: "unbounded"
        })
        yield* allReady([owner, ...survivors])
        yield* owner.go
        yield* owner.waitFor(isStarted("k"))
        yield* Effect.forEach(survivors, (survivor) => survivor.go, { discard: true })
        yield* eventually(
          "both survivors follow the owner",
          Effect.map(subscribers(admin, namesOf("failover", "k").channel), (n) => n === 2),
          "20 seconds"
        )

        const start = performance.now()
        yield* owner.kill
        yield* Effect.raceAll(survivors.map((survivor) => survivor.waitFor(isStarted("k"))))
        const takeover = since(start)
        const answers = yield* Effect.forEach(survivors, (survivor) => survivor.waitFor(isDone("k")), {
          concurrency: "unbounded"
        })

        const values = answers.map(({ outcome }) => outcome._tag === "Success" ? outcome.value : outcome._tag)
        expect(values[0]).toMatch(/^s[12]:k$/)
        // The other survivor follows the one that took over.
        expect(values[1]).toBe(values[0])
        expect(yield* counter(admin, runsKey("failover", "k"))).toBe(2)
        // The lease was renewed at most a third of a lease before the kill, so it
        // outlives the owner by at least two thirds of it; then one poll, plus slack.
        expect(takeover).toBeGreaterThanOrEqual(Math.floor(leaseMillis * 2 / 3) - 50)
        expect(takeover).toBeLessThan(leaseMillis + pollMillis + 500)
        yield* Effect.logInfo(`takeover after SIGKILL: ${takeover} ms`)
      }),
    60_000
  )

  it.live(
    "a typed error and a defect raised in one process reach a caller in another as a NotFound and an Error",
    () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const failing = yield* worker({
          id: "failing",
          url: server.url,
          name: "exits",
          keys: ["missing"],
          mode: "fail",
          workMillis: 1_000
        })
        const dying = yield* worker({
          id: "dying",
          url: server.url,
          name: "exits",
          keys: ["broken"],
          mode: "die",
          workMillis: 1_000
        })
        yield* allReady([failing, dying])
        yield* failing.go
        yield* dying.go
        yield* failing.waitFor(isStarted("missing"))
        yield* dying.waitFor(isStarted("broken"))

        // This process follows both flights.
        const group = yield* SingleFlightRedis.make(groupOptions("exits")).pipe(
          Effect.provideService(SingleFlightRedis.RedisConnection, yield* connect(server))
        )
        const [missing, broken] = yield* Effect.all([
          Effect.exit(group.call("missing", Effect.succeed("unused"))),
          Effect.exit(group.call("broken", Effect.succeed("unused")))
        ], { concurrency: "unbounded" })

        assert(Exit.isFailure(missing) && Exit.isFailure(broken), "both calls fail")
        const error = Option.getOrUndefined(Cause.findErrorOption(missing.cause))
        assert(error instanceof NotFound, "the typed error is a NotFound instance")
        expect(error.id).toBe("missing")
        const defect = Result.getOrUndefined(Cause.findDefect(broken.cause))
        assert(defect instanceof Error, "the defect is an Error")
        expect(defect.name).toBe("TypeError")
        expect(defect.message).toBe("boom from dying")
        expect(yield* group.redisStats).toMatchObject({ followed: 2, owned: 0, ranLocally: 0 })

        // and the owners' own callers saw the same
        const own = yield* failing.waitFor(isDone("missing"))
        expect(own.outcome).toEqual({ _tag: "Failure", errorTag: "NotFound", id: "missing", isInstance: true })
        const ownDefect = yield* dying.waitFor(isDone("broken"))
        expect(ownDefect.outcome).toEqual({ _tag: "Defect", name: "TypeError", message: "boom from dying" })
      }),
    60_000
  )

  it.live(
    "a result nobody can encode: the owner's callers get it, and the three other processes run the work at once, side by side",
    () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const admin = yield* connect(server)
        const config = { url: server.url, name: "unencodable", keys: ["k"], mode: "unencodable" } as const
        const workers = yield* Effect.forEach(
          ["w1", "w2", "w3", "w4"],
          (id) => worker({ id, ...config, workMillis: 1_000 }),
          { concurrency: "unbounded" }
        )
        yield* allReady(workers)
        yield* Effect.forEach(workers, (worker) => worker.go, { discard: true })
        const answers = yield* Effect.forEach(workers, (worker) => worker.waitFor(isDone("k")), {
          concurrency: "unbounded"
        })
        // every process gets the value of its own execution, the owner's callers included
        expect(answers.map(({ outcome }) => outcome)).toEqual(
          workers.map(({ id }) => ({ _tag: "Success", value: `${unencodablePrefix}${id}:k` }))
        )
        expect(yield* counter(admin, runsKey("unencodable", "k"))).toBe(4)
        const starts = (yield* Effect.forEach(workers, (worker) => worker.waitFor(isStarted("k"))))
          .map(({ at }) => at)
          .sort((a, b) => a - b)
        const [first, ...followers] = starts
        const followersSpread = followers[followers.length - 1]! - followers[0]!
        yield* Effect.logInfo(
          `unencodable result: executions started at +${starts.map((at) => at - first!).join(", +")} ms`
        )
        // one after another, they would start a work's length (1 s) apart
        expect(followersSpread).toBeLessThan(500)
        expect(starts[starts.length - 1]! - first!).toBeLessThan(1_800)
      }),
    60_000
  )
})
