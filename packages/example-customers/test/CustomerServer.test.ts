import { Customers, CustomerServer, Database } from "@effect-singleflight/example-customers"
import { FileSystem, HttpClient, HttpServerRequest } from "@effect/platform"
import type { HttpClientResponse, HttpServerResponse } from "@effect/platform"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Effect, Fiber, Layer, Option, Schema, TestClock } from "effect"
import { SingleFlight } from "effect-singleflight"

/** A real server on a free loopback port, over a real SQLite database, and a real client. */
const ServerLive = (options: CustomerServer.Options) =>
  Layer.merge(
    CustomerServer.layer({ port: 0, database: ":memory:", latency: 0, ...options }),
    NodeHttpClient.layerUndici
  )

const get = (path: string) =>
  Effect.gen(function*() {
    const server = yield* CustomerServer.CustomerServer
    const response = yield* HttpClient.get(`${server.url}${path}`)
    return { status: response.status, contentType: response.headers["content-type"], text: yield* response.text }
  })

const getJson = (path: string) =>
  Effect.gen(function*() {
    const server = yield* CustomerServer.CustomerServer
    const response: HttpClientResponse.HttpClientResponse = yield* HttpClient.get(`${server.url}${path}`)
    return { status: response.status, json: yield* response.json }
  })

describe("CustomerServer routes", () => {
  it.scopedLive("GET /?name= answers the customer's id as text", () =>
    Effect.gen(function*() {
      expect(yield* get("/?name=customer-1")).toEqual({ status: 200, contentType: "text/plain", text: "1" })
      expect((yield* get("/?name=customer-5000")).text).toBe("5000")
    }).pipe(Effect.provide(ServerLive({}))))

  it.scopedLive("an unknown name is 404 Not Found", () =>
    Effect.gen(function*() {
      expect(yield* get("/?name=customer-5001")).toMatchObject({ status: 404, text: "Not Found" })
    }).pipe(Effect.provide(ServerLive({}))))

  it.scopedLive("a missing or empty name is 400, with a message that says what to send", () =>
    Effect.gen(function*() {
      for (const path of ["/", "/?name=", "/?other=1"]) {
        const response = yield* get(path)
        expect(response.status).toBe(400)
        expect(response.text).toContain("\"name\" is missing or empty")
        expect(response.text).toContain("/?name=customer-1")
      }
    }).pipe(Effect.provide(ServerLive({}))))

  it.scopedLive("GET /customers/:name answers JSON that the Customer schema accepts", () =>
    Effect.gen(function*() {
      const { json, status } = yield* getJson("/customers/customer-7")
      expect(status).toBe(200)
      expect(yield* Schema.decodeUnknown(Customers.Customer)(json)).toEqual(
        new Customers.Customer({ id: 7, name: "customer-7" })
      )
      expect(yield* getJson("/customers/nobody")).toEqual({
        status: 404,
        json: { error: "no customer is named \"nobody\"" }
      })
    }).pipe(Effect.provide(ServerLive({}))))

  it.scopedLive("a database failure is 500 on both routes", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const database = `${yield* fs.makeTempDirectoryScoped()}/customers.db`
      yield* Effect.gen(function*() {
        expect((yield* get("/?name=customer-1")).status).toBe(200)
        // Break the database from a second connection to the same file.
        yield* Effect.flatMap(SqliteClient.SqliteClient, (sql) => sql`DROP TABLE customers`).pipe(
          Effect.provide(SqliteClient.layer({ filename: database }))
        )
        expect(yield* get("/?name=customer-1")).toMatchObject({ status: 500, text: "Internal Server Error" })
        expect((yield* getJson("/customers/customer-1")).status).toBe(500)
      }).pipe(Effect.provide(ServerLive({ database })))
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("CustomerServer coalescing", () => {
  // Real time: requests sent together must all arrive within one lookup.
  const burst = (options: CustomerServer.Options) =>
    Effect.gen(function*() {
      const responses = yield* Effect.forEach(Arr.range(1, 10), () => get("/?name=customer-3"), {
        concurrency: "unbounded"
      })
      expect(responses.map((response) => response.text)).toEqual(Arr.replicate("3", 10))
      return yield* Effect.flatMap(CustomerServer.CustomerServer, (server) => server.queries)
    }).pipe(Effect.provide(ServerLive({ latency: "400 millis", ...options })))

  it.scopedLive("10 concurrent requests for one name cost one database query with SingleFlight.call", () =>
    Effect.map(burst({}), (queries) => expect(queries).toBe(1)))

  it.scopedLive("and 10 queries without singleflight", () =>
    Effect.map(burst({ singleFlight: false }), (queries) => expect(queries).toBe(10)))

  it.scopedLive("and one query with HttpSingleFlight.middleware alone", () =>
    Effect.map(burst({ singleFlight: false, httpSingleFlight: true }), (queries) => expect(queries).toBe(1)))
})

describe("CustomerServer handler", () => {
  /** The routes, called with real web requests and no socket, so that the test clock drives the latency. */
  const call = (url: string) =>
    CustomerServer.router.pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(new Request(url))),
      Effect.scoped
    )

  const HandlerLive = Customers.layer().pipe(
    Layer.provideMerge(Database.layer(":memory:")),
    Layer.provide(SingleFlight.layer)
  )

  it.scoped("answers after the 128 ms latency, and concurrent requests for a name share one query", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const fibers = yield* Effect.forEach(Arr.range(1, 5), () => Effect.fork(call("http://test/?name=customer-12")))
      yield* TestClock.adjust("127 millis")
      const polls = yield* Effect.forEach(fibers, Fiber.poll)
      expect(polls.every(Option.isNone)).toBe(true)

      yield* TestClock.adjust("1 millis")
      const responses: ReadonlyArray<HttpServerResponse.HttpServerResponse> = yield* Effect.forEach(fibers, Fiber.join)
      expect(responses.map((response) => response.status)).toEqual(Arr.replicate(200, 5))
      expect(yield* customers.queries).toBe(1)
    }).pipe(Effect.provide(HandlerLive)))

  it.scoped("answers 400 at once, without waiting for or querying the database", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const response = yield* call("http://test/?name=")
      expect(response.status).toBe(400)
      expect(yield* customers.queries).toBe(0)
    }).pipe(Effect.provide(HandlerLive)))
})
