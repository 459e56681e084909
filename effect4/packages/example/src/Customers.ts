/**
 * A small customer service on effect 4, with both kinds of coalescing an application uses:
 *
 * - `HttpSingleFlight.middleware` around the routes: identical requests in flight together (same method, URL and key
 *   headers) share one response;
 * - `SingleFlight.call` around the database lookup: requests for the same customer share one query even when their
 *   requests differ (another query string, another `Accept-Language`), which the middleware keeps apart.
 *
 * `GET /customers/:name` answers `{ "name": …, "id": … }` from a slow database.
 */
import { HttpSingleFlight } from "@effect-singleflight/platform"
import type { Duration } from "effect"
import { Context, Effect, Layer } from "effect"
import { SingleFlight } from "effect-singleflight"
import { HttpRouter, HttpServerResponse } from "effect/http"

/** The database: one lookup a query. */
export class Database extends Context.Service<Database, {
  readonly lookup: (name: string) => Effect.Effect<number>
}>()("@effect-singleflight/example/Database") {}

/** A database that takes `roundTrip` per query and knows only `customer-1`, whose id is 1. */
export const DatabaseLive = (roundTrip: Duration.Input = "100 millis"): Layer.Layer<Database> =>
  Layer.succeed(Database)({
    lookup: (name) => Effect.as(Effect.sleep(roundTrip), name === "customer-1" ? 1 : 0)
  })

/** The customer's id: concurrent lookups of one name share one query. */
export const customerId = (name: string): Effect.Effect<number, never, Database | SingleFlight.SingleFlight> =>
  SingleFlight.call(name, Effect.flatMap(Effect.service(Database), (database) => database.lookup(name)))

const Routes = HttpRouter.add(
  "GET",
  "/customers/:name",
  Effect.gen(function*() {
    const { name = "" } = yield* HttpRouter.params
    return yield* HttpServerResponse.json({ name, id: yield* customerId(name) })
  })
)

/** Identical requests share one response; `x-singleflight` says whether a response was the leader's or shared. */
const Coalesced = HttpRouter.middleware(HttpSingleFlight.middleware, { global: true })

/**
 * The server, to run on an `HttpServer` (see main.ts): the routes behind the middleware, with the app-wide
 * `SingleFlight` and `HttpSingleFlight` (kept in the output, for their `stats`). The middleware goes through `HttpRouter.middleware`, which wraps the
 * routes; the `middleware` option of `HttpRouter.serve` would wrap the writing of the response too, which is a
 * `HttpSingleFlight.MisplacedMiddlewareError`.
 */
export const ServerLive = HttpRouter.serve(Layer.mergeAll(Routes, Coalesced)).pipe(
  Layer.provideMerge([SingleFlight.layer, HttpSingleFlight.layer({ responseHeader: "x-singleflight" })])
)
