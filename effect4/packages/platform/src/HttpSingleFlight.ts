/**
 * Singleflight for `effect/http` (effect 4): identical requests that are in
 * flight at the same time share one execution.
 *
 * - Server: {@link middleware} (with {@link layer}) or the `middleware` of
 *   an instance from {@link make} wraps an app, so that concurrent identical
 *   requests run it once and each request gets its own copy of the response.
 * - Client: {@link makeClient} / {@link layerClient} wrap an `HttpClient`,
 *   so that concurrent identical outgoing GETs make one upstream request and
 *   each caller reads a response of its own.
 *
 * Coalescing is not caching: only requests that arrive while an execution is
 * running share it, and nothing is kept once it ends. See docs/http.md for
 * the keying rules and the security notes.
 *
 * @since 1.0.0
 */
import type { SingleFlight } from "effect-singleflight"
import type * as ByteSize from "effect/ByteSize"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type { HttpMethod } from "effect/http/HttpMethod"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as client from "./internal/client.js"
import * as headers from "./internal/headers.js"
import * as options from "./internal/options.js"
import * as server from "./internal/server.js"

/**
 * @since 1.0.0
 * @category type ids
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * console.log(typeof HttpSingleFlight.TypeId) // "symbol"
 * ```
 */
export const TypeId: unique symbol = server.TypeId as never

/**
 * @since 1.0.0
 * @category type ids
 * @example
 * ```ts
 * import type { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * type Id = HttpSingleFlight.TypeId
 * ```
 */
export type TypeId = typeof TypeId

/**
 * The request headers that are part of the key by default, lowercased:
 * credentials (`authorization`, `cookie`), content negotiation (`accept`,
 * `accept-encoding`, `accept-language`), `host`, and the range and
 * conditional headers (`range`, `if-range`, `if-match`, `if-none-match`,
 * `if-modified-since`, `if-unmodified-since`), whose requests expect an
 * answer of their own (a 206, a 304).
 *
 * @since 1.0.0
 * @category constants
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * // also keep tenants apart
 * const options: HttpSingleFlight.ClientOptions = {
 *   headers: [...HttpSingleFlight.defaultKeyHeaders, "x-tenant"]
 * }
 * ```
 */
export const defaultKeyHeaders: ReadonlyArray<string> = headers.defaultKeyHeaders

/**
 * The default largest body that is shared: 1 MiB.
 *
 * @since 1.0.0
 * @category constants
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const options: HttpSingleFlight.ClientOptions = { maxBodySize: 4 * HttpSingleFlight.defaultMaxBodySize }
 * ```
 */
export const defaultMaxBodySize: number = options.defaultMaxBodySize

/**
 * Options of the client transform, checked when it is made (a mistake is a
 * defect with a `SingleFlight.InvalidOptionsError`; `name` and
 * `whenAbandoned` go to `SingleFlight.make` as given, which checks them):
 *
 * - `name`: the name of the underlying group in spans and metrics; default
 *   `"http.client"`. Keys are never rendered into spans: they hold the
 *   values of `Authorization` and `Cookie`.
 * - `methods`: the methods that are coalesced; default `["GET", "HEAD"]`.
 *   Other methods, and any request with a body, go upstream on their own.
 * - `headers`: the request headers that are part of the key; default
 *   {@link defaultKeyHeaders}. The list replaces the default: spread it to
 *   add to it. A response whose `Vary` names a header outside this list is
 *   not shared.
 * - `key`: a custom key instead of URL and headers; `Option.none()` sends
 *   the request on its own. The method is always added to it. Keys compare
 *   with `Equal` (plain arrays and objects by value). It must hold
 *   everything the response depends on. With a custom key, `headers` only
 *   says which headers the key covers, for the `Vary` rule; by default none.
 * - `maxBodySize`: the largest body that is shared, as a `ByteSize.Input`
 *   (`65536`, `"64 KiB"`); default 1 MiB ({@link defaultMaxBodySize}).
 * - `whenAbandoned`: what happens to the upstream request when every caller
 *   waiting for it has gone; default `"interrupt"`. See
 *   `SingleFlight.AbandonPolicy`.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const options: HttpSingleFlight.ClientOptions = { maxBodySize: "256 KiB" }
 * ```
 */
export interface ClientOptions {
  readonly name?: string | undefined
  readonly methods?: ReadonlyArray<HttpMethod> | undefined
  readonly headers?: ReadonlyArray<string> | undefined
  readonly key?: ((request: HttpClientRequest.HttpClientRequest) => Option.Option<unknown>) | undefined
  readonly maxBodySize?: ByteSize.Input | undefined
  readonly whenAbandoned?: SingleFlight.AbandonPolicy | undefined
}

/**
 * Wraps an `HttpClient` so that concurrent identical outgoing requests (GET
 * and HEAD by default; same method, URL and key headers) make one upstream
 * request. The body is read once, up to `maxBodySize` bytes, and each caller
 * gets a response of its own that it can read in any way.
 *
 * A request with a body always goes upstream on its own. A response that
 * cannot be shared (larger than the limit, private, setting cookies…) goes
 * unread to the caller whose request was sent, and the other callers send
 * their own; if that caller has gone, the response is aborted. A caller that
 * is interrupted stops waiting; the upstream request is interrupted once no
 * caller is left.
 *
 * The group lives as long as the `Scope`.
 *
 * @since 1.0.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpClient } from "effect/http"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* HttpClient.HttpClient.pipe(Effect.flatMap(HttpSingleFlight.makeClient()))
 *   return yield* Effect.all([client.get("https://example.com"), client.get("https://example.com")], {
 *     concurrency: "unbounded"
 *   })
 * }).pipe(Effect.scoped)
 * ```
 */
export const makeClient: {
  (options?: ClientOptions): (self: HttpClient.HttpClient) => Effect.Effect<HttpClient.HttpClient, never, Scope.Scope>
  (self: HttpClient.HttpClient, options?: ClientOptions): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope>
} = client.makeClient

/**
 * Replaces the `HttpClient` service with one made by {@link makeClient}.
 *
 * @since 1.0.0
 * @category layers
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const ClientLive = HttpSingleFlight.layerClient().pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 */
export const layerClient: (
  options?: ClientOptions
) => Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> = client.layerClient

/**
 * Options of the server middleware, checked when it is made (a mistake is a
 * defect with a `SingleFlight.InvalidOptionsError`; `name` and
 * `whenAbandoned` go to `SingleFlight.make` as given, which checks them):
 *
 * - `name`: the name of the underlying group in spans and metrics; default
 *   `"http.server"`. Keys are never rendered into spans.
 * - `methods`: the methods that are coalesced; default `["GET", "HEAD"]`.
 *   A request with a body always runs on its own, whatever its method: the
 *   body is never part of the key.
 * - `headers`: the request headers that are part of the key; default
 *   {@link defaultKeyHeaders}. The list replaces the default: spread it to
 *   add to it. A response whose `Vary` names a header outside this list is
 *   not shared.
 * - `key`: a custom key instead of URL and headers; `Option.none()` lets
 *   the request run on its own. The method is always added to it. Keys
 *   compare with `Equal` (plain arrays and objects by value). It must hold
 *   everything the response depends on (see the security notes of
 *   docs/http.md). With a custom key, `headers` only says which headers the
 *   key covers, for the `Vary` rule; by default none.
 * - `maxBodySize`: the largest body that is shared, as a `ByteSize.Input`;
 *   default 1 MiB ({@link defaultMaxBodySize}).
 * - `responseHeader`: the name of a response header that says how the
 *   response was made: `leader` (this request ran the app), `shared` (it
 *   received a copy of another's), `bypass` (it ran alone, without
 *   coalescing); default none.
 * - `whenAbandoned`: what happens to the execution when every request
 *   waiting for it has gone; default `"interrupt"`.
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const options: HttpSingleFlight.Options = {
 *   key: (request) => Option.some(request.url),
 *   maxBodySize: "64 KiB",
 *   responseHeader: "x-singleflight"
 * }
 * ```
 */
export interface Options {
  readonly name?: string | undefined
  readonly methods?: ReadonlyArray<HttpMethod> | undefined
  readonly headers?: ReadonlyArray<string> | undefined
  readonly key?: ((request: HttpServerRequest.HttpServerRequest) => Option.Option<unknown>) | undefined
  readonly maxBodySize?: ByteSize.Input | undefined
  readonly responseHeader?: string | undefined
  readonly whenAbandoned?: SingleFlight.AbandonPolicy | undefined
}

/**
 * A server middleware with its own group. Wrap the app (or the router's
 * handler) with it, not the part of the server that writes the response: given
 * to `HttpServer.serve(app, middleware)`, it is a defect
 * ({@link MisplacedMiddlewareError}).
 *
 * @since 1.0.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServer, HttpServerResponse } from "effect/http"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const serve = Effect.gen(function*() {
 *   const singleFlight = yield* HttpSingleFlight.make({ responseHeader: "x-singleflight" })
 *   yield* HttpServer.serveEffect(singleFlight.middleware(Effect.succeed(HttpServerResponse.text("hello"))))
 * })
 * ```
 */
export interface HttpSingleFlight extends Pipeable {
  readonly [TypeId]: TypeId
  /**
   * Wraps an app: requests with the same key that are in flight together
   * run it once and each receive a copy of the response.
   */
  readonly middleware: <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest | Scope.Scope>
  /** The counters of the underlying group: `executions` is the number of app runs it started. */
  readonly stats: Effect.Effect<SingleFlight.Stats>
}

/**
 * The service of the app-wide {@link HttpSingleFlight}, provided by
 * {@link layer} and used by {@link middleware}.
 *
 * @since 1.0.0
 * @category services
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const sharedSoFar = Effect.flatMap(
 *   Effect.service(HttpSingleFlight.HttpSingleFlight),
 *   (singleFlight) => singleFlight.stats
 * )
 * ```
 */
export const HttpSingleFlight: Context.Service<HttpSingleFlight, HttpSingleFlight> = server.tag

/**
 * Makes a {@link HttpSingleFlight} that lives as long as the current `Scope`;
 * closing it interrupts the executions in flight.
 *
 * @since 1.0.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const singleFlight = yield* HttpSingleFlight.make({ maxBodySize: "64 KiB" })
 *   return yield* singleFlight.stats
 * }))
 * ```
 */
export const make: (options?: Options) => Effect.Effect<HttpSingleFlight, never, Scope.Scope> = server.make

/**
 * The app-wide {@link HttpSingleFlight}. Provide it to the whole server
 * layer, so that it lives as long as the server.
 *
 * @since 1.0.0
 * @category layers
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpServer, HttpServerResponse } from "effect/http"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const Serve = HttpServer.serve(HttpSingleFlight.middleware(Effect.succeed(HttpServerResponse.text("hello")))).pipe(
 *   Layer.provide(HttpSingleFlight.layer())
 * )
 * ```
 */
export const layer: (options?: Options) => Layer.Layer<HttpSingleFlight> = server.layer

/**
 * The middleware of the app-wide {@link HttpSingleFlight} (see {@link layer}).
 *
 * - Requests with the same method, URL (path and query) and values of the
 *   key headers that are in flight together run the app once; each gets its
 *   own `HttpServerResponse` built from a buffered copy of the response.
 * - GET and HEAD only by default; requests with a body, with
 *   `Cache-Control: no-cache` or `no-store`, and connection upgrades, always
 *   run on their own.
 * - A response is shared only if no pre-response handler that the app
 *   registered while it ran changed it (`HttpEffect.appendPreResponseHandler`;
 *   see docs/effect4.md for what this cannot see), it is held in memory (not
 *   a stream), is at most `maxBodySize` bytes, sets no cookie, is not
 *   `Cache-Control: private` or `no-store`, and varies only on key headers.
 *   Otherwise the request that ran the app gets its response, its
 *   pre-response handlers applied, and the others run the app themselves.
 * - A failure follows the same rules, applied to the response it renders to:
 *   shared, it is the failure of every request of the flight; otherwise the
 *   leader receives the response it rendered to.
 * - A request whose client disconnects stops waiting at once; the app keeps
 *   running for the others, and is interrupted when none is left.
 *
 * @since 1.0.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServer, HttpServerResponse } from "effect/http"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const Serve = HttpServer.serve(HttpSingleFlight.middleware(Effect.succeed(HttpServerResponse.text("hello"))))
 * ```
 */
export const middleware: <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) => Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  E,
  R | HttpSingleFlight | HttpServerRequest.HttpServerRequest | Scope.Scope
> = server.middleware

/**
 * @since 1.0.0
 * @category guards
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * HttpSingleFlight.isHttpSingleFlight({}) // false
 * ```
 */
export const isHttpSingleFlight: (u: unknown) => u is HttpSingleFlight = server.isHttpSingleFlight

/**
 * The defect of a middleware that wraps an app which has already written its
 * response, as happens when it is given to `HttpServer.serve(app, middleware)`.
 * The middleware tells with public API only: a pre-response handler that it
 * adds to the leader's request runs while such an app runs, which it never
 * does when the middleware wraps the app. The leader keeps the response already
 * written; every other request of the flight fails with this defect, logged.
 *
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { Cause } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const isMisplaced = (cause: Cause.Cause<unknown>) =>
 *   cause.reasons.some((reason) =>
 *     Cause.isDieReason(reason) && reason.defect instanceof HttpSingleFlight.MisplacedMiddlewareError
 *   )
 * ```
 */
export const MisplacedMiddlewareError: typeof server.MisplacedMiddlewareError = server.MisplacedMiddlewareError

/**
 * @since 1.0.0
 * @category errors
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const isMisplaced = (defect: unknown): defect is HttpSingleFlight.MisplacedMiddlewareError =>
 *   defect instanceof HttpSingleFlight.MisplacedMiddlewareError
 * ```
 */
export type MisplacedMiddlewareError = server.MisplacedMiddlewareError
