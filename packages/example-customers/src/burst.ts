/**
 * `tsx src/burst.ts '<array of Burst as JSON>'`: runs the bursts (see
 * `Load.ts`) one after the other and prints their `Outcome`s as a JSON array
 * on standard output; progress goes to standard error. The demo starts it as a child process; it also works against a
 * server started with `pnpm start`.
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schema } from "effect"
import * as Load from "./Load.js"

Effect.gen(function*() {
  const bursts = yield* Schema.decodeUnknown(Schema.parseJson(Schema.Array(Load.Burst)))(process.argv[2] ?? "")
  const outcomes = yield* Effect.forEach(bursts, Load.run)
  yield* Console.log(yield* Schema.encode(Schema.parseJson(Schema.Array(Load.Outcome)))(outcomes))
}).pipe(Effect.provide(NodeHttpClient.layerUndici), NodeRuntime.runMain)
