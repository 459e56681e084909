/**
 * `pnpm start`: the customer service, configured from the environment (see
 * `CustomerServer.layerConfig`), until Ctrl-C, which stops it quietly (exit
 * code 0).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { CustomerServer } from "./index.js"

// Ctrl-C reaches this process more than once under `pnpm start`: SIGINT from the terminal, then SIGINT or SIGTERM
// passed on by each pnpm in between. `runMain` stops the server on the first and stops listening; without these
// listeners the next one would kill the process in the middle of its shutdown, and pnpm would report a failure.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {})

Effect.gen(function*() {
  const server = yield* CustomerServer.CustomerServer
  yield* Effect.logInfo(
    `customer service listening on ${server.url}\n` +
      `  try:      curl -i '${server.url}/?name=customer-1'   (the ${CustomerServer.singleFlightHeader} header: ` +
      "leader or shared with HTTP_SINGLEFLIGHT=true, bypass otherwise)\n" +
      `            curl -i ${server.url}/customers/customer-1\n` +
      `  metrics:  curl ${server.url}/metrics   (singleflight_calls_total, singleflight_executions_total, ` +
      `customers_db_queries_total)\n` +
      "  stop:     Ctrl-C"
  )
  return yield* Effect.never
}).pipe(Effect.provide(CustomerServer.layerConfig), NodeRuntime.runMain)
