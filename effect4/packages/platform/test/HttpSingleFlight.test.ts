import { HttpSingleFlight } from "@effect-singleflight/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Ref, Result, Stream } from "effect"
import { SingleFlight } from "effect-singleflight"
import { HttpClient, HttpEffect, HttpMiddleware, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiSecurity } from "effect/http-api"
import {
  awaitCalls,
  eventually,
  getText,
  makeGatedCounter,
  port,
  rawRequest,
  sendRaw,
  TestServer,
  textOf
} from "./utils.js"

type App<E = never, R = never> = Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown => {
  const defect = Exit.findDefect(exit)
  return Result.isSuccess(defect) ? defect.success : undefined
}

/** Serves `app` behind a fresh middleware on the test server. */
const serve = <E, R>(app: App<E, R>, options?: HttpSingleFlight.Options) =>
  Effect.gen(function*() {
    const singleFlight = yield* HttpSingleFlight.make(options)
    yield* HttpServer.serveEffect(singleFlight.middleware(app))
    return singleFlight
  })

const fireAll = <A, E, R>(count: number, request: (i: number) => Effect.Effect<A, E, R>) =>
  Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => Effect.forkChild(request(i)))

const bytes = (size: number) => Uint8Array.from({ length: size }, (_, i) => i % 251)

describe("HttpSingleFlight.middleware", () => {
  it.live("concurrent identical GETs run the handler once and every client receives the whole response", () =>
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

  it.live("requests for different URLs or queries are not shared", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(
        Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) =>
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

  it.live("a response is never shared between requests with different Authorization", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(
        Effect.flatMap(
          Effect.service(HttpServerRequest.HttpServerRequest),
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

  it.live("POST requests are never shared", () =>
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

  it.live("a request with Cache-Control: no-cache runs the handler on its own", () =>
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

  it.live("the response header says which request ran the handler, and is absent by default", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const marked = yield* serve(Effect.as(counter.enter, HttpServerResponse.text("ok")), {
        responseHeader: "X-SingleFlight"
      })
      const fibers = yield* fireAll(4, () => getText("/marked"))
      yield* awaitCalls(marked.stats, 4)
      const bypass = yield* getText("/marked", { "cache-control": "no-store" }).pipe(Effect.forkChild)
      yield* counter.open
      const roles = (yield* Effect.forEach(fibers, Fiber.join)).map((response) => response.headers["x-singleflight"])
      expect(roles.sort()).toEqual(["leader", "shared", "shared", "shared"])
      expect((yield* Fiber.join(bypass)).headers["x-singleflight"]).toBe("bypass")
    }).pipe(
      Effect.provide(TestServer),
      // A server of its own: two apps served on one server both answer every request.
      Effect.andThen(
        Effect.gen(function*() {
          yield* serve(Effect.succeed(HttpServerResponse.text("plain")))
          const response = yield* getText("/plain")
          expect(response.headers["x-singleflight"]).toBeUndefined()
        }).pipe(Effect.provide(TestServer))
      )
    ))

  it.live("a client that disconnects leaves alone: the others are still answered by the same execution", () =>
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

  it.live("a response meant for the leader alone is released if the leader has gone, and the others run their own", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const released = yield* Ref.make(0)
      const leftEarly = yield* Ref.make(0)
      const singleFlight = yield* HttpSingleFlight.make()
      const app = Effect.gen(function*() {
        const run = yield* counter.enter
        yield* Effect.addFinalizer(() => Ref.update(released, (n) => n + 1))
        return HttpServerResponse.text(`run ${run}`, { headers: { "cache-control": "private" } })
      })
      // Outside the middleware: sees the leader's own fiber end.
      yield* HttpServer.serveEffect(
        singleFlight.middleware(app).pipe(Effect.onInterrupt(() => Ref.update(leftEarly, (n) => n + 1)))
      )
      const leaving = yield* rawRequest(yield* port, "/mine")
      yield* eventually(counter.runs, (runs) => runs === 1)
      const staying = yield* Effect.forkChild(getText("/mine"))
      yield* awaitCalls(singleFlight.stats, 2)
      leaving.destroy()
      yield* eventually(Ref.get(leftEarly), (n) => n === 1)
      yield* counter.open

      expect((yield* Fiber.join(staying)).text).toBe("run 2")
      yield* eventually(Ref.get(released), (n) => n === 2)
    }).pipe(Effect.provide(TestServer)))

  it.live("when every client has disconnected the handler is interrupted", () =>
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

  it.live("a body above maxBodySize is not shared, and every client still receives all of it", () =>
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

  it.live("a streamed response is not shared, and its scope stays open until the leader has sent it", () =>
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
      ["Set-Cookie", HttpServerResponse.setCookieUnsafe(HttpServerResponse.text("mine"), "session", "s3cr3t")],
      ["Vary on a header outside the key", HttpServerResponse.text("mine", { headers: { vary: "X-Tenant" } })],
      ["Vary: *", HttpServerResponse.text("mine", { headers: { vary: "*" } })]
    ]
    for (const [name, response] of cases) {
      it.live(name, () =>
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

    it.live("whereas Vary on key headers and Cache-Control: no-cache are shared", () =>
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

  it.live("a response for which the wrapped app registered pre-response handlers (cors inside) is the leader's alone", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const app = HttpMiddleware.cors()(Effect.as(counter.enter, HttpServerResponse.text("with cors")))
      const singleFlight = yield* serve(app)
      const fibers = yield* fireAll(3, () => getText("/cors", { origin: "https://example.com" }))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(yield* counter.runs).toBe(3)
      for (const response of responses) expect(response.headers["access-control-allow-origin"]).toBe("*")
    }).pipe(Effect.provide(TestServer)))

  it.live("a cors middleware outside keeps sharing, and answers each request for its own Origin", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* HttpSingleFlight.make()
      const cors = HttpMiddleware.cors({ allowedOrigins: ["https://a.example", "https://b.example"] })
      yield* HttpServer.serveEffect(
        cors(singleFlight.middleware(Effect.as(counter.enter, HttpServerResponse.text("shared"))))
      )
      const origins = ["https://a.example", "https://b.example", "https://a.example", "https://b.example"]
      const fibers = yield* fireAll(origins.length, (i) => getText("/cors", { origin: origins[i]! }))
      yield* awaitCalls(singleFlight.stats, origins.length)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(yield* counter.runs).toBe(1)
      expect(responses.map((response) => response.headers["access-control-allow-origin"])).toEqual(origins)
    }).pipe(Effect.provide(TestServer)))

  describe("pre-response handlers on effect 4", () => {
    /** A pre-response handler that copies a header outside the key into the response, as per-request state would. */
    const echoTrace = HttpEffect.appendPreResponseHandler((request, response) =>
      Effect.succeed(HttpServerResponse.setHeader(response, "x-trace-echo", String(request.headers["x-trace"])))
    )

    it.live("a header set by a pre-response handler of the app reaches the request it was made for only", () =>
      Effect.gen(function*() {
        const counter = yield* makeGatedCounter
        const singleFlight = yield* serve(
          Effect.andThen(echoTrace, Effect.as(counter.enter, HttpServerResponse.text("traced")))
        )
        const fibers = yield* fireAll(3, (i) => getText("/traced", { "x-trace": `trace-${i}` }))
        yield* awaitCalls(singleFlight.stats, 3)
        yield* counter.open
        const responses = yield* Effect.forEach(fibers, Fiber.join)

        expect(responses.map((response) => response.headers["x-trace-echo"])).toEqual(["trace-0", "trace-1", "trace-2"])
        expect(yield* counter.runs).toBe(3)
      }).pipe(Effect.provide(TestServer)))

    it.live("a pre-response handler registered outside the middleware runs for each request with its own", () =>
      Effect.gen(function*() {
        const counter = yield* makeGatedCounter
        const singleFlight = yield* HttpSingleFlight.make()
        yield* HttpServer.serveEffect(
          Effect.andThen(echoTrace, singleFlight.middleware(Effect.as(counter.enter, HttpServerResponse.text("ok"))))
        )
        const fibers = yield* fireAll(3, (i) => getText("/outside", { "x-trace": `trace-${i}` }))
        yield* awaitCalls(singleFlight.stats, 3)
        yield* counter.open
        const responses = yield* Effect.forEach(fibers, Fiber.join)

        expect(responses.map((response) => response.headers["x-trace-echo"])).toEqual(["trace-0", "trace-1", "trace-2"])
        expect(yield* counter.runs).toBe(1)
      }).pipe(Effect.provide(TestServer)))

    it.live("a handler of the app that leaves the leader's response as it is does not stop sharing (docs/effect4.md)", () =>
      Effect.gen(function*() {
        const counter = yield* makeGatedCounter
        const onlyWithTrace = HttpEffect.appendPreResponseHandler((request, response) =>
          Effect.succeed(
            request.headers["x-trace"] === undefined
              ? response
              : HttpServerResponse.setHeader(response, "x-trace-echo", request.headers["x-trace"])
          )
        )
        const singleFlight = yield* serve(
          Effect.andThen(onlyWithTrace, Effect.as(counter.enter, HttpServerResponse.text("maybe traced")))
        )
        const leader = yield* Effect.forkChild(getText("/maybe"))
        yield* eventually(counter.runs, (runs) => runs === 1)
        const joiner = yield* Effect.forkChild(getText("/maybe", { "x-trace": "joiner" }))
        yield* awaitCalls(singleFlight.stats, 2)
        yield* counter.open

        expect((yield* Fiber.join(leader)).headers["x-trace-echo"]).toBeUndefined()
        // the joiner receives the leader's response: its own run would have echoed its trace
        expect((yield* Fiber.join(joiner)).headers["x-trace-echo"]).toBeUndefined()
        expect(yield* counter.runs).toBe(1)
      }).pipe(Effect.provide(TestServer)))
  })

  it.live("a failure of the handler is the failure of every request of the flight", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(Effect.andThen(counter.enter, Effect.die("boom")))
      const fibers = yield* fireAll(3, () => getText("/fails"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      expect(responses.map((response) => response.status)).toEqual([500, 500, 500])
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.live("a custom key decides which requests share", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* serve(
        Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) =>
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

  it.live("with a custom key, a response that varies on a header is not shared unless headers lists it", () =>
    Effect.gen(function*() {
      const byPath = (request: HttpServerRequest.HttpServerRequest) => Option.some(request.url.split("?")[0])
      const varyingOnAccept = (counter: Effect.Success<typeof makeGatedCounter>) =>
        Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) =>
          Effect.as(
            counter.enter,
            HttpServerResponse.text(`for ${request.headers["accept"]}`, { headers: { vary: "Accept" } })
          ))
      const unknown = yield* makeGatedCounter
      const unknownKey = yield* serve(varyingOnAccept(unknown), { key: byPath })
      const fibers = yield* fireAll(3, (i) => getText(`/negotiated?i=${i}`, { accept: `text/x-${i}` }))
      yield* awaitCalls(unknownKey.stats, 3)
      yield* unknown.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)
      expect(responses.map((response) => response.text)).toEqual(["for text/x-0", "for text/x-1", "for text/x-2"])
      expect(yield* unknown.runs).toBe(3)
    }).pipe(
      Effect.provide(TestServer),
      // A server of its own: two apps served on one server both answer every request.
      Effect.andThen(
        Effect.gen(function*() {
          // a key that includes Accept, and says so
          const counter = yield* makeGatedCounter
          const singleFlight = yield* serve(
            Effect.as(counter.enter, HttpServerResponse.text("negotiated", { headers: { vary: "Accept" } })),
            { key: (request) => Option.some(`${request.url} ${request.headers["accept"]}`), headers: ["accept"] }
          )
          const fibers = yield* fireAll(3, () => getText("/negotiated", { accept: "text/plain" }))
          yield* awaitCalls(singleFlight.stats, 3)
          yield* counter.open
          yield* Effect.forEach(fibers, Fiber.join)
          expect(yield* counter.runs).toBe(1)
        }).pipe(Effect.provide(TestServer))
      )
    ))

  it.live("the app-wide middleware is provided by a layer", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* Effect.service(HttpSingleFlight.HttpSingleFlight)
      yield* HttpServer.serveEffect(
        HttpSingleFlight.middleware(Effect.as(counter.enter, HttpServerResponse.text("hi")))
      )
      const fibers = yield* fireAll(3, () => getText("/"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      yield* Effect.forEach(fibers, Fiber.join)
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(HttpSingleFlight.layer()), Effect.provide(TestServer)))

  it.live("given to HttpServer.serve instead of wrapping the app, it fails the copies with a clear defect", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* HttpSingleFlight.make()
      const defects = yield* Ref.make<Array<unknown>>([])
      yield* HttpServer.serveEffect(
        Effect.as(counter.enter, HttpServerResponse.text("hi")),
        (app) =>
          singleFlight.middleware(app).pipe(
            Effect.tapCause((cause) =>
              Ref.update(defects, (all) => [
                ...all,
                ...cause.reasons.filter(Cause.isDieReason).map((reason) => reason.defect)
              ])
            )
          )
      )
      const fibers = yield* fireAll(3, () => getText("/"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const statuses = (yield* Effect.forEach(fibers, Fiber.join)).map((response) => response.status).sort()

      expect(statuses).toEqual([200, 500, 500])
      expect(yield* counter.runs).toBe(1)
      const all = yield* Ref.get(defects)
      expect(all.length).toBeGreaterThan(0)
      expect(all.every((defect) => defect instanceof HttpSingleFlight.MisplacedMiddlewareError)).toBe(true)
    }).pipe(Effect.provide(TestServer)))

  it.live("given to HttpServer.serve, it never hands the response made for one visitor, cookie included, to another", () =>
    Effect.gen(function*() {
      const counter = yield* makeGatedCounter
      const singleFlight = yield* HttpSingleFlight.make()
      const app = Effect.gen(function*() {
        const run = yield* counter.enter
        yield* HttpEffect.appendPreResponseHandler((_request, response) =>
          Effect.succeed(HttpServerResponse.setCookieUnsafe(response, "session", `token-${run}`))
        )
        return HttpServerResponse.text(`welcome ${run}`)
      })
      yield* HttpServer.serveEffect(app, singleFlight.middleware)
      const fibers = yield* fireAll(3, () => getText("/welcome"))
      yield* awaitCalls(singleFlight.stats, 3)
      yield* counter.open
      const responses = yield* Effect.forEach(fibers, Fiber.join)

      // The leader's response is written inside the shared run, before the handlers of its app (docs/effect4.md).
      expect(responses.map((response) => `${response.status} ${response.text}`).sort())
        .toEqual(["200 welcome 1", "500 ", "500 "])
      expect(responses.every((response) => response.headers["set-cookie"] === undefined)).toBe(true)
      expect(yield* counter.runs).toBe(1)
    }).pipe(Effect.provide(TestServer)))

  it.effect("invalid options are a defect when the middleware is made", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(HttpSingleFlight.make({ maxBodySize: -1 }))
      expect(defectOf(exit))
        .toBeInstanceOf(SingleFlight.InvalidOptionsError)
      const header = yield* Effect.exit(HttpSingleFlight.make({ responseHeader: "not a header" }))
      expect(Exit.isFailure(header)).toBe(true)
      // checked by the core, to which the name goes as given
      const name = yield* Effect.exit(HttpSingleFlight.make({ name: "" }))
      expect(defectOf(name))
        .toBeInstanceOf(SingleFlight.InvalidOptionsError)
    }))

  describe("never hands one client's response to another", () => {
    const session = HttpApiSecurity.apiKey({ in: "cookie", key: "session" })
    const welcomes: ReadonlyArray<
      readonly [string, (run: number) => Effect.Effect<void, never, HttpServerRequest.HttpServerRequest>]
    > = [
      ["HttpApiBuilder.securitySetCookie", (run) => HttpApiBuilder.securitySetCookie(session, `token-${run}`)],
      [
        "a pre-response handler of its own",
        (run) =>
          HttpEffect.appendPreResponseHandler((_request, response) =>
            Effect.succeed(HttpServerResponse.setCookieUnsafe(response, "session", `token-${run}`))
          )
      ]
    ]
    for (const [name, setSession] of welcomes) {
      it.live(`a cookie set through ${name} goes to the visitor it was made for only`, () =>
        Effect.gen(function*() {
          const counter = yield* makeGatedCounter
          const singleFlight = yield* serve(
            Effect.gen(function*() {
              const run = yield* counter.enter
              yield* setSession(run)
              return HttpServerResponse.text("welcome")
            })
          )
          const fibers = yield* fireAll(3, () => getText("/welcome"))
          yield* awaitCalls(singleFlight.stats, 3)
          yield* counter.open
          const responses = yield* Effect.forEach(fibers, Fiber.join)

          const sessions = responses.map((response) => String(response.headers["set-cookie"]).split(";")[0])
          expect(sessions.sort()).toEqual(["session=token-1", "session=token-2", "session=token-3"])
          expect(responses.map((response) => response.text)).toEqual(["welcome", "welcome", "welcome"])
        }).pipe(Effect.provide(TestServer)))
    }

    it.live("an error response that sets a cookie is not shared: each request runs the handler", () =>
      Effect.gen(function*() {
        const counter = yield* makeGatedCounter
        const singleFlight = yield* serve(
          Effect.flatMap(counter.enter, (run) =>
            Effect.fail(
              HttpServerResponse.setCookieUnsafe(
                HttpServerResponse.text("log in first", { status: 401 }),
                "login-state",
                `state-${run}`
              )
            ))
        )
        const fibers = yield* fireAll(3, () => getText("/account"))
        yield* awaitCalls(singleFlight.stats, 3)
        yield* counter.open
        const responses = yield* Effect.forEach(fibers, Fiber.join)

        expect(responses.map((response) => response.status)).toEqual([401, 401, 401])
        const states = responses.map((response) => String(response.headers["set-cookie"]).split(";")[0])
        expect(states.sort()).toEqual(["login-state=state-1", "login-state=state-2", "login-state=state-3"])
        expect(yield* counter.runs).toBe(3)
      }).pipe(Effect.provide(TestServer)))

    it.live("an error response without anything private is shared like a success", () =>
      Effect.gen(function*() {
        const counter = yield* makeGatedCounter
        const singleFlight = yield* serve(
          Effect.flatMap(counter.enter, (run) => Effect.fail(HttpServerResponse.text(`gone ${run}`, { status: 410 })))
        )
        const fibers = yield* fireAll(3, () => getText("/gone"))
        yield* awaitCalls(singleFlight.stats, 3)
        yield* counter.open
        const responses = yield* Effect.forEach(fibers, Fiber.join)

        expect(responses.map((response) => [response.status, response.text])).toEqual(Array(3).fill([410, "gone 1"]))
        expect(yield* counter.runs).toBe(1)
      }).pipe(Effect.provide(TestServer)))

    class Unavailable extends Error {}
    const failures: ReadonlyArray<readonly [string, App<Unavailable>]> = [
      ["a typed error", Effect.fail(new Unavailable("database down"))],
      ["a defect", Effect.die("boom")]
    ]
    const cors = HttpMiddleware.cors({ allowedOrigins: ["https://example.com"] })
    for (const [failure, app] of failures) {
      for (
        const [where, wrap] of [
          ["outside", (singleFlight: HttpSingleFlight.HttpSingleFlight) => cors(singleFlight.middleware(app))],
          ["inside", (singleFlight: HttpSingleFlight.HttpSingleFlight) => singleFlight.middleware(cors(app))]
        ] as const
      ) {
        it.live(`the response to ${failure} keeps the CORS headers of a cors middleware ${where}`, () =>
          Effect.gen(function*() {
            const singleFlight = yield* HttpSingleFlight.make()
            yield* HttpServer.serveEffect(wrap(singleFlight))
            const response = yield* getText("/fails", { origin: "https://example.com" })

            expect(response.status).toBe(500)
            expect(response.headers["access-control-allow-origin"]).toBe("https://example.com")
          }).pipe(Effect.provide(TestServer)))
      }
    }

    const echoBody = (counter: Effect.Success<typeof makeGatedCounter>) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        yield* counter.enter
        return HttpServerResponse.text(`results for ${yield* request.text}`)
      })
    const framings: ReadonlyArray<readonly [string, (body: string) => Record<string, string>]> = [
      ["content-length", (body) => ({ "content-type": "application/json", "content-length": String(body.length) })],
      ["transfer-encoding", () => ({ "content-type": "application/json", "transfer-encoding": "chunked" })]
    ]
    for (const [framing, headersFor] of framings) {
      it.live(`GETs with a body (${framing}) are never coalesced, even for the same URL`, () =>
        Effect.gen(function*() {
          const counter = yield* makeGatedCounter
          yield* serve(echoBody(counter))
          const serverPort = yield* port
          const queries = [`{"q":"alice"}`, `{"q":"bob"}`, `{"q":"carol"}`]
          const fibers = yield* fireAll(
            queries.length,
            (i) => sendRaw(serverPort, { path: "/search", headers: headersFor(queries[i]!), body: queries[i]! })
          )
          yield* eventually(counter.runs, (runs) => runs === queries.length)
          yield* counter.open
          const responses = yield* Effect.forEach(fibers, Fiber.join)

          expect(responses.map((response) => response.body)).toEqual(queries.map((query) => `results for ${query}`))
        }).pipe(Effect.provide(TestServer)))
    }

    it.live("a request with a body is not coalesced whatever its method", () =>
      Effect.gen(function*() {
        const counter = yield* makeGatedCounter
        yield* serve(echoBody(counter), { methods: ["GET", "POST"] })
        const serverPort = yield* port
        const orders = ["one", "two"]
        const fibers = yield* fireAll(orders.length, (i) =>
          sendRaw(serverPort, {
            method: "POST",
            path: "/orders",
            headers: { "content-length": String(orders[i]!.length) },
            body: orders[i]!
          }))
        yield* eventually(counter.runs, (runs) => runs === orders.length)
        yield* counter.open
        const responses = yield* Effect.forEach(fibers, Fiber.join)

        expect(responses.map((response) => response.body)).toEqual(["results for one", "results for two"])
      }).pipe(Effect.provide(TestServer)))
  })
})
