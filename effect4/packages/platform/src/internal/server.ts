/**
 * @internal
 */
import type { SingleFlight } from "effect-singleflight"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as HttpSingleFlight from "../HttpSingleFlight.js"
import * as execution from "./execution.js"
import * as handover from "./handover.js"
import * as headers from "./headers.js"
import * as options from "./options.js"

/** @internal */
export const TypeId: HttpSingleFlight.TypeId = Symbol.for(
  "@effect-singleflight/platform/HttpSingleFlight"
) as HttpSingleFlight.TypeId

/** @internal */
export const MisplacedMiddlewareError = execution.MisplacedMiddlewareError

/** @internal */
export type MisplacedMiddlewareError = execution.MisplacedMiddlewareError

interface ResolvedServer extends options.Resolved {
  readonly key: ((request: HttpServerRequest.HttpServerRequest) => Option.Option<unknown>) | undefined
  readonly responseHeader: string | undefined
}

type Role = "leader" | "shared" | "bypass"

type App<E, R> = Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

class HttpSingleFlightImpl implements HttpSingleFlight.HttpSingleFlight {
  readonly [TypeId]: HttpSingleFlight.TypeId = TypeId

  constructor(
    readonly resolved: ResolvedServer,
    readonly group: SingleFlight.Group<unknown, handover.Outcome<execution.Unshared>, unknown>
  ) {}

  pipe() {
    return pipeArguments(this, arguments)
  }

  get stats(): Effect.Effect<SingleFlight.Stats> {
    return this.group.stats
  }

  readonly middleware = <E, R>(app: App<E, R>): App<E, R | HttpServerRequest.HttpServerRequest | Scope.Scope> =>
    Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) => {
      const key = keyOf(this.resolved, request)
      return Option.isNone(key) ? alone(this.resolved, app) : coalesce(this, app, key.value)
    })
}

/**
 * `None` for a request that runs on its own (see `headers.runsAlone`). The
 * method is always part of the key, so that a GET never receives a HEAD's
 * response or the other way round. Arrays compare by value in effect 4.
 */
const keyOf = (resolved: ResolvedServer, request: HttpServerRequest.HttpServerRequest): Option.Option<unknown> => {
  if (!resolved.methods.has(request.method) || headers.runsAlone(request.headers)) return Option.none()
  if (resolved.key !== undefined) {
    return Option.map(resolved.key(request), (custom) => [request.method, custom])
  }
  const values = resolved.headers.map((name) => request.headers[name])
  return Option.some([request.method, request.originalUrl, ...values])
}

const mark = (
  resolved: ResolvedServer,
  response: HttpServerResponse.HttpServerResponse,
  role: Role
): HttpServerResponse.HttpServerResponse =>
  resolved.responseHeader === undefined
    ? response
    : HttpServerResponse.setHeader(response, resolved.responseHeader, role)

const alone = <E, R>(resolved: ResolvedServer, app: App<E, R>): App<E, R> =>
  resolved.responseHeader === undefined ? app : Effect.map(app, (response) => mark(resolved, response, "bypass"))

const coalesce = <E, R>(
  self: HttpSingleFlightImpl,
  app: App<E, R>,
  key: unknown
): App<E, R | HttpServerRequest.HttpServerRequest | Scope.Scope> =>
  handover.join(
    (own: handover.Handover<execution.Unshared>) =>
      self.group.call(key, execution.execute(app, own, self.resolved)) as Effect.Effect<
        handover.Outcome<execution.Unshared>,
        E,
        Exclude<R, Scope.Scope> | HttpServerRequest.HttpServerRequest
      >,
    (receipt, restore): App<E, R | HttpServerRequest.HttpServerRequest | Scope.Scope> => {
      switch (receipt._tag) {
        case "Shared":
          return Effect.succeed(
            mark(self.resolved, execution.fromSnapshot(receipt.snapshot), receipt.isLeader ? "leader" : "shared")
          )
        case "Taken":
          // The request's scope closes once the leader's response has been written, stream bodies included.
          return Effect.as(
            Effect.addFinalizer(() => receipt.release),
            mark(self.resolved, receipt.value.response, "leader")
          )
        case "Alone":
          return alone(self.resolved, restore(app))
      }
    }
  )

/** @internal */
export const isHttpSingleFlight = (u: unknown): u is HttpSingleFlight.HttpSingleFlight =>
  Predicate.hasProperty(u, TypeId)

/** @internal */
export const make = (
  input?: HttpSingleFlight.Options
): Effect.Effect<HttpSingleFlight.HttpSingleFlight, never, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* options.validate((): ResolvedServer => ({
      ...options.resolveCommon(input),
      key: input?.key,
      responseHeader: options.resolveResponseHeader(input?.responseHeader)
    }))
    const group = yield* options.makeGroup<handover.Outcome<execution.Unshared>, unknown>(input, "http.server")
    return new HttpSingleFlightImpl(resolved, group)
  })

/** @internal */
export const tag = Context.Service<HttpSingleFlight.HttpSingleFlight>("@effect-singleflight/platform/HttpSingleFlight")

/** @internal */
export const layer = (input?: HttpSingleFlight.Options): Layer.Layer<HttpSingleFlight.HttpSingleFlight> =>
  Layer.effect(tag, make(input))

/** @internal */
export const middleware = <E, R>(
  app: App<E, R>
): App<E, R | HttpSingleFlight.HttpSingleFlight | HttpServerRequest.HttpServerRequest | Scope.Scope> =>
  Effect.flatMap(Effect.service(tag), (singleFlight) => singleFlight.middleware(app))
