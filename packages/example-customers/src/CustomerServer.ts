/**
 * The seed's HTTP server, with `@effect/platform`:
 *
 * - `GET /?name=customer-1` → `1` (text); unknown name → 404; database
 *   failure → 500; missing or empty `name` → 400; `name` given twice → 400;
 * - `GET /customers/customer-1` → `{"id":1,"name":"customer-1"}`, encoded
 *   with the `Customer` schema; every error is JSON, `{"error":"…"}`: empty
 *   name or undecodable percent-escapes → 400, a name longer than
 *   {@link maxNameLength} → 400, unknown → 404, failure → 500;
 * - `GET /metrics`: Effect's metric registry (the singleflight groups' and
 *   the database's) in the Prometheus text format;
 * - any other path → 404, another method on a route → 405 with `Allow`
 *   (JSON, except on `/`, whose answers are text);
 * - every response of `/` and `/customers/…` carries
 *   `x-singleflight: leader|shared|bypass` (`HttpSingleFlight.middleware`'s
 *   response header; `bypass` everywhere when HTTP coalescing is off).
 *
 * {@link layer} starts it (the demo and the benchmark do, with port 0), and
 * the {@link CustomerServer} service it provides tells the URL and the number
 * of database queries so far.
 */
import { HttpSingleFlight } from "@effect-singleflight/platform"
import { Metrics, Resource } from "@effect/opentelemetry"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { ServeError } from "@effect/platform/HttpServerError"
import type { SqlError } from "@effect/sql"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Config, Context, Effect, Either, Layer, Option } from "effect"
import type { ConfigError, Duration, Scope } from "effect"
import { SingleFlight } from "effect-singleflight"
import { createServer } from "node:http"
import * as Customers from "./Customers.js"
import * as Database from "./Database.js"

/** The response header that tells how a response was made: `leader`, `shared` or `bypass`. */
export const singleFlightHeader = "x-singleflight"

/** The longest customer name that is looked up; longer ones are answered 400 at once. */
export const maxNameLength = 100

// -----------------------------------------------------------------------------
// errors: one renderer per route family
// -----------------------------------------------------------------------------

/** `/` answers text (the seed's format); everything else answers `{"error":"…"}`. */
const errorResponse = (path: string, status: number, message: string, headers?: Record<string, string>) =>
  path === "/"
    ? HttpServerResponse.text(message, { status, ...(headers && { headers }) })
    : HttpServerResponse.unsafeJson({ error: message }, { status, ...(headers && { headers }) })

const logFailure = (error: Customers.DatabaseError) => Effect.logError(error.message, error.cause)

/** The one rule for a name, whichever route it came by: present, decoded, not too long. */
const checkName = (name: string | undefined): Either.Either<string, string> => {
  if (name === undefined || name === "") return Either.left("a customer name is required")
  if (name.length > maxNameLength) {
    return Either.left(`a customer name has at most ${maxNameLength} characters, got ${name.length}`)
  }
  return Either.right(name)
}

/** Looks the name up and answers with `found`; the lookup's errors are answered in the path's format. */
const answer = <A>(path: string, name: string, found: (id: number) => A) =>
  Effect.flatMap(Customers.Customers, (customers) => customers.fetchCustomerId(name)).pipe(
    Effect.map(found),
    Effect.catchTags({
      CustomerNotFound: (error) => Effect.succeed(errorResponse(path, 404, path === "/" ? "Not Found" : error.message)),
      DatabaseError: (error) =>
        Effect.as(
          logFailure(error),
          errorResponse(path, 500, path === "/" ? "Internal Server Error" : error.message)
        )
    })
  )

// -----------------------------------------------------------------------------
// routes
// -----------------------------------------------------------------------------

/** `GET /?name=…`, answered as the seed's handler does. */
const idByQuery = Effect.gen(function*() {
  // Absent parameters are absent from the record, whatever its type says.
  const name: string | Array<string> | undefined = (yield* HttpServerRequest.ParsedSearchParams).name
  if (Array.isArray(name)) {
    return errorResponse(
      "/",
      400,
      `Bad Request: the query parameter "name" was given ${name.length} times; give it once, e.g. GET /?name=customer-1`
    )
  }
  const checked = checkName(name)
  if (Either.isLeft(checked)) {
    return errorResponse(
      "/",
      400,
      name === undefined || name === ""
        ? "Bad Request: the query parameter \"name\" is missing or empty; try GET /?name=customer-1"
        : `Bad Request: ${checked.left}`
    )
  }
  return yield* answer("/", checked.right, (id) => HttpServerResponse.text(String(id)))
})

const pathOf = (request: HttpServerRequest.HttpServerRequest): string => request.url.split("?", 1)[0]!

/**
 * The name in `/customers/<name>`, percent-decoded here rather than by the
 * router, so that a malformed escape is a 400 with a reason.
 */
const decodeName = (raw: string): Either.Either<string, string> =>
  Either.try({
    try: () => decodeURIComponent(raw),
    catch: () => `the customer name ${JSON.stringify(raw)} is not valid percent-encoded UTF-8`
  })

const encodeCustomer = HttpServerResponse.schemaJson(Customers.Customer)

/** `GET /customers/<name>` as JSON, encoded with the `Customer` schema; `/customers/a/b` is an unknown path. */
const customerByPath = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const path = pathOf(request)
  const raw = path.slice("/customers/".length)
  if (raw.includes("/")) return unknownPath(request.method, path)
  const name = Either.flatMap(decodeName(raw), checkName)
  if (Either.isLeft(name)) return errorResponse(path, 400, name.left)
  const found = yield* answer(path, name.right, (id) => new Customers.Customer({ id, name: name.right }))
  return HttpServerResponse.isServerResponse(found) ? found : yield* encodeCustomer(found).pipe(
    Effect.catchTag(
      "HttpBodyError",
      () => Effect.succeed(errorResponse(path, 500, "the customer could not be encoded"))
    )
  )
})

/** The paths that have a route, and the methods they answer. */
const allowedMethods = (path: string): Option.Option<string> =>
  path === "/metrics"
    ? Option.some("GET")
    : path === "/" || /^\/customers\/[^/]+$/.test(path)
    ? Option.some("GET, HEAD")
    : Option.none()

const unknownPath = (method: string, path: string) =>
  errorResponse(path, 404, `no route for ${method} ${path}; try GET /customers/customer-1`)

/**
 * Whatever the router refused: an empty name, a name it could not decode
 * (answered by {@link customerByPath}, with the reason), a wrong method (405
 * with `Allow`) or an unknown path.
 */
const unmatched = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
  const path = pathOf(request)
  if (path === "/customers" || path === "/customers/") {
    return Effect.succeed(errorResponse(path, 400, "a customer name is required: GET /customers/customer-1"))
  }
  if ((request.method === "GET" || request.method === "HEAD") && path.startsWith("/customers/")) return customerByPath
  return Effect.succeed(Option.match(allowedMethods(path), {
    onSome: (allow) => errorResponse(path, 405, `${request.method} is not allowed on ${path}; use ${allow}`, { allow }),
    onNone: () => unknownPath(request.method, path)
  }))
})

/**
 * The customer routes and the answers for everything else, without
 * `/metrics`: the app that `HttpSingleFlight.middleware` wraps.
 */
export const router: HttpApp.Default<never, Customers.Customers> = HttpRouter.empty.pipe(
  HttpRouter.get("/", idByQuery),
  // A wildcard rather than `:name`, which the router refuses beyond 100 characters. It still refuses malformed
  // escapes: `unmatched` hands those to `customerByPath`, which says what is wrong with them.
  HttpRouter.get("/customers/*", customerByPath),
  Effect.catchTag("RouteNotFound", () => unmatched)
)

// -----------------------------------------------------------------------------
// metrics
// -----------------------------------------------------------------------------

/**
 * `GET /metrics`: Effect's whole metric registry, read by
 * `@effect/opentelemetry`'s producer and written by OpenTelemetry's
 * Prometheus serializer.
 */
const metricsApp = Effect.gen(function*() {
  const producer = yield* Metrics.makeProducer
  const serializer = new PrometheusSerializer()
  return Effect.promise(() => producer.collect()).pipe(
    Effect.map(({ resourceMetrics }) =>
      HttpServerResponse.text(serializer.serialize(resourceMetrics), {
        contentType: "text/plain; version=0.0.4; charset=utf-8"
      })
    )
  )
}).pipe(Effect.provide(Resource.layer({ serviceName: "example-customers" })))

/** `/metrics` on its own, outside the middleware: a scrape is not a customer request. */
const app: Effect.Effect<
  HttpApp.Default<never, Customers.Customers | HttpSingleFlight.HttpSingleFlight | Scope.Scope>
> = Effect
  .map(metricsApp, (metrics) => {
    const customers = HttpSingleFlight.middleware(router)
    return Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request) => request.method === "GET" && pathOf(request) === "/metrics" ? metrics : customers
    )
  })

// -----------------------------------------------------------------------------
// the server
// -----------------------------------------------------------------------------

export interface Options extends Customers.Options {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** The SQLite file, created and seeded if missing; default `Database.defaultFile`. */
  readonly database?: string | undefined
  /** The round trip of each database query; default `Database.defaultRoundTrip` (128 ms). */
  readonly latency?: Duration.DurationInput | undefined
  /** The size of the database's connection pool; default `Database.defaultConnections` (8). */
  readonly connections?: number | undefined
  /** Also put `HttpSingleFlight.middleware` around the routes; default `false`. */
  readonly httpSingleFlight?: boolean | undefined
}

export class CustomerServer extends Context.Tag("example-customers/CustomerServer")<CustomerServer, {
  /** For example `http://127.0.0.1:8080`. */
  readonly url: string
  /** The number of database queries since the server started. */
  readonly queries: Effect.Effect<number>
}>() {}

const describe = Effect.gen(function*() {
  const database = yield* Database.Database
  const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
  return { url, queries: database.queries }
})

/**
 * The server, listening once the layer is built (the database is created
 * first if needed), and stopped when it is released. The `SingleFlight`
 * group, the HTTP middleware's group and the database are provided to the
 * whole server layer, so that they live as long as the server. The middleware
 * is always there, for its `x-singleflight` header; without
 * `httpSingleFlight` it lets every request through on its own (`bypass`).
 */
export const layer = (options: Options = {}): Layer.Layer<CustomerServer, ServeError | SqlError.SqlError> => {
  const coalesce = options.httpSingleFlight === true
  return Layer.mergeAll(
    Layer.unwrapEffect(Effect.map(app, (app) => HttpServer.serve(app))),
    Layer.effect(CustomerServer, describe)
  ).pipe(
    Layer.provide(Customers.layer(options)),
    Layer.provide(Layer.mergeAll(
      SingleFlight.layer,
      HttpSingleFlight.layer({
        responseHeader: singleFlightHeader,
        ...(coalesce ? {} : { key: () => Option.none() })
      }),
      Database.layer({
        filename: options.database ?? Database.defaultFile,
        connections: options.connections,
        roundTrip: options.latency
      })
    )),
    Layer.provide(NodeHttpServer.layer(createServer, { port: options.port ?? 8080, host: options.host ?? "127.0.0.1" }))
  )
}

/**
 * {@link layer} configured from the environment: `PORT` (8080), `HOST`
 * (127.0.0.1), `CUSTOMERS_DB` (the default file), `CUSTOMERS_LATENCY_MS`
 * (128), `CUSTOMERS_CONNECTIONS` (8), `SINGLEFLIGHT` (true) and
 * `HTTP_SINGLEFLIGHT` (false).
 */
export const layerConfig: Layer.Layer<CustomerServer, ServeError | SqlError.SqlError | ConfigError.ConfigError> = Layer
  .unwrapEffect(
    Effect.gen(function*() {
      const port = yield* Config.integer("PORT").pipe(Config.withDefault(8080))
      const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
      const database = yield* Config.string("CUSTOMERS_DB").pipe(Config.withDefault(Database.defaultFile))
      const latency = yield* Config.integer("CUSTOMERS_LATENCY_MS").pipe(Config.withDefault(128))
      const connections = yield* Config.integer("CUSTOMERS_CONNECTIONS").pipe(
        Config.withDefault(Database.defaultConnections)
      )
      const singleFlight = yield* Config.boolean("SINGLEFLIGHT").pipe(Config.withDefault(true))
      const httpSingleFlight = yield* Config.boolean("HTTP_SINGLEFLIGHT").pipe(Config.withDefault(false))
      return layer({ port, host, database, latency: `${latency} millis`, connections, singleFlight, httpSingleFlight })
    })
  )
