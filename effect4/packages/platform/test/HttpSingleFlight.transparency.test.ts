import { HttpSingleFlight } from "@effect-singleflight/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { HttpEffect, HttpMiddleware, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Http from "node:http"
import { sendRaw } from "./utils.js"
import type { RawResponse } from "./utils.js"

/**
 * The middleware's promise, as a property: every response that a request
 * gets through it is the response that the same request gets from the same
 * app without it (status, body, every header but `date` and
 * `x-singleflight`), whatever else is in flight.
 *
 * The handlers are deterministic, and slow enough for the requests of a round
 * to meet. Those whose responses the sharing rules let through depend on the
 * key alone (and on the body, which is never in the key); those whose
 * responses the rules keep for one request (a cookie, `private`, `Vary` on
 * another header, a pre-response handler, a stream, a large body) also
 * depend on `x-tenant`, a header outside the key: handed to another request,
 * they show.
 *
 * effect 4 has no fast-check: the rounds are drawn with `effect/Arbitrary`.
 */

const handlers = [
  "text",
  "json",
  "failure",
  "failureCookie",
  "typedError",
  "defect",
  "setCookie",
  "preResponse",
  "preResponseHeader",
  "private",
  "noStore",
  "varyOutside",
  "varyKey",
  "stream",
  "large",
  "corsInside",
  "corsInsideError",
  "corsOutside",
  "corsOutsideError"
] as const

/** Everything in the key, and the body. */
const describeRequest = (request: HttpServerRequest.HttpServerRequest, body: string) =>
  [
    request.method,
    request.url,
    `authorization=${request.headers["authorization"]}`,
    `cookie=${request.headers["cookie"]}`,
    `accept=${request.headers["accept"]}`,
    `body=${body}`
  ].join(" ")

class Unavailable extends Error {}

const corsInside = HttpMiddleware.cors({ allowedOrigins: ["https://a.example", "https://b.example"] })

const handle = (handler: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = yield* Effect.orDie(request.text)
    const description = describeRequest(request, body)
    const tenant = String(request.headers["x-tenant"])
    const own = `${description} tenant=${tenant}`
    // Long enough for the requests of one round to be in flight together.
    yield* Effect.sleep("25 millis")
    switch (handler) {
      case "json":
        return HttpServerResponse.jsonUnsafe({ description })
      case "failure":
        return yield* Effect.fail(HttpServerResponse.text(`not here: ${description}`, { status: 404 }))
      case "failureCookie":
        return yield* Effect.fail(
          HttpServerResponse.setCookieUnsafe(HttpServerResponse.text("log in", { status: 401 }), "state", encode(own))
        )
      case "typedError":
      case "corsOutsideError":
        return yield* Effect.fail(new Unavailable(description))
      case "defect":
        return yield* Effect.die(description)
      case "setCookie":
        return HttpServerResponse.setCookieUnsafe(HttpServerResponse.text(description), "session", encode(own))
      case "preResponse":
        // As `securitySetCookie` does: state of this request, applied to its finished response.
        yield* HttpEffect.appendPreResponseHandler((_request, response) =>
          Effect.succeed(HttpServerResponse.setCookieUnsafe(response, "session", encode(own)))
        )
        return HttpServerResponse.text(description)
      case "preResponseHeader":
        // State of this request that is neither a cookie nor in the key, applied to its finished response.
        yield* HttpEffect.appendPreResponseHandler((_request, response) =>
          Effect.succeed(HttpServerResponse.setHeader(response, "x-tenant-echo", tenant))
        )
        return HttpServerResponse.text(description)
      case "private":
        return HttpServerResponse.text(own, { headers: { "cache-control": "private" } })
      case "noStore":
        return HttpServerResponse.text(own, { headers: { "cache-control": "no-store" } })
      case "varyOutside":
        return HttpServerResponse.text(own, { headers: { vary: "X-Tenant" } })
      case "varyKey":
        return HttpServerResponse.text(description, { headers: { vary: "Accept" } })
      case "stream":
        return HttpServerResponse.stream(Stream.make(own, "!").pipe(Stream.encodeText), { contentType: "text/plain" })
      case "large":
        return HttpServerResponse.text(own.repeat(20))
      case "corsInside":
        return yield* corsInside(Effect.succeed(HttpServerResponse.text(description)))
      case "corsInsideError":
        return yield* corsInside(Effect.fail(new Unavailable(description)))
      default:
        return HttpServerResponse.text(description)
    }
  })

const encode = (text: string) => Buffer.from(text).toString("base64url").slice(-24)

type Wrap = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest | Scope.Scope>

/** The app, routed by the first path segment; `corsOutside` has a cors middleware around the coalescing. */
const serveWith = (wrap: Wrap) =>
  Effect.gen(function*() {
    const server = yield* NodeHttpServer.make(() => Http.createServer(), { port: 0, host: "127.0.0.1" })
    const app = Effect.flatMap(
      Effect.service(HttpServerRequest.HttpServerRequest),
      (request) => handle(request.url.split(/[/?]/)[1]!)
    )
    const cors = HttpMiddleware.cors({ allowedOrigins: ["https://a.example", "https://b.example"] })
    yield* server.serve(
      Effect.flatMap(
        Effect.service(HttpServerRequest.HttpServerRequest),
        (request) => request.url.startsWith("/corsOutside") ? cors(wrap(app)) : wrap(app)
      )
    )
    return "port" in server.address ? server.address.port : 0
  })

interface Request {
  readonly method: "GET" | "HEAD" | "POST"
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
}

const integer = (min: number, max: number): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: min, maximum: max })))

/** One of `values`; a value listed twice is drawn twice as often. */
const pick = <const A>(values: ReadonlyArray<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.map(integer(0, values.length - 1), (index) => values[index]!)

const optional = <const A>(values: ReadonlyArray<A>) => pick([undefined, ...values])

/** A few distinct requests per round, each sent several times, with headers outside the key varying. */
const round: Arbitrary.Arbitrary<ReadonlyArray<Request>> = Arbitrary.map(
  Arbitrary.array(
    Arbitrary.all({
      method: pick(["GET", "GET", "GET", "HEAD", "POST"] as const),
      handler: pick(handlers),
      query: pick(["", "?a=1&b=2", "?b=2&a=1"]),
      authorization: optional(["Bearer alice", "Bearer bob"]),
      cookie: optional(["sid=1", "sid=2; theme=dark"]),
      accept: optional(["text/plain", "application/json"]),
      copies: Arbitrary.array(
        Arbitrary.all({
          // mostly none, so that copies meet
          body: pick([undefined, undefined, undefined, `{"q":"alice"}`, `{"q":"bob"}`]),
          origin: optional(["https://a.example", "https://b.example", "https://evil.example"]),
          tenant: optional(["t1", "t2"])
        }),
        { minLength: 1, maxLength: 4 }
      )
    }),
    { minLength: 1, maxLength: 4 }
  ),
  (drawn) =>
    drawn.flatMap((request) =>
      request.copies.map((copy): Request => {
        const headers: Record<string, string> = {}
        const set = (name: string, value: string | undefined) => {
          if (value !== undefined) headers[name] = value
        }
        set("authorization", request.authorization)
        set("cookie", request.cookie)
        set("accept", request.accept)
        set("origin", copy.origin)
        set("x-tenant", copy.tenant)
        // Node frames a body on a GET only when the request declares its length.
        set("content-length", copy.body === undefined ? undefined : String(Buffer.byteLength(copy.body)))
        return { method: request.method, path: `/${request.handler}${request.query}`, headers, body: copy.body }
      })
    )
)

const comparable = (response: RawResponse) => {
  const { date: _date, "x-singleflight": _role, ...headers } = response.headers
  return { status: response.status, body: response.body, headers }
}

const fire = (port: number, requests: ReadonlyArray<Request>) =>
  Effect.forEach(
    requests,
    ({ body, ...request }) => sendRaw(port, body === undefined ? request : { ...request, body }),
    { concurrency: "unbounded" }
  )

/** Counted across the runs of the property, and checked by the test after it. */
const roles: Record<string, number> = {}

it.live.prop(
  "every response through the middleware is the one the same request gets without it",
  [round],
  ([requests]) =>
    Effect.gen(function*() {
      const singleFlight = yield* HttpSingleFlight.make({ maxBodySize: 1024, responseHeader: "x-singleflight" })
      const coalescing = yield* serveWith(singleFlight.middleware)
      const plain = yield* serveWith((app) => app)
      const through = yield* fire(coalescing, requests)
      const without = yield* fire(plain, requests)
      through.forEach((response, i) => {
        const role = String(response.headers["x-singleflight"])
        roles[role] = (roles[role] ?? 0) + 1
        expect(comparable(response), `${requests[i]!.method} ${requests[i]!.path}`).toEqual(comparable(without[i]!))
      })
    }),
  { timeout: 60_000, arbitrary: { runs: 60 } }
)

it("the property is not vacuous: some responses were copies of another's, some the leader's alone", () => {
  expect(roles["shared"]).toBeGreaterThan(0)
  expect(roles["leader"]).toBeGreaterThan(0)
  expect(roles["bypass"]).toBeGreaterThan(0)
})
