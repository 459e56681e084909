/**
 * `npx -y pnpm@10 --dir effect4 --filter @effect-singleflight/example start` serves the example on `PORT` (3000 by
 * default, 0 for a free one), with a database of 100 ms of round trip, until Ctrl-C.
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { createServer } from "node:http"
import { DatabaseLive, ServerLive } from "./Customers.js"

const port = Number(process.env["PORT"] ?? 3000)

ServerLive.pipe(
  Layer.provide(DatabaseLive()),
  Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })),
  Layer.launch,
  NodeRuntime.runMain
)
