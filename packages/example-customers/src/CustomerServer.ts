/**
 * The seed's HTTP server, with `@effect/platform`:
 *
 * - `GET /?name=customer-1` → `1` (text); unknown name → 404; database
 *   failure → 500; missing or empty `name` → 400;
 * - `GET /customers/customer-1` → `{"id":1,"name":"customer-1"}`, encoded
 *   with the `Customer` schema; unknown → 404, failure → 500 (JSON errors).
 *
 * {@link layer} starts it (the benchmark does, with port 0), and the
 * {@link CustomerServer} service it provides tells the URL and the number of
 * database queries so far.
 */
import { HttpSingleFlight } from "@effect-singleflight/platform"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { ServeError } from "@effect/platform/HttpServerError"
import type { SqlError } from "@effect/sql"
import { Config, Context, Duration, Effect, Layer, Schema } from "effect"
import type { ConfigError } from "effect"
import { SingleFlight } from "effect-singleflight"
import { createServer } from "node:http"
import * as Customers from "./Customers.js"
import * as Database from "./Database.js"

// -----------------------------------------------------------------------------
// routes
// -----------------------------------------------------------------------------

const NameQuery = Schema.Struct({ name: Schema.NonEmptyString })
const NamePath = Schema.Struct({ name: Schema.NonEmptyString })

const statusText = (status: 404 | 500) =>
  HttpServerResponse.text(status === 404 ? "Not Found" : "Internal Server Error", { status })

const missingName = HttpServerResponse.text(
  "Bad Request: the query parameter \"name\" is missing or empty; try GET /?name=customer-1",
  { status: 400 }
)

const logFailure = (error: Customers.DatabaseError) => Effect.logError(error.message, error.cause)

/** `GET /?name=…`, answered as the seed's handler does. */
const idByQuery = Effect.gen(function*() {
  const customers = yield* Customers.Customers
  const { name } = yield* HttpServerRequest.schemaSearchParams(NameQuery)
  const id = yield* customers.fetchCustomerId(name)
  return HttpServerResponse.text(String(id))
}).pipe(
  Effect.catchTags({
    ParseError: () => Effect.succeed(missingName),
    CustomerNotFound: () => Effect.succeed(statusText(404)),
    DatabaseError: (error) => Effect.as(logFailure(error), statusText(500))
  })
)

const encodeCustomer = HttpServerResponse.schemaJson(Customers.Customer)

/** `GET /customers/:name` as JSON. */
const customerByPath = Effect.gen(function*() {
  const customers = yield* Customers.Customers
  const { name } = yield* HttpRouter.schemaPathParams(NamePath)
  const id = yield* customers.fetchCustomerId(name)
  return yield* encodeCustomer(new Customers.Customer({ id, name }))
}).pipe(
  Effect.catchTags({
    ParseError: () => HttpServerResponse.json({ error: "a customer name is required" }, { status: 400 }),
    CustomerNotFound: (error) => HttpServerResponse.json({ error: error.message }, { status: 404 }),
    DatabaseError: (error) =>
      Effect.zipRight(logFailure(error), HttpServerResponse.json({ error: error.message }, { status: 500 })),
    HttpBodyError: () => HttpServerResponse.json({ error: "the customer could not be encoded" }, { status: 500 })
  })
)

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", idByQuery),
  HttpRouter.get("/customers/:name", customerByPath)
)

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
  const customers = yield* Customers.Customers
  const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
  return { url, queries: customers.queries }
})

/**
 * The server, listening once the layer is built (the database is created
 * first if needed), and stopped when it is released. The `SingleFlight`
 * group, the HTTP middleware's group and the SQL client are provided to the
 * whole server layer, so that they live as long as the server.
 */
export const layer = (options: Options = {}): Layer.Layer<CustomerServer, ServeError | SqlError.SqlError> => {
  const app = options.httpSingleFlight === true ? HttpRouter.use(router, HttpSingleFlight.middleware) : router
  return Layer.mergeAll(HttpServer.serve(app), Layer.effect(CustomerServer, describe)).pipe(
    Layer.provide(Customers.layer(options)),
    Layer.provide(Layer.mergeAll(
      SingleFlight.layer,
      HttpSingleFlight.layer(),
      Database.layer(options.database ?? Database.defaultFile)
    )),
    Layer.provide(NodeHttpServer.layer(createServer, { port: options.port ?? 8080, host: options.host ?? "127.0.0.1" }))
  )
}

/**
 * {@link layer} configured from the environment: `PORT` (8080), `HOST`
 * (127.0.0.1), `CUSTOMERS_DB` (the default file), `CUSTOMERS_LATENCY_MS`
 * (128), `SINGLEFLIGHT` (true) and `HTTP_SINGLEFLIGHT` (false).
 */
export const layerConfig: Layer.Layer<CustomerServer, ServeError | SqlError.SqlError | ConfigError.ConfigError> = Layer
  .unwrapEffect(
    Effect.gen(function*() {
      const port = yield* Config.integer("PORT").pipe(Config.withDefault(8080))
      const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
      const database = yield* Config.string("CUSTOMERS_DB").pipe(Config.withDefault(Database.defaultFile))
      const latency = yield* Config.integer("CUSTOMERS_LATENCY_MS").pipe(
        Config.withDefault(Duration.toMillis(Customers.defaultLatency))
      )
      const singleFlight = yield* Config.boolean("SINGLEFLIGHT").pipe(Config.withDefault(true))
      const httpSingleFlight = yield* Config.boolean("HTTP_SINGLEFLIGHT").pipe(Config.withDefault(false))
      return layer({ port, host, database, latency: Duration.millis(latency), singleFlight, httpSingleFlight })
    })
  )
