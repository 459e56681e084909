import { Command, FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

describe("pnpm start", () => {
  // A real process: Ctrl-C is SIGINT from the terminal, then the same signal again from each pnpm in between.
  it.scopedLive(
    "prints where to look, and stops quietly with exit code 0 on Ctrl-C, even when it comes twice",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const directory = yield* fs.makeTempDirectoryScoped()
        const server = yield* Command.make(process.execPath, "--import", "tsx", main).pipe(
          Command.env({ PORT: "0", CUSTOMERS_DB: `${directory}/customers.db` }),
          Command.start
        )
        const stderr = yield* server.stderr.pipe(Stream.decodeText(), Stream.mkString, Effect.fork)
        const output = yield* server.stdout.pipe(
          Stream.decodeText(),
          Stream.scan("", (all, chunk) => all + chunk),
          Stream.takeUntil((all) => all.includes("Ctrl-C")),
          Stream.runLast
        )
        const text = Option.getOrElse(output, () => "")
        const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1]
        expect(url).toBeDefined()
        expect(text).toContain(`curl -i '${url}/?name=customer-1'`)
        expect(text).toContain(`curl ${url}/metrics`)

        // As pnpm does: the terminal's SIGINT, then pnpm's own, while the server shuts down.
        const signal = Effect.try(() => process.kill(server.pid, "SIGINT"))
        yield* signal
        yield* Effect.sleep("1 millis")
        yield* Effect.ignore(signal) // the process may have finished already

        expect(yield* server.exitCode).toBe(0)
        expect(yield* Fiber.join(stderr)).toBe("")
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
