/**
 * The shared execution of the server middleware: runs the app once for a
 * flight and decides what each request of the flight receives.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cookies from "effect/http/Cookies"
import * as HttpEffect from "effect/http/HttpEffect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Scope from "effect/Scope"
import type { Handover, Outcome, Snapshot } from "./handover.js"
import * as headers from "./headers.js"
import type * as options from "./options.js"

/** @internal */
export class MisplacedMiddlewareError extends Data.TaggedError("MisplacedMiddlewareError")<{}> {
  override get message(): string {
    return "HttpSingleFlight: the middleware wrapped an app that had already sent its response, which happens when it " +
      "is given to `HttpServer.serve(app, middleware)`. Apply it to the app instead: " +
      "`HttpServer.serve(HttpSingleFlight.middleware(app))`."
  }
}

/**
 * What only the leader may receive: the response the app's run made for the
 * leader's request, its pre-response handlers already applied, and whether
 * the app failed (already reported where it ran).
 *
 * @internal
 */
export interface Unshared {
  readonly response: HttpServerResponse.HttpServerResponse
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
    contentType: response.body._tag === "Empty" ? undefined : response.body.contentType,
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
 * Runs `app` for the leader's request (in the flight's own fiber, with the
 * leader's context) and decides the outcome.
 *
 * The run is a request of its own to `effect/http` (`HttpEffect.toHandled`):
 * the pre-response handlers that the app registers go to a fresh request
 * frame, never to the leader's, and the run ends with the response that the
 * server would write for the leader's request, handlers applied, whether the
 * app succeeded or failed.
 *
 * Effect 4 has no public way to ask whether the app registered a handler, so
 * two pass-through handlers of our own frame the app's: `first` is
 * registered before the app runs and hands on a fresh copy of the response,
 * `last` after it and sees what comes out of the app's handlers (they chain
 * in registration order). Another object means a handler of the app changed
 * the response for the leader's request: what it would do for another
 * request is unknowable, so that response is the leader's alone.
 *
 * - Shared: no handler changed the response, and it passes the sharing rules
 *   (`headers.isShareableResponse`, an in-memory body within `maxBodySize`).
 *   A shared failure is the failure of every request, each rendering it as
 *   its server does.
 * - Otherwise the response goes to the leader through its hand-over, with the
 *   scope the app's resources live in (a stream body still needs it); every
 *   other request runs the app on its own.
 *
 * Given to `HttpServer.serve(app, middleware)`, the middleware wraps the part
 * of the server that writes the leader's response and runs the handlers of
 * the leader's request: `probe`, a pass-through handler added to the leader's
 * request, then runs in this fiber while the app runs, which it never does
 * when the middleware wraps the app (the server runs it once the middleware
 * has returned). The leader keeps the response already written; every other
 * request of the flight fails with `MisplacedMiddlewareError`.
 *
 * @internal
 */
export const execute = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  own: Handover<Unshared>,
  resolved: options.Resolved
): Effect.Effect<Outcome<Unshared>, E, Exclude<R, Scope.Scope> | HttpServerRequest.HttpServerRequest> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const flight = yield* Effect.withFiber((fiber) => Effect.succeed(fiber))
      const written = { inThisRun: false }
      // Checked by fiber: the leader's own request runs it too if the leader leaves while the app runs (the test
      // "a client that disconnects leaves alone" fails without this check).
      const probe: HttpEffect.PreResponseHandler = (_request, response) =>
        Effect.withFiber((fiber) => {
          if (fiber === flight) written.inThisRun = true
          return Effect.succeed(response)
        })
      yield* HttpEffect.appendPreResponseHandler(probe)
      const scope = yield* Scope.make()
      const seen: {
        copy?: HttpServerResponse.HttpServerResponse
        changed: boolean
        final?: HttpServerResponse.HttpServerResponse
      } = { changed: false }
      const first: HttpEffect.PreResponseHandler = (_request, response) =>
        Effect.sync(() => {
          // `setHeaders` with nothing to set still builds a new response object.
          seen.copy = HttpServerResponse.setHeaders(response, {})
          return seen.copy
        })
      const last: HttpEffect.PreResponseHandler = (_request, response) =>
        Effect.sync(() => {
          seen.changed = response !== seen.copy
          return response
        })
      const run = HttpEffect.appendPreResponseHandler(first).pipe(
        Effect.andThen(restore(app).pipe(Scope.provide(scope))),
        // Also after a failure: its response goes through the same handlers.
        Effect.onExit(() => HttpEffect.appendPreResponseHandler(last))
      )
      // Typed as never failing, `toHandled` fails with the app's cause once the response is made.
      const exit = yield* Effect.exit(
        HttpEffect.toHandled(run, (_request, response) => Effect.sync(() => seen.final = response))
      )
      if (written.inThisRun) {
        // Also logged: the leader's request has its response, so its server swallows the defect.
        const error = new MisplacedMiddlewareError()
        yield* Scope.close(scope, exit)
        yield* Effect.logError(error.message)
        return yield* Effect.die(error)
      }
      const final = seen.final
      if (final === undefined) {
        // No response was made (the run was interrupted): nothing to hand anyone.
        yield* Scope.close(scope, exit)
        return yield* Exit.isFailure(exit) ? Effect.failCause(exit.cause) : Effect.die(new Error("no response"))
      }
      const snapshot = seen.changed ? undefined : toSnapshot(final, resolved)
      if (snapshot !== undefined) {
        yield* Scope.close(scope, exit)
        if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
        return { _tag: "Shared" as const, leader: own, snapshot }
      }
      yield* own.offer({ response: final }, Scope.close(scope, exit))
      return { _tag: "Unshared" as const, leader: own }
    })
  )
