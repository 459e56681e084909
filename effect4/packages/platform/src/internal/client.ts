/**
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Cookies from "effect/http/Cookies"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as UrlParams from "effect/http/UrlParams"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as HttpSingleFlight from "../HttpSingleFlight.js"
import * as handover from "./handover.js"
import * as headers from "./headers.js"
import * as options from "./options.js"

// Statuses that a `Response` cannot be built with a body for.
const nullBodyStatuses: ReadonlySet<number> = new Set([204, 205, 304])

interface ResolvedClient extends options.Resolved {
  readonly key: ((request: HttpClientRequest.HttpClientRequest) => Option.Option<unknown>) | undefined
}

/** `None` for a request that goes upstream on its own: another method, a fresh response asked for, or a body. */
const keyOf = (resolved: ResolvedClient, request: HttpClientRequest.HttpClientRequest): Option.Option<unknown> => {
  if (
    !resolved.methods.has(request.method) || headers.wantsOwnResponse(request.headers) ||
    request.body._tag !== "Empty"
  ) {
    return Option.none()
  }
  // arrays compare by value in effect 4
  if (resolved.key !== undefined) return Option.map(resolved.key(request), (custom) => [request.method, custom])
  // The fragment is never sent, so it is not part of the key.
  const url = urlOf(request)
  if (url === undefined) return Option.none()
  const values = resolved.headers.map((name) => request.headers[name])
  return Option.some([request.method, url, ...values])
}

/** The URL the request goes to, without its fragment; `undefined` if it is not a valid URL. */
const urlOf = (request: HttpClientRequest.HttpClientRequest): string | undefined => {
  try {
    const url = new URL(request.url)
    const params = UrlParams.toString(request.urlParams)
    if (params !== "") url.search = url.search === "" ? params : `${url.search.slice(1)}&${params}`
    url.hash = ""
    return url.toString()
  } catch {
    return undefined
  }
}

/** The body, `null` if there is none, or `undefined` once it grew past `limit` bytes. */
const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<Uint8Array<ArrayBuffer> | null | undefined, HttpClientError.HttpClientError> =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    // Stops pulling (which aborts the upstream response) as soon as the limit is passed.
    return Stream.runForEachWhile(response.stream, (chunk) =>
      Effect.sync(() => {
        chunks.push(chunk)
        size += chunk.byteLength
        return size <= limit
      })).pipe(
        Effect.map(() => {
          if (size > limit) return undefined
          const body = new Uint8Array(size)
          let offset = 0
          for (const chunk of chunks) {
            body.set(chunk, offset)
            offset += chunk.byteLength
          }
          return body
        }),
        Effect.catchIf((error) => error.reason._tag === "EmptyBodyError", () => Effect.succeed(null))
      )
  })

const isShareable = (resolved: ResolvedClient, response: HttpClientResponse.HttpClientResponse): boolean => {
  // `Response` only takes final statuses in this range.
  if (response.status < 200 || response.status > 599) return false
  const declared = Number(response.headers["content-length"])
  if (Number.isFinite(declared) && declared > resolved.maxBodySize) return false
  return headers.isShareableResponse(response.headers, !Cookies.isEmpty(response.cookies), resolved.headerSet)
}

/**
 * Ends an upstream response that nobody will read, so that its connection
 * does not stay open with its stream stalled: the body is pulled and the pull
 * interrupted at the next timer tick, which aborts the request (a response of
 * `effect/http`'s clients aborts when a read of it is interrupted). A body
 * that arrives before then is read to its end, which releases it as well.
 */
const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  Effect.interruptible(Stream.runDrain(response.stream)).pipe(Effect.timeout(Duration.zero), Effect.ignore)

/**
 * The shared request. A response that may not be shared is offered, unread,
 * to the caller whose request was sent, and discarded if that caller has
 * gone; one whose body outgrows the limit while being read is dropped (the
 * interrupted read aborts it), and every caller sends its own.
 */
const execute = (
  resolved: ResolvedClient,
  send: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>,
  own: handover.Handover<HttpClientResponse.HttpClientResponse>
): Effect.Effect<handover.Outcome<HttpClientResponse.HttpClientResponse>, HttpClientError.HttpClientError> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(send), (response) => {
      const unshared = { _tag: "Unshared" as const, leader: own }
      if (!isShareable(resolved, response)) return Effect.as(own.offer(response, discard(response)), unshared)
      return Effect.map(restore(readBody(response, resolved.maxBodySize)), (body) =>
        body === undefined
          ? unshared
          : {
            _tag: "Shared" as const,
            leader: own,
            snapshot: { status: response.status, headers: response.headers, body }
          })
    })
  )

const fromSnapshot = (
  request: HttpClientRequest.HttpClientRequest,
  snapshot: handover.Snapshot
): HttpClientResponse.HttpClientResponse => {
  const body = nullBodyStatuses.has(snapshot.status) ? null : snapshot.body
  // `Response` copies the bytes, so the snapshot stays as it is for the next caller.
  return HttpClientResponse.fromWeb(request, new Response(body, { status: snapshot.status, headers: snapshot.headers }))
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
  (args) => HttpClient.isHttpClient(args[0]),
  (self: HttpClient.HttpClient, input?: HttpSingleFlight.ClientOptions) =>
    Effect.gen(function*() {
      const resolved = yield* options.validate((): ResolvedClient => ({
        ...options.resolveCommon(input),
        key: input?.key
      }))
      const group = yield* options.makeGroup<
        handover.Outcome<HttpClientResponse.HttpClientResponse>,
        HttpClientError.HttpClientError
      >(input, "http.client")
      return HttpClient.transform(self, (send, request) =>
        Effect.suspend(() => {
          const key = keyOf(resolved, request)
          if (Option.isNone(key)) return send
          return handover.join(
            (own: handover.Handover<HttpClientResponse.HttpClientResponse>) =>
              group.call(key.value, execute(resolved, send, own)),
            (receipt, restore) => {
              switch (receipt._tag) {
                case "Shared":
                  return Effect.succeed(fromSnapshot(request, receipt.snapshot))
                case "Taken":
                  // Reading it, or letting it go, is now this caller's business, as with any response.
                  return Effect.succeed(receipt.value)
                case "Alone":
                  return restore(send)
              }
            }
          )
        }))
    })
)

/** @internal */
export const layerClient = (
  input?: HttpSingleFlight.ClientOptions
): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
  Layer.effect(HttpClient.HttpClient, Effect.flatMap(HttpClient.HttpClient, makeClient(input)))
