/**
 * @internal
 */
import * as Cookies from "@effect/platform/Cookies"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import { SingleFlight } from "effect-singleflight"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as HttpSingleFlight from "../HttpSingleFlight.js"
import * as headers from "./headers.js"
import * as options from "./options.js"

/** An immutable copy of an upstream response; each caller reads a `Response` of its own made from it. */
interface Snapshot {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
  /**
   * `null` when the response had no body at all (as `fetch` reports a HEAD or a 204). Typed on `ArrayBuffer`, not
   * `ArrayBufferLike`, because TypeScript's DOM `BodyInit` (a user's default `lib`) only takes the former.
   */
  readonly body: Uint8Array<ArrayBuffer> | null
}

/**
 * - `Shared`: every caller builds its own response from the snapshot;
 * - `Unshared`: the response may not be handed around (private, sets
 *   cookies, declared larger than the limit…): it goes, unread, to the caller
 *   whose request was sent, and the others send their own;
 * - `TooLarge`: the body outgrew the limit while being read (no or a
 *   compressed `Content-Length`); what was read is dropped and every caller
 *   sends its own request.
 */
type Outcome =
  | { readonly _tag: "Shared"; readonly snapshot: Snapshot }
  | { readonly _tag: "Unshared"; readonly leader: object; readonly response: HttpClientResponse.HttpClientResponse }
  | { readonly _tag: "TooLarge" }

const tooLarge: Outcome = { _tag: "TooLarge" }

// Statuses that a `Response` cannot be built with a body for.
const nullBodyStatuses: ReadonlySet<number> = new Set([204, 205, 304])

interface ResolvedClient extends options.Resolved {
  readonly key: ((request: HttpClientRequest.HttpClientRequest) => Option.Option<unknown>) | undefined
}

const resolve = (input: HttpSingleFlight.ClientOptions | undefined): ResolvedClient => ({
  ...options.resolveCommon(input, "http.client"),
  key: input?.key
})

const keyOf = (resolved: ResolvedClient, request: HttpClientRequest.HttpClientRequest): Option.Option<unknown> => {
  if (!resolved.methods.has(request.method) || headers.wantsOwnResponse(request.headers)) return Option.none()
  if (resolved.key !== undefined) {
    return Option.map(resolved.key(request), (custom) => Data.array([request.method, custom]))
  }
  // The fragment is never sent, so it is not part of the key.
  const url = UrlParams.makeUrl(request.url, request.urlParams, Option.none())
  if (Either.isLeft(url)) return Option.none()
  const values = resolved.headers.map((name) => request.headers[name])
  return Option.some(Data.array([request.method, url.right.toString(), ...values]))
}

/** The body, `null` if there is none, or `undefined` once it grew past `limit` bytes. */
const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<Uint8Array<ArrayBuffer> | null | undefined, HttpClientError.ResponseError> =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    // Stops pulling (which aborts the upstream response) as soon as the limit is passed.
    return Stream.runFoldWhile(response.stream, 0, (size) => size <= limit, (size, chunk) => {
      chunks.push(chunk)
      return size + chunk.byteLength
    }).pipe(
      Effect.map((size) => {
        if (size > limit) return undefined
        const body = new Uint8Array(size)
        let offset = 0
        for (const chunk of chunks) {
          body.set(chunk, offset)
          offset += chunk.byteLength
        }
        return body
      }),
      Effect.catchIf((error) => error.reason === "EmptyBody", () => Effect.succeed(null))
    )
  })

const isShareable = (resolved: ResolvedClient, response: HttpClientResponse.HttpClientResponse): boolean => {
  // `Response` only takes final statuses in this range.
  if (response.status < 200 || response.status > 599) return false
  const declared = Number(response.headers["content-length"])
  if (Number.isFinite(declared) && declared > resolved.maxBodySize) return false
  return headers.isShareableResponse(response.headers, !Cookies.isEmpty(response.cookies), resolved.headerSet)
}

const fetchShared = (
  resolved: ResolvedClient,
  send: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>,
  leader: object
): Effect.Effect<Outcome, HttpClientError.HttpClientError> =>
  Effect.flatMap(send, (response): Effect.Effect<Outcome, HttpClientError.HttpClientError> => {
    if (!isShareable(resolved, response)) return Effect.succeed({ _tag: "Unshared", leader, response })
    return Effect.map(readBody(response, resolved.maxBodySize), (body): Outcome =>
      body === undefined ? tooLarge : {
        _tag: "Shared",
        snapshot: { status: response.status, headers: Object.entries(response.headers), body }
      })
  })

const fromSnapshot = (
  request: HttpClientRequest.HttpClientRequest,
  snapshot: Snapshot
): HttpClientResponse.HttpClientResponse => {
  const body = nullBodyStatuses.has(snapshot.status) ? null : snapshot.body
  // `Response` copies the bytes, so the snapshot stays as it is for the next caller.
  return HttpClientResponse.fromWeb(
    request,
    new Response(body, { status: snapshot.status, headers: snapshot.headers as Array<[string, string]> })
  )
}

/** @internal */
export const makeClient: {
  (
    options?: HttpSingleFlight.ClientOptions
  ): (self: HttpClient.HttpClient) => Effect.Effect<HttpClient.HttpClient, never, Scope.Scope>
  (
    self: HttpClient.HttpClient,
    options?: HttpSingleFlight.ClientOptions
  ): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope>
} = dual(
  (args) => Predicate.hasProperty(args[0], HttpClient.TypeId),
  (self: HttpClient.HttpClient, input?: HttpSingleFlight.ClientOptions) =>
    Effect.gen(function*() {
      const resolved = yield* options.validate(() => resolve(input))
      // Keys hold credentials (Authorization, Cookie): they are never rendered into spans.
      const group = yield* SingleFlight.make<unknown, Outcome, HttpClientError.HttpClientError>({
        name: resolved.name,
        whenAbandoned: resolved.whenAbandoned,
        keyAttribute: false
      })
      return HttpClient.transform(self, (send, request) =>
        Effect.suspend(() => {
          const key = keyOf(resolved, request)
          if (Option.isNone(key)) return send
          const ticket = {}
          return Effect.flatMap(group.call(key.value, fetchShared(resolved, send, ticket)), (outcome) => {
            switch (outcome._tag) {
              case "Shared":
                return Effect.succeed(fromSnapshot(request, outcome.snapshot))
              case "Unshared":
                return outcome.leader === ticket ? Effect.succeed(outcome.response) : send
              case "TooLarge":
                return send
            }
          })
        }))
    })
)

/** @internal */
export const layerClient = (
  input?: HttpSingleFlight.ClientOptions
): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
  Layer.scoped(HttpClient.HttpClient, Effect.flatMap(HttpClient.HttpClient, makeClient(input)))
