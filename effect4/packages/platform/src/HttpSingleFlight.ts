/**
 * Singleflight for `effect/http` (effect 4): identical requests that are in
 * flight at the same time share one execution.
 *
 * So far the effect 4 line has the client half: {@link makeClient} /
 * {@link layerClient} wrap an `HttpClient`, so that concurrent identical
 * outgoing GETs make one upstream request and each caller reads a response
 * of its own. The server middleware is not ported yet (see docs/effect4.md).
 *
 * Coalescing is not caching: only requests that arrive while an execution is
 * running share it, and nothing is kept once it ends. See docs/http.md for
 * the keying rules and the security notes.
 *
 * @since 1.0.0
 */
import type { SingleFlight } from "effect-singleflight"
import type * as ByteSize from "effect/ByteSize"
import type * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type { HttpMethod } from "effect/http/HttpMethod"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as client from "./internal/client.js"
import * as headers from "./internal/headers.js"
import * as options from "./internal/options.js"

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
