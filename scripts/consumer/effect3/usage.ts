// Type-checked in the consumer app (strict, skipLibCheck false, the default lib with DOM) under moduleResolution
// "bundler", "node16" and "node10", after the imports of every public module that scripts/consumer.ts writes: each
// package used as the README and the guides show it.
import { HttpSingleFlight } from "@effect-singleflight/platform"
import { SingleFlightRedis } from "@effect-singleflight/redis"
import type { HttpClient } from "@effect/platform"
import { FetchHttpClient, HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Metric, Schema } from "effect"
import { SingleFlight, SingleFlightMetrics } from "effect-singleflight"

export const customerName = (id: number): Effect.Effect<string, never, SingleFlight.SingleFlight> =>
  SingleFlight.call(id, Effect.succeed(`customer-${id}`))

export const typedGroup = Effect.gen(function*() {
  const group = yield* SingleFlight.make<number, string, never>()
  return yield* group.call(1, Effect.succeed("one"))
}).pipe(Effect.scoped)

export const callsSoFar: Effect.Effect<number> = Metric.value(SingleFlightMetrics.calls).pipe(
  Effect.map((state) => state.count)
)

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", HttpServerResponse.text("hello")),
  HttpRouter.use(HttpSingleFlight.middleware)
)

export const ServerSingleFlightLive: Layer.Layer<HttpSingleFlight.HttpSingleFlight> = HttpSingleFlight.layer()

export const ClientLive: Layer.Layer<HttpClient.HttpClient> = HttpSingleFlight.layerClient().pipe(
  Layer.provide(FetchHttpClient.layer)
)

class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { id: Schema.Number }) {}

export const redisName = Effect.gen(function*() {
  const names = yield* SingleFlightRedis.make({
    name: "customer-names",
    key: Schema.Number,
    success: Schema.String,
    failure: NotFound
  })
  return yield* names.call(1, Effect.succeed("Ada"))
}).pipe(Effect.scoped, Effect.provide(SingleFlightRedis.layerConnection({ url: "redis://127.0.0.1:6379" })))
