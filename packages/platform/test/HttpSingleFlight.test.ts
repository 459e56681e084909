import { HttpSingleFlight } from "@effect-singleflight/platform"
import { HttpClient, HttpMiddleware, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, Option, Ref, Stream } from "effect"
import { SingleFlight } from "effect-singleflight"
import { awaitCalls, eventually, getText, makeGatedCounter, port, rawRequest, TestServer, textOf } from "./utils.js"

/** Serves `app` behind a fresh middleware on the test server. */
const serve = <E, R>(app: HttpApp.Default<E, R>, options?: HttpSingleFlight.Options) =>
  Effect.gen(function*() {
    const singleFlight = yield* HttpSingleFlight.make(options)
    yield* HttpServer.serveEffect(singleFlight.middleware(app))
    return singleFlight
  })

const fireAll = <A, E, R>(count: number, request: (i: number) => Effect.Effect<A, E, R>) =>
  Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => Effect.fork(request(i)))

const bytes = (size: number) => Uint8Array.from({ length: size }, (_, i) => i % 251)

describe("HttpSingleFlight.middleware", () => {
  it.scopedLive("concurrent identical GETs run the handler once and every client receives the whole response", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(
        Effect.map(
          counter.enter,
          (run) => HttpServerResponse.text(`run ${run}`, { status: 201, headers: { "x-answer": "42" } })
        )
      )
      const fibers = yield* fireAll(20, () => getText("/same?x=1"))
      yield* awaitCalls(singleFlight.stats, 20)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(yield* counter.runs).toBe(1)
      for (const response of responses) {
        expect(response.status).toBe(201)
        expect(response.text).toBe("run 1")
        expect(response.headers["x-answer"]).toBe("42")
        expect(response.headers["content-type"]).toBe("text/plain")
      }
      const stats = yield* singleFlight.stats
      expect(stats.executions).toBe(1)
      expect(stats.joined).toBe(19)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("requests for different URLs or queries are not shared", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.as(counter.enter, HttpServerResponse.text(request.url)))
      )
      const paths = ["/a", "/a?page=2", "/b", "/a", "/a?page=2", "/b"]
      const fibers = yield* fireAll(paths.length, (i) =>
        getText(paths[i]!))
      yield* awaitCalls(singleFlight.stats, paths.length)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(responses.map((response) => response.text)).toEqual(paths)
      expect(yield* counter.runs).toBe(3)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("a response is never shared between requests with different Authorization", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(
        Effect.flatMap(
          HttpServerRequest.HttpServerRequest,
          (request) => Effect.as(counter.enter, HttpServerResponse.text(`for ${request.headers["authorization"]}`))
        )
      )
      const tokens = ["Bearer alice", "Bearer bob"]
      const fibers = yield* fireAll(10, (i) => getText("/me", { authorization: tokens[i % 2]! }))
      yield* awaitCalls(singleFlight.stats, 10)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      responses.forEach((response, i) => expect(response.text).toBe(`for ${tokens[i % 2]}`))
      expect(yield* counter.runs).toBe(2)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("POST requests are never shared", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(Effect.map(counter.enter, (run) => HttpServerResponse.text(`run ${run}`)))
      const fibers = yield* fireAll(5, () => HttpClient.post("/orders").pipe(Effect.flatMap(textOf), Effect.scoped))
      yield* eventually(counter.runs, (runs) => runs === 5)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(new Set(responses.map((response) => response.text)).size).toBe(5)
      expect((yield* singleFlight.stats).calls).toBe(0)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("a request with Cache-Control: no-cache runs the handler on its own", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(Effect.map(counter.enter, (run) => HttpServerResponse.text(`run ${run}`)))
      const fibers = yield* fireAll(3, (i) => getText("/news", i === 0 ? { "cache-control": "no-cache" } : {}))
      yield* awaitCalls(singleFlight.stats, 2)
      yield* eventually(counter.runs, (runs) => runs === 2)
      yield* counter.open
      const [fresh, ...shared] = yield* Effect.forEach(fibers, Fiber.join)

      expect(yield* counter.runs).toBe(2)
      expect(shared[0]!.text).toBe(shared[1]!.text)
      expect(fresh!.text).not.toBe(shared[0]!.text)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("the response header says which request ran the handler, and is absent by default", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const marked = yield* serve(Effect.as(counter.enter, HttpServerResponse.text("ok")), {
        responseHeader: "X-SingleFlight"
      })
      const fibers = yield* fireAll(4, () => getText("/marked"))
      yield* awaitCalls(marked.stats, 4)
      const bypass = yield* getText("/marked", { "cache-control": "no-store" }).pipe(Effect.fork)
      yield* counter.open
      const roles = (yield* Effect.forEach(fibers, Fiber.join)).map((response) => response.headers["x-singleflight"])
      expect(roles.sort()).toEqual(["leader", "shared", "shared", "shared"])
      expect((yield* Fiber.join(bypass)).headers["x-singleflight"]).toBe("bypass")
    }).pipe(
      Effect.zipRight(
        Effect.gen(function*() {
          yield* serve(HttpServerResponse.text("plain"))
          const response = yield* getText("/plain")
          expect(response.headers["x-singleflight"]).toBeUndefined()
        })
      ),
      Effect.provide(TestServer)
    ))

  it.scopedLive("a client that disconnects leaves alone: the others are still answered by the same execution", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const handlerInterrupted = yield* Ref.make(false)
      const leftEarly = yield* Ref.make(0)
      const singleFlight = yield* HttpSingleFlight.make()
      const app = Effect.as(
        Effect.onInterrupt(counter.enter, () => Ref.set(handlerInterrupted, true)),
        HttpServerResponse.text("slow answer")
      )
      // Outside the middleware: sees each request's own fiber end.
      yield* HttpServer.serveEffect(
        singleFlight.middleware(app).pipe(Effect.onInterrupt(() => Ref.update(leftEarly, (n) => n + 1)))
      )

      // The client that goes away is the leader: its request is the one the handler runs with.
      const leaving = yield* rawRequest(yield* port, "/slow")
      yield* eventually(counter.runs, (runs) => runs === 1)
      const staying = yield* fireAll(2, () => getText("/slow"))
      yield* awaitCalls(singleFlight.stats, 3)

      leaving.destroy()
      yield* eventually(Ref.get(leftEarly), (n) => n === 1)
      yield* counter.open
      const responses = yield* Effect.forEach(staying, Fiber.join)

      expect(responses.map((response) => [response.status, response.text])).toEqual([[200, "slow answer"], [
        200,
        "slow answer"
      ]])
      expect(yield* counter.runs).toBe(1)
      expect(yield* Ref.get(handlerInterrupted)).toBe(false)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("when every client has disconnected the handler is interrupted", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const handlerInterrupted = yield* Ref.make(false)
      const singleFlight = yield* serve(
        Effect.as(
          Effect.onInterrupt(counter.enter, () => Ref.set(handlerInterrupted, true)),
          HttpServerResponse.text("nobody reads this")
        )
      )
      const serverPort = yield* port
      const first = yield* rawRequest(serverPort, "/abandoned")
      const second = yield* rawRequest(serverPort, "/abandoned")
      yield* awaitCalls(singleFlight.stats, 2)
      first.destroy()
      second.destroy()

      yield* eventually(Ref.get(handlerInterrupted), (interrupted) => interrupted)
      expect((yield* singleFlight.stats).abandoned).toBe(1)
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("a body above maxBodySize is not shared, and every client still receives all of it", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const body = bytes(4096)
      const singleFlight = yield* serve(Effect.as(counter.enter, HttpServerResponse.uint8Array(body)), {
        maxBodySize: 1024,
        responseHeader: "x-singleflight"
      })
      const fibers = yield* fireAll(5, () =>
        HttpClient.get("/large").pipe(
          Effect.flatMap((response) =>
            Effect.map(response.arrayBuffer, (buffer) => ({
              role: response.headers["x-singleflight"],
              body: new Uint8Array(buffer)
            }))
          ),
          Effect.scoped
        ))
      yield* awaitCalls(singleFlight.stats, 5)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      for (const response of responses) expect(response.body).toEqual(body)
      expect(responses.map((response) => response.role).sort()).toEqual([
        "bypass",
        "bypass",
        "bypass",
        "bypass",
        "leader"
      ])
      expect(yield* counter.runs).toBe(5)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("a streamed response is not shared, and its scope stays open until the leader has sent it", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const app = Effect.gen(function*() {
        yield* counter.enter
        const open = yield* Effect.acquireRelease(Ref.make(true), (open) => Ref.set(open, false))
        const body = Stream.fromEffect(Effect.delay(Ref.get(open), "10 millis")).pipe(
          Stream.map((isOpen) => new TextEncoder().encode(isOpen ? "resource open" : "resource closed"))
        )
        return HttpServerResponse.stream(body, { contentType: "text/plain" })
      })
      const singleFlight = yield* serve(app, { responseHeader: "x-singleflight" })
      const fibers = yield* fireAll(3, () => getText("/stream"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(responses.map((response) => response.text)).toEqual(Array(3).fill("resource open"))
      expect(responses.map((response) => response.headers["x-singleflight"]).sort()).toEqual([
        "bypass",
        "bypass",
        "leader"
      ])
      expect(yield* counter.runs).toBe(3)
    }).pipe(Effect.provide(TestServer)))

  describe("responses meant for one recipient are not shared", () => {
    const cases: ReadonlyArray<readonly [string, HttpServerResponse.HttpServerResponse]> = [
      [
        "Cache-Control: private",
        HttpServerResponse.text("mine", { headers: { "cache-control": "private, max-age=60" } })
      ],
      ["Cache-Control: no-store", HttpServerResponse.text("mine", { headers: { "cache-control": "no-store" } })],
      ["Set-Cookie", HttpServerResponse.unsafeSetCookie(HttpServerResponse.text("mine"), "session", "s3cr3t")],
      ["Vary on a header outside the key", HttpServerResponse.text("mine", { headers: { vary: "X-Tenant" } })],
      ["Vary: *", HttpServerResponse.text("mine", { headers: { vary: "*" } })]
    ]
    for (const [name, response] of cases) {
      it.scopedLive(name, () =>
        Effect.gen(function*() {
          const counter = yield* makeGatedCounter
          const singleFlight = yield* serve(Effect.as(counter.enter, response))
          const fibers = yield* fireAll(3, () => getText("/private"))
          yield* awaitCalls(singleFlight.stats, 3)
          yield* counter.open
          const responses = yield* Effect.forEach(fibers, Fiber.join)

          expect(responses.map((response) => response.text)).toEqual(["mine", "mine", "mine"])
          expect(yield* counter.runs).toBe(3)
        }).pipe(Effect.provide(TestServer)))
    }

    it.scopedLive("whereas Vary on key headers and Cache-Control: no-cache are shared", () =>
      Effect.gen(function*() {
        const counter = yield* makeGatedCounter
        const singleFlight = yield* serve(Effect.as(
          counter.enter,
          HttpServerResponse.text("ours", { headers: { vary: "Accept-Encoding, Accept", "cache-control": "no-cache" } })
        ))
        const fibers = yield* fireAll(3, () => getText("/public"))
        yield* awaitCalls(singleFlight.stats, 3)
        yield* counter.open
        yield* Effect.forEach(fibers, Fiber.join)
        expect(yield* counter.runs).toBe(1)
      }).pipe(Effect.provide(TestServer)))
  })

  it.scopedLive("pre-response handlers registered by the wrapped app apply to every copy", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const app = HttpMiddleware.cors({ allowedOrigins: ["https://example.com"] })(
        Effect.as(counter.enter, HttpServerResponse.text("with cors"))
      )
      const singleFlight = yield* serve(app)
      const fibers = yield* fireAll(3, () => getText("/cors", { origin: "https://example.com" }))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(yield* counter.runs).toBe(1)
      for (const response of responses) {
        expect(response.headers["access-control-allow-origin"]).toBe("https://example.com")
      }
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("a failure of the handler is the failure of every request of the flight", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(Effect.zipRight(counter.enter, Effect.die("boom")))
      const fibers = yield* fireAll(3, () => getText("/fails"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(responses.map((response) => response.status)).toEqual([500, 500, 500])
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("a custom key decides which requests share", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.as(counter.enter, HttpServerResponse.text(request.url))),
        // the cache-busting query parameter does not change the response
        {
          key: (request) =>
            Option.some(request.url.split("?")[0])
        }
      )
      const fibers = yield* fireAll(4, (i) => getText(`/report?bust=${i}`))
      yield* awaitCalls(singleFlight.stats, 4)
      yield* counter.open
      yield* Effect.forEach(fibers, Fiber.join)
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.scopedLive("the app-wide middleware is provided by a layer", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* HttpSingleFlight.HttpSingleFlight
      yield* HttpServer.serveEffect(
        HttpSingleFlight.middleware(Effect.as(counter.enter, HttpServerResponse.text("hi")))
      )
      const fibers = yield* fireAll(3, () => getText("/"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      yield* Effect.forEach(fibers, Fiber.join)
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(HttpSingleFlight.layer()), Effect.provide(TestServer)))

  it.scopedLive("given to HttpServer.serve instead of wrapping the app, it fails the copies with a clear defect", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* HttpSingleFlight.make()
      const defects = yield* Ref.make<Array<unknown>>([])
      yield* HttpServer.serveEffect(
        Effect.as(counter.enter, HttpServerResponse.text("hi")),
        (app) =>
          singleFlight.middleware(app).pipe(
            Effect.tapDefect((cause) => Ref.update(defects, (all) => [...all, ...Chunk.toArray(Cause.defects(cause))]))
          )
      )
      const fibers = yield* fireAll(3, () => getText("/"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const statuses = (yield* Effect.forEach(fibers, Fiber.join)).map((response) => response.status).sort()

      expect(statuses).toEqual([200, 500, 500])
      const all = yield* Ref.get(defects)
      expect(all.length).toBeGreaterThan(0)
      expect(all.every((defect) => defect instanceof HttpSingleFlight.MisplacedMiddlewareError)).toBe(true)
    }).pipe(Effect.provide(TestServer)))

  it.scoped("invalid options are a defect when the middleware is made", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(HttpSingleFlight.make({ maxBodySize: -1 }))
      expect(Exit.isFailure(exit) && Cause.dieOption(exit.cause).pipe(Option.getOrUndefined))
        .toBeInstanceOf(SingleFlight.InvalidOptionsError)
      const header = yield* Effect.exit(HttpSingleFlight.make({ responseHeader: "not a header" }))
      expect(Exit.isFailure(header)).toBe(true)
    }))
})
