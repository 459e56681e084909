import { HttpSingleFlight } from "@effect-singleflight/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Stream } from "effect"
import { HttpClient, HttpClientRequest, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { eventually, makeGatedCounter, TestServer, textOf } from "./utils.js"

/**
 * Serves `app` (no middleware: the coalescing under test is the client's) and
 * returns the test client wrapped by `makeClient`.
 */
const setup = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  options?: HttpSingleFlight.ClientOptions
) =>
  Effect.gen(function*() {
    yield* HttpServer.serveEffect(app)
    return yield* HttpClient.HttpClient.pipe(Effect.flatMap(HttpSingleFlight.makeClient(options)))
  })

const fireAll = <A, E, R>(count: number, request: (i: number) => Effect.Effect<A, E, R>) =>
  Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => Effect.forkChild(request(i)))

/**
 * The callers were forked before the first request reached the server, and
 * a caller joins in the step it starts in: a short real pause after that
 * leaves none of them still starting.
 */
const settle = Effect.sleep("20 millis")

const pattern = (size: number) => Uint8Array.from({ length: size }, (_, i) => i % 251)

describe("HttpSingleFlight.makeClient", () => {
  it.live("concurrent identical GETs make one upstream request, and each caller reads its own response", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const client = yield* setup(
        Effect.map(counter.enter, (run) => HttpServerResponse.jsonUnsafe({ run }, { headers: { "x-answer": "42" } }))
      )
      const asText = yield* fireAll(6, () => client.get("/data").pipe(Effect.flatMap(textOf)))
      const asJson = yield* fireAll(2, () => client.get("/data").pipe(Effect.flatMap((response) => response.json)))
      const asStream = yield* client.get("/data").pipe(
        Effect.flatMap((response) => Stream.runCollect(Stream.decodeText(response.stream))),
        Effect.forkChild
      )
      yield* eventually(counter.runs, (runs) => runs === 1)
      yield* settle
      yield* counter.open

      for (const response of yield* Effect.forEach(asText, Fiber.join)) {
        expect(response.status).toBe(200)
        expect(response.text).toBe(`{"run":1}`)
        expect(response.headers["x-answer"]).toBe("42")
      }
      expect(yield* Effect.forEach(asJson, Fiber.join)).toEqual([{ run: 1 }, { run: 1 }])
      expect(Array.from(yield* Fiber.join(asStream)).join("")).toBe(`{"run":1}`)
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.live("requests with different Authorization are never shared", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const client = yield* setup(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.as(counter.enter, HttpServerResponse.text(`for ${request.headers["authorization"]}`)))
      )
      const tokens = ["Bearer alice", "Bearer bob"]
      const fibers = yield* fireAll(6, (i) =>
        client.get("/me", { headers: { authorization: tokens[i % 2]! } }).pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) =>
        runs === 2)
      yield* settle
      yield* counter.open

      const responses = yield* Effect.forEach(fibers, Fiber.join)
      responses.forEach((response, i) =>
        expect(response.text).toBe(`for ${tokens[i % 2]}`)
      )
      expect(yield* counter.runs).toBe(2)
    }).pipe(Effect.provide(TestServer)))

  it.live("POST requests each go upstream", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const client = yield* setup(Effect.map(counter.enter, (run) => HttpServerResponse.text(`run ${run}`)))
      const fibers = yield* fireAll(4, () => client.post("/orders").pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) => runs === 4)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)
      expect(new Set(responses.map((response) => response.text)).size).toBe(4)
    }).pipe(Effect.provide(TestServer)))

  it.live("GETs with a body each go upstream, even for the same URL", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const client = yield* setup(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.flatMap(request.text, (body) =>
            Effect.as(counter.enter, HttpServerResponse.text(`results for ${body}`))))
      )
      const queries = [`{"q":"alice"}`, `{"q":"bob"}`]
      const fibers = yield* fireAll(queries.length, (i) =>
        client.execute(
          HttpClientRequest.get("/search").pipe(HttpClientRequest.bodyText(queries[i]!, "application/json"))
        )
          .pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) =>
        runs === queries.length)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)
      expect(responses.map((response) =>
        response.text
      )).toEqual(queries.map((query) => `results for ${query}`))
    }).pipe(Effect.provide(TestServer)))

  it.live("a response declared larger than maxBodySize goes to one caller unread, and the others fetch their own", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const body = pattern(8192)
      const client = yield* setup(Effect.as(counter.enter, HttpServerResponse.uint8Array(body)), { maxBodySize: 1024 })
      const fibers = yield* fireAll(
        4,
        () => client.get("/large").pipe(Effect.flatMap((response) => response.arrayBuffer))
      )
      yield* eventually(counter.runs, (runs) => runs === 1)
      yield* settle
      yield* counter.open

      for (const received of yield* Effect.forEach(fibers, Fiber.join)) expect(new Uint8Array(received)).toEqual(body)
      expect(yield* counter.runs).toBe(4)
    }).pipe(Effect.provide(TestServer)))

  it.live("a streamed body without Content-Length is read up to the limit and shared", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const encoder = new TextEncoder()
      const client = yield* setup(
        Effect.as(
          counter.enter,
          HttpServerResponse.stream(Stream.make(encoder.encode("chunk 1, "), encoder.encode("chunk 2")))
        )
      )
      const fibers = yield* fireAll(3, () => client.get("/chunks").pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) => runs === 1)
      yield* settle
      yield* counter.open

      for (const response of yield* Effect.forEach(fibers, Fiber.join)) expect(response.text).toBe("chunk 1, chunk 2")
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.live("a streamed body that outgrows maxBodySize is dropped, and every caller fetches its own", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const chunk = pattern(512)
      // No Content-Length: the size is only known while reading.
      const client = yield* setup(
        Effect.as(counter.enter, HttpServerResponse.stream(Stream.make(chunk, chunk, chunk, chunk))),
        { maxBodySize: 1024 }
      )
      const fibers = yield* fireAll(
        3,
        () => client.get("/chunked").pipe(Effect.flatMap((response) => response.arrayBuffer))
      )
      yield* eventually(counter.runs, (runs) => runs === 1)
      yield* settle
      yield* counter.open

      for (const received of yield* Effect.forEach(fibers, Fiber.join)) {
        expect(new Uint8Array(received).length).toBe(2048)
      }
      // one shared attempt, then one request per caller
      expect(yield* counter.runs).toBe(4)
    }).pipe(Effect.provide(TestServer)))

  it.live("an interrupted caller leaves alone: the upstream request goes on for the others", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const client = yield* setup(Effect.as(counter.enter, HttpServerResponse.text("answer")))
      const [leaving, ...staying] = yield* fireAll(3, () => client.get("/slow").pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) => runs === 1)
      yield* settle
      yield* Fiber.interrupt(leaving!)
      yield* counter.open

      const responses = yield* Effect.forEach(staying, Fiber.join)
      expect(responses.map((response) => response.text)).toEqual(["answer", "answer"])
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.live("a request with Cache-Control: no-cache goes upstream on its own", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const client = yield* setup(Effect.map(counter.enter, (run) => HttpServerResponse.text(`run ${run}`)))
      const fibers = yield* fireAll(3, (i) =>
        client.get("/news", { headers: i === 0 ? { "cache-control": "no-cache" } : {} }).pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) =>
        runs === 2)
      yield* settle
      yield* counter.open
      yield* Effect.forEach(fibers, Fiber.join)
      expect(yield* counter.runs).toBe(2)
    }).pipe(Effect.provide(TestServer)))

  it.live("HEAD and 204 responses are shared without a body", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const client = yield* setup(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.as(
            counter.enter,
            request.url === "/empty" ? HttpServerResponse.empty() : HttpServerResponse.text("head body")
          ))
      )
      const heads = yield* fireAll(2, () => client.head("/thing").pipe(Effect.flatMap(textOf)))
      const empties = yield* fireAll(2, () => client.get("/empty").pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) => runs === 2)
      yield* settle
      yield* counter.open

      for (const response of yield* Effect.forEach(heads, Fiber.join)) expect(response.text).toBe("")
      for (const response of yield* Effect.forEach(empties, Fiber.join)) {
        expect(response.status).toBe(204)
        expect(response.text).toBe("")
      }
      expect(yield* counter.runs).toBe(2)
    }).pipe(Effect.provide(TestServer)))

  it.live("layerClient replaces the HttpClient service", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      yield* HttpServer.serveEffect(Effect.as(counter.enter, HttpServerResponse.text("via layer")))
      const fibers = yield* fireAll(3, () => HttpClient.get("/").pipe(Effect.flatMap(textOf)))
      yield* eventually(counter.runs, (runs) => runs === 1)
      yield* settle
      yield* counter.open
      yield* Effect.forEach(fibers, Fiber.join)
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(HttpSingleFlight.layerClient()), Effect.provide(TestServer)))

  it.live("an unshareable response whose caller left is aborted, and the caller that stayed sends its own", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const aborted = yield* Ref.make(false)
      // The first run answers with a private body that never ends: only an abort from the client ends it.
      const app = Effect.map(counter.enter, (run) =>
        run === 1
          ? HttpServerResponse.stream(
            Stream.concat(Stream.make(new TextEncoder().encode("for the first caller")), Stream.never).pipe(
              Stream.ensuring(Ref.set(aborted, true))
            ),
            { headers: { "cache-control": "private" } }
          )
          : HttpServerResponse.text("for the caller that stayed", { headers: { "cache-control": "private" } }))
      const client = yield* setup(app)
      const leaving = yield* Effect.forkChild(client.get("/mine"))
      yield* eventually(counter.runs, (runs) => runs === 1)
      const staying = yield* Effect.forkChild(client.get("/mine").pipe(Effect.flatMap(textOf)))
      yield* settle
      yield* Fiber.interrupt(leaving)
      yield* counter.open

      expect((yield* Fiber.join(staying)).text).toBe("for the caller that stayed")
      yield* eventually(Ref.get(aborted), (isAborted) => isAborted)
      expect(yield* counter.runs).toBe(2)
    }).pipe(Effect.provide(TestServer)))
})
