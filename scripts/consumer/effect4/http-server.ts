// Run with `node` (Node.js 22) in the consumer app: a NodeHttpServer of @effect/platform-node 4 with
// HttpSingleFlight.middleware on a free loopback port, and one request to it.
import { HttpSingleFlight } from "@effect-singleflight/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpServer, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"

let handled = 0

const app = Effect.sync(() => ++handled).pipe(Effect.as(HttpServerResponse.text("hello")))

const ServerLive = HttpServer.serve(HttpSingleFlight.middleware(app)).pipe(
  Layer.provide(HttpSingleFlight.layer()),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

const oneRequest = Effect.gen(function*() {
  const { address } = yield* HttpServer.HttpServer
  if (!("port" in address)) return yield* Effect.die(new Error(`unexpected address ${address._tag}`))
  const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${address.port}/hello`))
  const body = yield* Effect.promise(() => response.text())
  const role = response.headers.get("x-singleflight")
  if (response.status !== 200 || body !== "hello" || handled !== 1) {
    return yield* Effect.die(
      new Error(`got ${response.status} ${JSON.stringify(body)} after ${handled} runs (${role})`)
    )
  }
  console.log(`${response.status} ${body}`)
})

Effect.runPromise(oneRequest.pipe(Effect.provide(ServerLive))).catch((error) => {
  console.error(error)
  process.exit(1)
})
