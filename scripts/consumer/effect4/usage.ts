// Type-checked in the consumer app (strict, skipLibCheck false, the default lib with DOM) under moduleResolution
// "bundler" and "node16" (module "node20"), after the imports of every public module that scripts/consumer.ts
// writes: each package used as the README and the guides show it, on effect 4.
import { HttpSingleFlight } from "@effect-singleflight/platform"
import { SingleFlightRedis } from "@effect-singleflight/redis"
import { Effect, Layer, Metric, Schema } from "effect"
import { SingleFlight, SingleFlightMetrics } from "effect-singleflight"
import type { HttpClient } from "effect/http"
import { FetchHttpClient, HttpServer, HttpServerResponse } from "effect/http"

export const customerName = (id: number): Effect.Effect<string, never, SingleFlight.SingleFlight> =>
  SingleFlight.call(id, Effect.succeed(`customer-${id}`))

// Plain objects compare by value on effect 4: both calls share one execution.
export const sameKey = SingleFlight.call({ table: "customers", id: 1 }, Effect.succeed("Ada"))

export const typedGroup = Effect.gen(function*() {
  const group = yield* SingleFlight.make<number, string, never>()
  return yield* group.call(1, Effect.succeed("one"))
}).pipe(Effect.scoped)

export const callsSoFar: Effect.Effect<number> = Metric.value(SingleFlightMetrics.calls).pipe(
  Effect.map((state) => state.count)
)

export const Serve: Layer.Layer<never, never, HttpServer.HttpServer> = HttpServer.serve(
  HttpSingleFlight.middleware(Effect.succeed(HttpServerResponse.text("hello")))
).pipe(Layer.provide(HttpSingleFlight.layer()))

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
