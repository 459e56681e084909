/**
 * @internal
 */
import * as Cookies from "@effect/platform/Cookies"
import type * as Headers from "@effect/platform/Headers"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SingleFlight } from "effect-singleflight"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import type * as HttpSingleFlight from "../HttpSingleFlight.js"
import * as headers from "./headers.js"
import * as options from "./options.js"

/** @internal */
export const TypeId: HttpSingleFlight.TypeId = Symbol.for(
  "@effect-singleflight/platform/HttpSingleFlight"
) as HttpSingleFlight.TypeId

/** @internal */
export class MisplacedMiddlewareError extends Data.TaggedError("MisplacedMiddlewareError")<{}> {
  override get message(): string {
    return "HttpSingleFlight: the middleware wrapped an app that had already sent its response, which happens when it " +
      "is given to `HttpServer.serve(middleware)`. Apply it to the app instead: " +
      "`HttpRouter.use(HttpSingleFlight.middleware)` or `app.pipe(HttpSingleFlight.middleware, HttpServer.serve())`."
  }
}

// `HttpApp.toHandled` marks a request whose response it has written with this
// global symbol; seeing it on the request of a leader that is still waiting,
// once the app ran, means the middleware sits outside the response writer.
const handledSymbol = Symbol.for("@effect/platform/HttpApp/handled")

// -----------------------------------------------------------------------------
// the shared value
// -----------------------------------------------------------------------------

/**
 * What every request of a flight receives: an immutable copy of the response,
 * from which each builds a `HttpServerResponse` of its own.
 */
interface Snapshot {
  readonly status: number
  readonly statusText: string | undefined
  readonly headers: Headers.Headers
  readonly contentType: string | undefined
  /** `undefined` for an empty body. */
  readonly body: Uint8Array | undefined
}

/**
 * Pre-response handlers that the app registered while it ran (the `cors`
 * middleware does, for instance). They live in a FiberRef of the shared
 * execution's fiber, so each request re-registers them on its own fiber,
 * where `HttpApp.toHandled` applies them to its own request.
 */
type PreResponse = Option.Option<HttpApp.PreResponseHandler>

type Outcome =
  | { readonly _tag: "Shared"; readonly leader: Ticket; readonly snapshot: Snapshot; readonly preResponse: PreResponse }
  | { readonly _tag: "Unshared"; readonly leader: Ticket; readonly preResponse: PreResponse }

/**
 * The hand-over of a response that cannot be shared (a stream, a large or
 * private body) from the shared execution to the request it was made for,
 * together with the scope its body may still need.
 *
 * Every request makes a ticket; only the one whose request ran the handler
 * (the leader: its effect is the one the flight runs) ever sees it offered.
 * All transitions are synchronous, so whichever of "the execution offers"
 * and "the leader goes away" happens first, the scope is closed exactly once.
 */
class Ticket {
  private state: "waiting" | "offered" | "closed" = "waiting"
  private response: HttpServerResponse.HttpServerResponse | undefined = undefined
  private scope: Scope.CloseableScope | undefined = undefined

  /** Whether the leader is still waiting for the execution. */
  get isWaiting(): boolean {
    return this.state === "waiting"
  }

  /** In the execution. `false` if the leader is gone: the caller closes the scope. */
  offer(response: HttpServerResponse.HttpServerResponse, scope: Scope.CloseableScope): boolean {
    if (this.state !== "waiting") return false
    this.state = "offered"
    this.response = response
    this.scope = scope
    return true
  }

  /** In the leader, once: the response and the scope are its own from now on. */
  take():
    | { readonly response: HttpServerResponse.HttpServerResponse; readonly scope: Scope.CloseableScope }
    | undefined
  {
    if (this.state !== "offered") return undefined
    this.state = "closed"
    const taken = { response: this.response!, scope: this.scope! }
    this.response = undefined
    this.scope = undefined
    return taken
  }

  /** In the leader, when it leaves without taking: releases what was offered. */
  get abandon(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const offered = this.state === "offered" ? this.scope : undefined
      this.state = "closed"
      this.response = undefined
      this.scope = undefined
      return offered === undefined ? Effect.void : Scope.close(offered, Exit.void)
    })
  }
}

// -----------------------------------------------------------------------------
// snapshots
// -----------------------------------------------------------------------------

const encoder = new TextEncoder()

/** The bytes of an in-memory body; `undefined` for streams and form data. */
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
    body: bytes === null ? undefined : bytes.slice()
  }
}

const fromSnapshot = (snapshot: Snapshot): HttpServerResponse.HttpServerResponse => {
  const init = { status: snapshot.status, statusText: snapshot.statusText, headers: snapshot.headers }
  if (snapshot.body === undefined) return HttpServerResponse.empty(init)
  if (snapshot.contentType === undefined) return HttpServerResponse.raw(snapshot.body, init)
  return HttpServerResponse.uint8Array(snapshot.body, { ...init, contentType: snapshot.contentType })
}

// -----------------------------------------------------------------------------
// the middleware
// -----------------------------------------------------------------------------

/** @internal */
export interface ResolvedServer extends options.Resolved {
  readonly key: ((request: HttpServerRequest.HttpServerRequest) => Option.Option<unknown>) | undefined
  readonly responseHeader: string | undefined
}

const resolve = (input: HttpSingleFlight.Options | undefined): ResolvedServer => ({
  ...options.resolveCommon(input, "http.server"),
  key: input?.key,
  responseHeader: options.resolveResponseHeader(input?.responseHeader)
})

type Role = "leader" | "shared" | "bypass"

class HttpSingleFlightImpl implements HttpSingleFlight.HttpSingleFlight {
  readonly [TypeId]: HttpSingleFlight.TypeId = TypeId

  constructor(
    readonly resolved: ResolvedServer,
    readonly group: SingleFlight.Group<unknown, Outcome, unknown>
  ) {}

  pipe() {
    return pipeArguments(this, arguments)
  }

  get stats(): Effect.Effect<SingleFlight.Stats> {
    return this.group.stats
  }

  readonly middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | Scope.Scope> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const key = this.keyOf(request)
      return Option.isNone(key) ? this.alone(app) : this.coalesce(app, key.value)
    })

  /**
   * `None` for a request that must run on its own: an unsafe method, a
   * connection upgrade, or a client that asked for a fresh response. The
   * method is always part of the key, so that a GET never receives a HEAD's
   * response or the other way round.
   */
  keyOf(request: HttpServerRequest.HttpServerRequest): Option.Option<unknown> {
    const { key, methods } = this.resolved
    if (
      !methods.has(request.method) || headers.isUpgrade(request.headers) || headers.wantsOwnResponse(request.headers)
    ) {
      return Option.none()
    }
    if (key !== undefined) return Option.map(key(request), (custom) => Data.array([request.method, custom]))
    const values = this.resolved.headers.map((name) => request.headers[name])
    return Option.some(Data.array([request.method, request.originalUrl, ...values]))
  }

  alone<E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> {
    return this.resolved.responseHeader === undefined
      ? app
      : Effect.map(app, (response) => this.mark(response, "bypass"))
  }

  mark(response: HttpServerResponse.HttpServerResponse, role: Role): HttpServerResponse.HttpServerResponse {
    const name = this.resolved.responseHeader
    return name === undefined ? response : HttpServerResponse.setHeader(response, name, role)
  }

  /**
   * Waiting is made interruptible on purpose: `@effect/platform` runs the
   * outer layers of an app uninterruptibly, and a client that disconnects
   * must still be able to leave the flight. The rest is uninterruptible, so
   * that an offered response is either taken or released.
   */
  coalesce<E, R>(app: HttpApp.Default<E, R>, key: unknown): HttpApp.Default<E, R | Scope.Scope> {
    return Effect.uninterruptibleMask((restore) => {
      const ticket = new Ticket()
      const flight = this.group.call(key, this.execute(app, ticket)) as Effect.Effect<
        Outcome,
        E,
        Exclude<R, Scope.Scope> | HttpServerRequest.HttpServerRequest
      >
      return Effect.interruptible(flight).pipe(
        Effect.onError(() => ticket.abandon),
        Effect.flatMap((outcome) => this.respond(outcome, ticket, restore(app)))
      )
    })
  }

  respond<E, R>(
    outcome: Outcome,
    ticket: Ticket,
    app: HttpApp.Default<E, R>
  ): HttpApp.Default<E, R | Scope.Scope> {
    const isLeader = outcome.leader === ticket
    if (outcome._tag === "Shared") {
      return Effect.as(
        reRegister(outcome.preResponse),
        this.mark(fromSnapshot(outcome.snapshot), isLeader ? "leader" : "shared")
      )
    }
    const taken = isLeader ? ticket.take() : undefined
    if (taken === undefined) return this.alone(app)
    // The leader's request scope closes once its response has been written,
    // stream bodies included: that is when the handler's resources may go.
    return Effect.addFinalizer((exit) => Scope.close(taken.scope, exit)).pipe(
      Effect.zipRight(reRegister(outcome.preResponse)),
      Effect.as(this.mark(taken.response, "leader"))
    )
  }

  /**
   * The shared execution, in a fiber of its own with the leader's request in
   * its context. The handler gets a scope made here rather than the one the
   * core closes when the execution ends, so that a response that cannot be
   * shared can take the resources of its body along to the leader.
   */
  execute<E, R>(app: HttpApp.Default<E, R>, ticket: Ticket) {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Scope.make(), (scope) =>
        restore(capturePreResponse(app)).pipe(
          Scope.extend(scope),
          Effect.exit,
          Effect.flatMap((exit): Effect.Effect<Outcome, E, HttpServerRequest.HttpServerRequest> => {
            if (Exit.isFailure(exit)) return Effect.zipRight(Scope.close(scope, exit), Effect.failCause(exit.cause))
            const [response, preResponse] = exit.value
            return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): Effect.Effect<Outcome> => {
              // A leader that left has been answered already (its client is gone), which marks
              // its request too: only a leader still waiting tells a misplaced middleware.
              if (handledSymbol in request && ticket.isWaiting) {
                // Also logged: for the leader itself the defect is swallowed, its response being written.
                const error = new MisplacedMiddlewareError()
                return Scope.close(scope, Exit.void).pipe(
                  Effect.zipRight(Effect.logError(error.message)),
                  Effect.zipRight(Effect.die(error))
                )
              }
              const snapshot = toSnapshot(response, this.resolved)
              if (snapshot !== undefined) {
                return Effect.as(Scope.close(scope, Exit.void), {
                  _tag: "Shared" as const,
                  leader: ticket,
                  snapshot,
                  preResponse
                })
              }
              const unshared = { _tag: "Unshared" as const, leader: ticket, preResponse }
              return ticket.offer(response, scope)
                ? Effect.succeed(unshared)
                : Effect.as(Scope.close(scope, Exit.void), unshared)
            })
          })
        ))
    )
  }
}

const capturePreResponse = <E, R>(
  app: HttpApp.Default<E, R>
): Effect.Effect<
  readonly [HttpServerResponse.HttpServerResponse, PreResponse],
  E,
  R | HttpServerRequest.HttpServerRequest
> =>
  Effect.locally(
    Effect.zip(app, FiberRef.get(HttpApp.currentPreResponseHandlers)),
    HttpApp.currentPreResponseHandlers,
    Option.none()
  )

const reRegister = (preResponse: PreResponse): Effect.Effect<void> =>
  Option.isNone(preResponse) ? Effect.void : HttpApp.appendPreResponseHandler(preResponse.value)

// -----------------------------------------------------------------------------
// constructors, tag, layer
// -----------------------------------------------------------------------------

/** @internal */
export const isHttpSingleFlight = (u: unknown): u is HttpSingleFlight.HttpSingleFlight =>
  Predicate.hasProperty(u, TypeId)

/** @internal */
export const make = (
  input?: HttpSingleFlight.Options
): Effect.Effect<HttpSingleFlight.HttpSingleFlight, never, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* options.validate(() => resolve(input))
    // Keys hold credentials (Authorization, Cookie): they are never rendered into spans.
    const group = yield* SingleFlight.make<unknown, Outcome, unknown>({
      name: resolved.name,
      whenAbandoned: resolved.whenAbandoned,
      keyAttribute: false
    })
    return new HttpSingleFlightImpl(resolved, group)
  })

/** @internal */
export const tag = Context.GenericTag<HttpSingleFlight.HttpSingleFlight>(
  "@effect-singleflight/platform/HttpSingleFlight"
)

/** @internal */
export const layer = (input?: HttpSingleFlight.Options): Layer.Layer<HttpSingleFlight.HttpSingleFlight> =>
  Layer.scoped(tag, make(input))

/** @internal */
export const middleware = <E, R>(
  app: HttpApp.Default<E, R>
): HttpApp.Default<E, R | HttpSingleFlight.HttpSingleFlight | Scope.Scope> =>
  Effect.flatMap(tag, (singleFlight) => singleFlight.middleware(app))
