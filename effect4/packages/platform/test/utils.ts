import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Deferred, Duration, Effect, Layer, Ref } from "effect"
import type { SingleFlight } from "effect-singleflight"
import { HttpClient, HttpServer } from "effect/http"
import type { HttpClientResponse } from "effect/http"
import * as Http from "node:http"

/** A real server on an ephemeral loopback port, and a real client whose URLs are relative to it. */
export const TestServer = HttpServer.layerTestClient.pipe(
  Layer.provide(NodeHttpClient.layerUndici),
  Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" }))
)

/** Polls `check` on real time until it holds; fails the test after two seconds. */
export const eventually = <A>(effect: Effect.Effect<A>, check: (a: A) => boolean): Effect.Effect<A> => {
  const poll: Effect.Effect<A> = Effect.flatMap(
    effect,
    (a) => check(a) ? Effect.succeed(a) : Effect.andThen(Effect.sleep("2 millis"), Effect.suspend(() => poll))
  )
  return poll.pipe(
    Effect.timeoutOrElse({
      duration: Duration.seconds(2),
      orElse: () => Effect.die(new Error("condition not reached in time"))
    })
  )
}

export const awaitCalls = (stats: Effect.Effect<SingleFlight.Stats>, calls: number) =>
  eventually(stats, (stats) => stats.calls >= calls)

/**
 * A handler that counts its executions and waits for the gate: the test opens
 * it once every request it sent is known to be in flight.
 */
export const makeGatedCounter = Effect.gen(function*() {
  const runs = yield* Ref.make(0)
  const gate = yield* Deferred.make<void>()
  return {
    runs: Ref.get(runs),
    open: Deferred.succeed(gate, undefined),
    /** Counts a run, then waits for the gate; returns the run's number. */
    enter: Effect.tap(Ref.updateAndGet(runs, (n) => n + 1), Deferred.await(gate))
  }
})

export const textOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.text, (text) => ({ status: response.status, headers: response.headers, text }))

export const getText = (path: string, headers?: Record<string, string>) =>
  HttpClient.get(path, headers === undefined ? undefined : { headers }).pipe(Effect.flatMap(textOf))

/** The port the test server listens on. */
export const port = Effect.map(
  Effect.service(HttpServer.HttpServer),
  (server) => "port" in server.address ? server.address.port : 0
)

/** A GET over `node:http` whose socket the test destroys to play a client that goes away. */
export const rawRequest = (port: number, path: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const request = Http.request({ host: "127.0.0.1", port, path, agent: false })
      request.on("error", () => {})
      request.end()
      return request
    }),
    (request) => Effect.sync(() => request.destroy())
  )

export interface RawResponse {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/**
 * A whole request and response over `node:http`, for what the platform client
 * does not send: a GET with a body (Node frames one only when the request
 * says `content-length` or `transfer-encoding`), or an exact set of headers.
 */
export const sendRaw = (port: number, options: {
  readonly method?: string
  readonly path: string
  readonly headers?: Http.OutgoingHttpHeaders
  readonly body?: string
}) =>
  Effect.callback<RawResponse, Error>((resume) => {
    const request = Http.request(
      {
        host: "127.0.0.1",
        port,
        path: options.path,
        method: options.method ?? "GET",
        headers: options.headers,
        agent: false
      },
      (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("error", (error) => resume(Effect.fail(error)))
        response.on("end", () =>
          resume(Effect.succeed({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8")
          })))
      }
    )
    request.on("error", (error) => resume(Effect.fail(error)))
    request.end(options.body)
    return Effect.sync(() => request.destroy())
  })
