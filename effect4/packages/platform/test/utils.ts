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
