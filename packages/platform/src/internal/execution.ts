/**
 * The shared execution of the server middleware: runs the app once for a
 * flight and decides what each request of the flight receives.
 *
 * @internal
 */
import * as Cookies from "@effect/platform/Cookies"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { Handover, Outcome, Snapshot } from "./handover.js"
import * as headers from "./headers.js"
import type * as options from "./options.js"

/** @internal */
export class MisplacedMiddlewareError extends Data.TaggedError("MisplacedMiddlewareError")<{}> {
  override get message(): string {
    return "HttpSingleFlight: the middleware wrapped an app that had already sent its response, which happens when it " +
      "is given to `HttpServer.serve(middleware)`. Apply it to the app instead: " +
      "`HttpRouter.use(HttpSingleFlight.middleware)` or `app.pipe(HttpSingleFlight.middleware, HttpServer.serve())`."
  }
}

/**
 * What only the leader may receive: the app's own exit, and the pre-response
 * handlers that the app registered while it ran for the leader's request.
 *
 * @internal
 */
export interface Unshared<E> {
  readonly exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>
  readonly preResponse: Option.Option<HttpApp.PreResponseHandler>
}

const encoder = new TextEncoder()

/** The bytes of an in-memory body: `null` for none, `undefined` for a stream or form data. */
const bodyBytes = (body: HttpServerResponse.HttpServerResponse["body"]): Uint8Array | null | undefined => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
      return body.body
    case "Raw":
      if (body.body instanceof Uint8Array) return body.body
      if (typeof body.body === "string") return encoder.encode(body.body)
      return undefined
    case "FormData":
    case "Stream":
      return undefined
  }
}

/** A snapshot of `response`, or `undefined` if it may not be handed to every request of its flight. */
const toSnapshot = (
  response: HttpServerResponse.HttpServerResponse,
  resolved: options.Resolved
): Snapshot | undefined => {
  if (!headers.isShareableResponse(response.headers, !Cookies.isEmpty(response.cookies), resolved.headerSet)) {
    return undefined
  }
  const bytes = bodyBytes(response.body)
  if (bytes === undefined || (bytes !== null && bytes.byteLength > resolved.maxBodySize)) return undefined
  return {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
    contentType: response.body.contentType,
    // A copy: the handler may reuse its buffer once it has returned.
    body: bytes === null ? null : bytes.slice()
  }
}

/** @internal */
export const fromSnapshot = (snapshot: Snapshot): HttpServerResponse.HttpServerResponse => {
  const init = { status: snapshot.status, statusText: snapshot.statusText, headers: snapshot.headers }
  if (snapshot.body === null) return HttpServerResponse.empty(init)
  if (snapshot.contentType === undefined) return HttpServerResponse.raw(snapshot.body, init)
  return HttpServerResponse.uint8Array(snapshot.body, { ...init, contentType: snapshot.contentType })
}

/**
 * The response that the server will write for an exit of the app, before
 * pre-response handlers: failures follow the same sharing rules as successes.
 */
const responseOf = <E>(
  exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.map(HttpServerError.causeResponse(exit.cause), ([r]) => r)

/**
 * Runs `app` for the leader's request (in the flight's own fiber, with the
 * leader's context) and decides the outcome.
 *
 * - The outcome is shared only when the app registered no pre-response
 *   handler and its response, or the response its failure renders to, passes
 *   the sharing rules (`headers.isShareableResponse`, an in-memory body within
 *   `maxBodySize`). A pre-response handler is code that runs on the finished
 *   response of one request (`securitySetCookie` holds that visitor's new
 *   session, `cors` reads its `Origin`): what it does for another request is
 *   unknowable, so its response is the leader's alone. A shared failure is the
 *   failure of every request, each rendering it as the server does.
 * - Otherwise the exit and the handlers go to the leader through its
 *   hand-over, with the scope the handler's resources live in (a stream body
 *   still needs it); every other request runs the app on its own.
 *
 * The handlers are collected from a FiberRef set to a marker of our own
 * while the app runs, whether it succeeds or fails. The marker also tells a
 * misplaced middleware, with public API only: an app that calls pre-response
 * handlers itself is one that writes its response, which is what
 * `HttpServer.serve(middleware)` hands to a middleware.
 *
 * @internal
 */
export const execute = <E, R>(
  app: HttpApp.Default<E, R>,
  own: Handover<Unshared<E>>,
  resolved: options.Resolved
): Effect.Effect<Outcome<Unshared<E>>, E, Exclude<R, Scope.Scope> | HttpServerRequest.HttpServerRequest> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const calls = { marker: 0 }
      const marker: HttpApp.PreResponseHandler = (_request, response) => {
        calls.marker++
        return Effect.succeed(response)
      }
      const scope = yield* Scope.make()
      const [exit, handlers] = yield* restore(app).pipe(
        Scope.extend(scope),
        Effect.exit,
        Effect.zip(FiberRef.get(HttpApp.currentPreResponseHandlers)),
        Effect.locally(HttpApp.currentPreResponseHandlers, Option.some(marker))
      )
      if (calls.marker > 0) {
        // Also logged: for the leader itself the defect is swallowed, its response being written.
        const error = new MisplacedMiddlewareError()
        yield* Scope.close(scope, Exit.void)
        yield* Effect.logError(error.message)
        return yield* Effect.die(error)
      }
      // Appended handlers wrap the marker, which then runs again for the leader, harmlessly.
      const preResponse = Option.filter(handlers, (handler) => handler !== marker)
      const snapshot = Option.isNone(preResponse) ? toSnapshot(yield* responseOf(exit), resolved) : undefined
      if (snapshot !== undefined) {
        yield* Scope.close(scope, exit)
        if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
        return { _tag: "Shared" as const, leader: own, snapshot }
      }
      yield* own.offer({ exit, preResponse }, Scope.close(scope, exit))
      return { _tag: "Unshared" as const, leader: own }
    })
  )
