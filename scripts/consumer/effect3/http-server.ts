// Run with plain `node` in the consumer app: a server with HttpSingleFlight.middleware on a free loopback port, and
// one request to it.
import { HttpSingleFlight } from "@effect-singleflight/platform"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"

let handled = 0

const ServerLive = HttpRouter.empty.pipe(
  HttpRouter.get("/hello", Effect.sync(() => ++handled).pipe(Effect.as(HttpServerResponse.text("hello")))),
  HttpRouter.use(HttpSingleFlight.middleware),
  HttpServer.serve(),
  Layer.provide(HttpSingleFlight.layer()),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

const oneRequest = Effect.gen(function*() {
  const { address } = yield* HttpServer.HttpServer
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage(`unexpected address ${address._tag}`)
  const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${address.port}/hello`))
  const body = yield* Effect.promise(() => response.text())
  if (response.status !== 200 || body !== "hello" || handled !== 1) {
    return yield* Effect.dieMessage(`got ${response.status} ${JSON.stringify(body)} after ${handled} handler runs`)
  }
  console.log(`${response.status} ${body}`)
})

Effect.runPromise(oneRequest.pipe(Effect.provide(ServerLive))).catch((error) => {
  console.error(error)
  process.exit(1)
})
