/**
 * `pnpm start`: the customer service, configured from the environment (see
 * `CustomerServer.layerConfig`), until Ctrl-C.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { CustomerServer } from "./index.js"

Effect.gen(function*() {
  const server = yield* CustomerServer.CustomerServer
  yield* Effect.logInfo(`customer service listening on ${server.url}; try ${server.url}/?name=customer-1`)
  return yield* Effect.never
}).pipe(Effect.provide(CustomerServer.layerConfig), NodeRuntime.runMain)
