import { HttpSingleFlight } from "@effect-singleflight/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Fiber, Layer, Logger, Ref } from "effect"
import { SingleFlight } from "effect-singleflight"
import { HttpServer } from "effect/http"
import { createServer } from "node:http"
import { Database, ServerLive } from "../src/Customers.js"

/** A database that counts its queries and answers none until the test opens its gate. */
const makeGatedDatabase = Effect.gen(function*() {
  const queries = yield* Ref.make(0)
  const gate = yield* Deferred.make<void>()
  const layer = Layer.succeed(Database)({
    lookup: (name) =>
      Ref.update(queries, (n) => n + 1).pipe(
        Effect.andThen(Deferred.await(gate)),
        Effect.as(name === "customer-1" ? 1 : 0)
      )
  })
  return { layer, queries: Ref.get(queries), open: Deferred.succeed(gate, undefined) }
})

/** The example's server on a free loopback port, on the gated database; its services, for their stats. */
const startServer = (database: Layer.Layer<Database>) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(
      ServerLive.pipe(
        Layer.provide(database),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provide(Logger.layer([]))
      )
    )
    const address = Context.get(services, HttpServer.HttpServer).address
    if (!("port" in address)) return yield* Effect.die(new Error(`unexpected address ${address._tag}`))
    return {
      url: (path: string) => `http://127.0.0.1:${address.port}${path}`,
      http: Context.get(services, HttpSingleFlight.HttpSingleFlight),
      core: Context.get(services, SingleFlight.SingleFlight)
    }
  })

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, role: response.headers.get("x-singleflight"), body: await response.json() }
  })

/** Polls `stats` on real time until `calls` callers have arrived. */
const awaitCalls = (stats: Effect.Effect<SingleFlight.Stats>, calls: number): Effect.Effect<void> => {
  const poll: Effect.Effect<void> = Effect.flatMap(
    stats,
    (now) => now.calls >= calls ? Effect.void : Effect.andThen(Effect.sleep("2 millis"), Effect.suspend(() => poll))
  )
  return poll.pipe(
    Effect.timeoutOrElse({
      duration: Duration.seconds(5),
      orElse: () => Effect.die(new Error(`${calls} callers did not arrive`))
    })
  )
}

describe("the example customer service", () => {
  it.live("concurrent identical requests share one response and one database query", () =>
    Effect.gen(function*() {
      const database = yield* makeGatedDatabase
      const server = yield* startServer(database.layer)
      const requests = yield* Effect.forEach(
        Array.from({ length: 20 }),
        () => Effect.forkChild(get(server.url("/customers/customer-1")))
      )
      yield* awaitCalls(server.http.stats, 20)
      yield* database.open
      const responses = yield* Effect.forEach(requests, Fiber.join)

      expect(yield* database.queries).toBe(1)
      expect(responses.every((response) => response.status === 200)).toBe(true)
      expect(responses.map((response) => response.body)).toEqual(
        Array.from({ length: 20 }, () => ({ name: "customer-1", id: 1 }))
      )
      expect(responses.filter((response) => response.role === "leader")).toHaveLength(1)
      expect(responses.filter((response) => response.role === "shared")).toHaveLength(19)
    }))

  it.live("requests that differ share one query of the customer they all ask for, and not another's", () =>
    Effect.gen(function*() {
      const database = yield* makeGatedDatabase
      const server = yield* startServer(database.layer)
      const paths = [
        ...Array.from({ length: 10 }, (_, i) => `/customers/customer-1?visit=${i}`),
        "/customers/customer-2"
      ]
      const requests = yield* Effect.forEach(paths, (path) => Effect.forkChild(get(server.url(path))))
      yield* awaitCalls(server.core.stats, paths.length)
      yield* database.open
      const responses = yield* Effect.forEach(requests, Fiber.join)

      expect(yield* database.queries).toBe(2)
      expect(responses.map((response) => response.role)).toEqual(paths.map(() => "leader"))
      expect(responses.map((response) => response.body)).toEqual([
        ...Array.from({ length: 10 }, () => ({ name: "customer-1", id: 1 })),
        { name: "customer-2", id: 0 }
      ])
    }))
})
