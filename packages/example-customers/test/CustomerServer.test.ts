import { Customers, CustomerServer, Database, Load } from "@effect-singleflight/example-customers"
import { FileSystem, HttpClient, HttpClientRequest, HttpServerRequest } from "@effect/platform"
import type { HttpClientResponse, HttpServerResponse } from "@effect/platform"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Duration, Effect, Fiber, Layer, Metric, Option, Schema, TestClock } from "effect"
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

/** Any method, any path, with the response's status, the headers that matter here and the body as text. */
const send = (method: "GET" | "POST" | "DELETE" | "PUT", path: string) =>
  Effect.gen(function*() {
    const server = yield* CustomerServer.CustomerServer
    const request = HttpClientRequest.make(method)(`${server.url}${path}`)
    // Node's client frames no body on a DELETE without a content-length (see NOTES.md).
    const response = yield* HttpClient.execute(method === "GET" ? request : HttpClientRequest.bodyText(request, ""))
    return {
      status: response.status,
      contentType: response.headers["content-type"],
      allow: response.headers["allow"],
      role: response.headers[CustomerServer.singleFlightHeader],
      text: yield* response.text
    }
  })

const metrics = Effect.gen(function*() {
  const server = yield* CustomerServer.CustomerServer
  const response = yield* HttpClient.get(`${server.url}/metrics`)
  return { contentType: response.headers["content-type"], text: yield* response.text }
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

  it.scopedLive("every error of /customers/… is JSON with a message, and a wrong method is 405 with Allow", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly ["GET" | "POST" | "DELETE" | "PUT", string, number, string]> = [
        ["GET", "/customers/", 400, "a customer name is required: GET /customers/customer-1"],
        ["GET", "/customers", 400, "a customer name is required: GET /customers/customer-1"],
        ["GET", "/customers/%E0%A4%A", 400, "the customer name \"%E0%A4%A\" is not valid percent-encoded UTF-8"],
        ["GET", "/customers/%ZZ", 400, "the customer name \"%ZZ\" is not valid percent-encoded UTF-8"],
        [
          "GET",
          `/customers/${"x".repeat(CustomerServer.maxNameLength + 1)}`,
          400,
          `a customer name has at most ${CustomerServer.maxNameLength} characters, got ${
            CustomerServer.maxNameLength + 1
          }`
        ],
        ["GET", "/customers/nobody", 404, "no customer is named \"nobody\""],
        ["GET", "/customers/a/b", 404, "no route for GET /customers/a/b; try GET /customers/customer-1"],
        ["GET", "/nothing-here", 404, "no route for GET /nothing-here; try GET /customers/customer-1"],
        ["POST", "/customers/customer-1", 405, "POST is not allowed on /customers/customer-1; use GET, HEAD"],
        ["DELETE", "/customers/customer-1", 405, "DELETE is not allowed on /customers/customer-1; use GET, HEAD"],
        ["PUT", "/metrics", 405, "PUT is not allowed on /metrics; use GET"]
      ]
      for (const [method, path, status, error] of cases) {
        const response = yield* send(method, path)
        expect({ method, path, status: response.status, contentType: response.contentType }).toEqual({
          method,
          path,
          status,
          contentType: "application/json"
        })
        expect(JSON.parse(response.text)).toEqual({ error })
        expect(response.allow).toBe(status === 405 ? (path === "/metrics" ? "GET" : "GET, HEAD") : undefined)
      }
      // A name as long as allowed is looked up (and not found).
      expect((yield* send("GET", `/customers/${"x".repeat(CustomerServer.maxNameLength)}`)).status).toBe(404)
      // A valid escape is decoded: customer%2D3 is customer-3.
      expect(yield* getJson("/customers/customer%2D3")).toEqual({ status: 200, json: { id: 3, name: "customer-3" } })
    }).pipe(Effect.provide(ServerLive({}))))

  it.scopedLive("GET / answers text errors: a name given twice, a name too long, another method", () =>
    Effect.gen(function*() {
      expect(yield* send("GET", "/?name=customer-1&name=customer-2")).toMatchObject({
        status: 400,
        contentType: "text/plain",
        text: "Bad Request: the query parameter \"name\" was given 2 times; give it once, e.g. GET /?name=customer-1"
      })
      expect(yield* send("GET", `/?name=${"x".repeat(CustomerServer.maxNameLength + 1)}`)).toMatchObject({
        status: 400,
        text: `Bad Request: a customer name has at most ${CustomerServer.maxNameLength} characters, got ${
          CustomerServer.maxNameLength + 1
        }`
      })
      expect(yield* send("POST", "/?name=customer-1")).toMatchObject({
        status: 405,
        allow: "GET, HEAD",
        contentType: "text/plain",
        text: "POST is not allowed on /; use GET, HEAD"
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

  it.scopedLive("a burst never has more queries at once than the pool has connections", () =>
    Effect.gen(function*() {
      let most = 0
      const sample = Metric.value(Database.queriesRunning).pipe(
        Effect.tap(({ value }) => Effect.sync(() => most = Math.max(most, value))),
        Effect.zipRight(Effect.sleep("5 millis")),
        Effect.forever
      )
      const sampler = yield* Effect.fork(sample)
      // Nine names, three connections: three rounds of three, whatever the scheduling.
      const [elapsed, responses] = yield* Effect.forEach(Arr.range(1, 9), (i) => get(`/?name=customer-${i}`), {
        concurrency: "unbounded"
      }).pipe(Effect.timed)
      yield* Fiber.interrupt(sampler)
      expect(responses.map((response) => response.text)).toEqual(Arr.range(1, 9).map(String))
      expect(most).toBe(3)
      expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(3 * 250)
      expect(yield* Effect.flatMap(CustomerServer.CustomerServer, (server) => server.queries)).toBe(9)
    }).pipe(Effect.provide(ServerLive({ singleFlight: false, connections: 3, latency: "250 millis" }))))
})

describe("CustomerServer from outside", () => {
  const roles = (responses: ReadonlyArray<{ readonly role: string | undefined }>) =>
    Arr.groupBy(responses, (response) => response.role ?? "none")

  it.scopedLive("with the middleware, concurrent requests say leader (one) or shared (the others) in x-singleflight", () =>
    Effect.gen(function*() {
      const responses = yield* Effect.forEach(Arr.range(1, 10), () => send("GET", "/customers/customer-5"), {
        concurrency: "unbounded"
      })
      expect(responses.map((response) => response.text)).toEqual(
        Arr.replicate("{\"id\":5,\"name\":\"customer-5\"}", 10)
      )
      const byRole = roles(responses)
      expect({ leader: byRole.leader?.length, shared: byRole.shared?.length }).toEqual({ leader: 1, shared: 9 })
      // A request the middleware does not coalesce is a bypass.
      expect((yield* send("POST", "/customers/customer-5")).role).toBe("bypass")
    }).pipe(Effect.provide(ServerLive({ httpSingleFlight: true, latency: "400 millis" }))))

  it.scopedLive("without the middleware's coalescing, every response says bypass", () =>
    Effect.gen(function*() {
      const responses = yield* Effect.forEach(
        ["/?name=customer-1", "/customers/customer-1", "/customers/nobody", "/customers/", "/nothing-here"],
        (path) => send("GET", path)
      )
      expect(responses.map((response) => response.role)).toEqual(Arr.replicate("bypass", 5))
    }).pipe(Effect.provide(ServerLive({}))))

  it.scopedLive("GET /metrics answers the Prometheus text format; after a burst, executions are fewer than calls", () =>
    Effect.gen(function*() {
      const before = yield* metrics
      expect(before.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
      expect(before.text).toContain("# TYPE singleflight_calls_total counter")
      expect(before.text).toContain("# TYPE customers_db_queries_total counter")
      expect(before.text).toContain("# TYPE singleflight_execution_callers histogram")

      // 30 requests over 3 names, all in flight together: 3 executions, 3 queries.
      yield* Effect.forEach(Arr.range(0, 29), (i) => get(`/?name=customer-${(i % 3) + 1}`), {
        concurrency: "unbounded"
      })
      const after = yield* metrics
      const delta = (name: string) =>
        Load.parseMetrics(after.text).get(name)! - (Load.parseMetrics(before.text).get(name) ?? 0)
      expect({
        calls: delta("singleflight_calls_total"),
        executions: delta("singleflight_executions_total"),
        joined: delta("singleflight_joined_total"),
        queries: delta("customers_db_queries_total")
      }).toEqual({ calls: 30, executions: 3, joined: 27, queries: 3 })
      expect(after.text).toMatch(/^singleflight_calls_total\{singleflight_group="default"[^}]*\} \d+$/m)
    }).pipe(Effect.provide(ServerLive({ latency: "400 millis" }))))
})

describe("CustomerServer handler", () => {
  /** The routes, called with real web requests and no socket, so that the test clock drives the latency. */
  const call = (url: string) =>
    CustomerServer.router.pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(new Request(url))),
      Effect.scoped
    )

  const HandlerLive = Customers.layer().pipe(
    Layer.provideMerge(Database.layer({ filename: ":memory:" })),
    Layer.provide(SingleFlight.layer)
  )

  it.scoped("answers after the 128 ms latency, and concurrent requests for a name share one query", () =>
    Effect.gen(function*() {
      const database = yield* Database.Database
      const fibers = yield* Effect.forEach(Arr.range(1, 5), () => Effect.fork(call("http://test/?name=customer-12")))
      yield* TestClock.adjust("127 millis")
      const polls = yield* Effect.forEach(fibers, Fiber.poll)
      expect(polls.every(Option.isNone)).toBe(true)

      yield* TestClock.adjust("1 millis")
      const responses: ReadonlyArray<HttpServerResponse.HttpServerResponse> = yield* Effect.forEach(fibers, Fiber.join)
      expect(responses.map((response) => response.status)).toEqual(Arr.replicate(200, 5))
      expect(yield* database.queries).toBe(1)
    }).pipe(Effect.provide(HandlerLive)))

  it.scoped("answers 400 at once, without waiting for or querying the database", () =>
    Effect.gen(function*() {
      const database = yield* Database.Database
      const response = yield* call("http://test/?name=")
      expect(response.status).toBe(400)
      expect(yield* database.queries).toBe(0)
    }).pipe(Effect.provide(HandlerLive)))
})
