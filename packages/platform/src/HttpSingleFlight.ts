/**
 * Singleflight for `@effect/platform` HTTP: identical requests that are in
 * flight at the same time share one execution.
 *
 * - On the server, {@link middleware} (or the `middleware` of a
 *   {@link HttpSingleFlight} made with {@link make}) wraps an `HttpApp` or an
 *   `HttpRouter`: concurrent identical GET and HEAD requests run the handler
 *   once, and each receives its own copy of the response.
 * - On the client, {@link makeClient} / {@link layerClient} wrap an
 *   `HttpClient`: concurrent identical outgoing GETs make one upstream
 *   request, and each caller reads a response of its own.
 *
 * Coalescing is not caching: only requests that arrive while an execution is
 * running share it, and nothing is kept once it ends. See docs/http.md for
 * the keying rules and the security notes.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type { SingleFlight } from "effect-singleflight"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as client from "./internal/client.js"
import * as headers from "./internal/headers.js"
import * as options from "./internal/options.js"
import * as server from "./internal/server.js"

/**
 * @since 0.1.0
 * @category type ids
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const program = Effect.map(HttpSingleFlight.make(), (server) => HttpSingleFlight.TypeId in server).pipe(
 *   Effect.scoped
 * )
 * ```
 */
export const TypeId: unique symbol = server.TypeId as never

/**
 * @since 0.1.0
 * @category type ids
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const id: HttpSingleFlight.TypeId = HttpSingleFlight.TypeId
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
 * @since 0.1.0
 * @category constants
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * // also keep tenants apart
 * const options: HttpSingleFlight.Options = {
 *   headers: [...HttpSingleFlight.defaultKeyHeaders, "x-tenant"]
 * }
 * ```
 */
export const defaultKeyHeaders: ReadonlyArray<string> = headers.defaultKeyHeaders

/**
 * The default largest body that is shared: 1 MiB.
 *
 * @since 0.1.0
 * @category constants
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const options: HttpSingleFlight.Options = { maxBodySize: 4 * HttpSingleFlight.defaultMaxBodySize }
 * ```
 */
export const defaultMaxBodySize: number = options.defaultMaxBodySize

/**
 * Options of the server middleware, checked when it is made (a mistake is a
 * defect with a `SingleFlight.InvalidOptionsError`; `name` and
 * `whenAbandoned` go to `SingleFlight.make` as given, which checks them):
 *
 * - `name`: the name of the underlying group in spans and metrics (see
 *   docs/observability.md); default `"http.server"`. Keys are never
 *   rendered into spans: they hold the values of `Authorization` and
 *   `Cookie`.
 * - `methods`: the methods that are coalesced; default `["GET", "HEAD"]`.
 *   Other methods pass straight through, and so does a request with a body
 *   (`Content-Length` above zero or `Transfer-Encoding`), whatever its
 *   method: the body is never part of the key.
 * - `headers`: the request headers that are part of the key; default
 *   {@link defaultKeyHeaders}. The list replaces the default: spread it to
 *   add to it. A response whose `Vary` names a header outside this list is
 *   not shared.
 * - `key`: a custom key instead of URL and headers; `Option.none()` lets
 *   the request through on its own. The method is always added to it. Keys
 *   compare with `Equal`. It must hold everything the response depends on
 *   (see the security notes of docs/http.md). With a custom key, `headers`
 *   only says which headers the key covers, for the `Vary` rule; by default
 *   none, so that a response with any `Vary` is not shared.
 * - `maxBodySize`: the largest body that is shared; default 1 MiB
 *   ({@link defaultMaxBodySize}). Larger bodies are not shared.
 * - `responseHeader`: the name of a response header that says how the
 *   response was made: `leader` (this request ran the handler), `shared` (a
 *   copy of the response made for another request) or `bypass` (not
 *   coalesced); default none.
 * - `whenAbandoned`: what happens to the handler when every request waiting
 *   for it has gone; default `"interrupt"`, like a request of its own whose
 *   client disconnects. See `SingleFlight.AbandonPolicy`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const options: HttpSingleFlight.Options = {
 *   // the path alone: only for an API whose responses depend on nothing else
 *   key: (request) => Option.some(request.url),
 *   maxBodySize: 64 * 1024,
 *   responseHeader: "x-singleflight"
 * }
 * ```
 */
export interface Options {
  readonly name?: string | undefined
  readonly methods?: ReadonlyArray<HttpMethod> | undefined
  readonly headers?: ReadonlyArray<string> | undefined
  readonly key?: ((request: HttpServerRequest.HttpServerRequest) => Option.Option<unknown>) | undefined
  readonly maxBodySize?: FileSystem.SizeInput | undefined
  readonly responseHeader?: string | undefined
  readonly whenAbandoned?: SingleFlight.AbandonPolicy | undefined
}

/**
 * Options of the client transform, with the same meaning and defaults as the
 * server's {@link Options}, except that the group is named `"http.client"`;
 * the custom `key` receives the outgoing request.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const options: HttpSingleFlight.ClientOptions = { maxBodySize: 256 * 1024 }
 * ```
 */
export interface ClientOptions {
  readonly name?: string | undefined
  readonly methods?: ReadonlyArray<HttpMethod> | undefined
  readonly headers?: ReadonlyArray<string> | undefined
  readonly key?: ((request: HttpClientRequest.HttpClientRequest) => Option.Option<unknown>) | undefined
  readonly maxBodySize?: FileSystem.SizeInput | undefined
  readonly whenAbandoned?: SingleFlight.AbandonPolicy | undefined
}

/**
 * A server-side coalescer: its `middleware` makes concurrent identical
 * requests share one execution of the app it wraps.
 *
 * Apply the middleware to the app (or router) itself, not as the middleware
 * argument of `HttpServer.serve`: there it would wrap the part of the server
 * that writes the response, which is a defect
 * ({@link MisplacedMiddlewareError}).
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { HttpRouter, HttpServerResponse } from "@effect/platform"
 * import { Effect } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const app = Effect.gen(function*() {
 *   const singleFlight = yield* HttpSingleFlight.make({ responseHeader: "x-singleflight" })
 *   return HttpRouter.empty.pipe(
 *     HttpRouter.get("/", HttpServerResponse.text("hello")),
 *     HttpRouter.use(singleFlight.middleware)
 *   )
 * })
 * ```
 */
export interface HttpSingleFlight extends Pipeable {
  readonly [TypeId]: TypeId
  /**
   * Wraps an app: requests with the same key that are in flight together
   * run it once and each receive a copy of the response.
   */
  readonly middleware: <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R | Scope.Scope>
  /** The counters of the underlying group: `executions` is the number of handler runs it started. */
  readonly stats: Effect.Effect<SingleFlight.Stats>
}

/**
 * The tag of the app-wide {@link HttpSingleFlight}, provided by {@link layer}
 * and used by {@link middleware}.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const sharedSoFar = Effect.flatMap(HttpSingleFlight.HttpSingleFlight, (singleFlight) => singleFlight.stats)
 * ```
 */
export const HttpSingleFlight: Context.Tag<HttpSingleFlight, HttpSingleFlight> = server.tag

/**
 * Makes a {@link HttpSingleFlight} that lives as long as the current `Scope`;
 * closing it interrupts the executions in flight.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const singleFlight = yield* HttpSingleFlight.make({ maxBodySize: 64 * 1024 })
 *   return yield* singleFlight.stats
 * }))
 * ```
 */
export const make: (options?: Options) => Effect.Effect<HttpSingleFlight, never, Scope.Scope> = server.make

/**
 * The app-wide {@link HttpSingleFlight}. Provide it to the whole server
 * layer, so that it lives as long as the server.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { createServer } from "node:http"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const HttpLive = HttpRouter.empty.pipe(
 *   HttpRouter.get("/", HttpServerResponse.text("hello")),
 *   HttpRouter.use(HttpSingleFlight.middleware),
 *   HttpServer.serve(),
 *   Layer.provide(HttpSingleFlight.layer()),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080, host: "127.0.0.1" }))
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
 * - A response is shared only if the app registered no pre-response handler
 *   while it ran (`securitySetCookie` and a `cors` middleware inside the
 *   coalesced app do), it is held in memory (not a stream), is at most
 *   `maxBodySize` bytes, sets no cookie, is not `Cache-Control: private` or
 *   `no-store`, and varies only on key headers. Otherwise the request that
 *   ran the handler gets the original response, with its pre-response
 *   handlers, and the others run the app themselves.
 * - A failure follows the same rules, applied to the response it renders to:
 *   shared, it is the failure of every request of the flight; otherwise it is
 *   the leader's alone.
 * - A request whose client disconnects stops waiting at once; the handler
 *   keeps running for the others, and is interrupted when none is left.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { HttpRouter, HttpServerResponse } from "@effect/platform"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const router = HttpRouter.empty.pipe(
 *   HttpRouter.get("/", HttpServerResponse.text("hello")),
 *   HttpRouter.use(HttpSingleFlight.middleware)
 * )
 * ```
 */
export const middleware: <E, R>(
  app: HttpApp.Default<E, R>
) => HttpApp.Default<E, R | HttpSingleFlight | Scope.Scope> = server.middleware

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
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
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
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const ClientLive = HttpSingleFlight.layerClient().pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 */
export const layerClient: (
  options?: ClientOptions
) => Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> = client.layerClient

/**
 * @since 0.1.0
 * @category utils
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
 * response, as happens when it is given to `HttpServer.serve(middleware)`.
 * The middleware tells with public API only: such an app runs the
 * pre-response handlers itself, which an app never does.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { Cause } from "effect"
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 *
 * const isMisplaced = (cause: Cause.Cause<unknown>) =>
 *   Cause.dieOption(cause).pipe((defect) =>
 *     defect._tag === "Some" && defect.value instanceof HttpSingleFlight.MisplacedMiddlewareError
 *   )
 * ```
 */
export const MisplacedMiddlewareError: typeof server.MisplacedMiddlewareError = server.MisplacedMiddlewareError

/**
 * @since 0.1.0
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
