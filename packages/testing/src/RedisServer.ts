import { Data, Duration, Effect, Option } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import { pollUntil } from "./Poll.js"

/**
 * A `redis-server` of our own, on a free loopback port, without persistence.
 * It can be killed, stopped (SIGSTOP) and started again on the same port.
 */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** SIGKILL, then wait for the process to be gone. */
  readonly kill: Effect.Effect<void>
  /** Starts it again, on the same port, once it was killed. */
  readonly restart: Effect.Effect<void, RedisServerError>
  /** SIGSTOP: the server stops answering but keeps its connections. */
  readonly freeze: Effect.Effect<void>
  /** SIGCONT. */
  readonly thaw: Effect.Effect<void>
}

export class RedisServerError extends Data.TaggedError("RedisServerError")<{ readonly message: string }> {}

const binary = process.env.REDIS_SERVER ?? "redis-server"

const missingBinary = new RedisServerError({
  message:
    `redis-server was not found (tried "${binary}"). The tests and benchmarks start their own Redis: install it with ` +
    "`apt-get install -y redis-server` (Debian/Ubuntu), or set REDIS_SERVER to the path of a redis-server binary."
})

/** Every server process started by this module, so that even a crashed test run leaves none behind. */
const alive = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of alive) child.kill("SIGKILL")
})

export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.unref()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** One `PING` over a raw socket: true when the server answered `+PONG`. */
const ping = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = Net.createConnection({ host: "127.0.0.1", port })
    let answer = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resume(Effect.succeed(ok))
    }
    socket.setTimeout(500, () => done(false))
    socket.on("error", () => done(false))
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      answer += chunk.toString()
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"))
    })
    return Effect.sync(() => socket.destroy())
  })

const exited = (child: ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

const launch = (port: number): Effect.Effect<ChildProcess, RedisServerError> =>
  Effect.gen(function*() {
    const child = spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore"
    })
    alive.add(child)
    child.once("exit", () => alive.delete(child))
    const spawnError = yield* Effect.async<NodeJS.ErrnoException | undefined>((resume) => {
      child.once("error", (error) => resume(Effect.succeed(error)))
      child.once("spawn", () => resume(Effect.succeed(undefined)))
    })
    if (spawnError !== undefined) {
      return yield* spawnError.code === "ENOENT"
        ? Effect.fail(missingBinary)
        : Effect.fail(new RedisServerError({ message: `redis-server could not start: ${spawnError.message}` }))
    }
    // Tens of milliseconds in practice; give up after about five seconds.
    const ready = yield* pollUntil(ping(port), (ok) => ok || child.exitCode !== null, {
      every: "20 millis",
      timeout: "5 seconds"
    }).pipe(Effect.map((answer) => Option.getOrElse(answer, () => false)))
    if (!ready) {
      child.kill("SIGKILL")
      return yield* Effect.fail(new RedisServerError({ message: `redis-server did not answer on port ${port}` }))
    }
    return child
  })

const stop = (child: ChildProcess): Effect.Effect<void> =>
  Effect.suspend(() => {
    child.kill("SIGCONT")
    child.kill("SIGKILL")
    return exited(child).pipe(Effect.timeout(Duration.seconds(5)), Effect.ignore)
  })

/** Starts a server for the current scope; closing the scope kills it. */
export const startRedisServer: Effect.Effect<RedisServer, RedisServerError, Scope.Scope> = Effect
  .gen(function*() {
    // A port found free may be taken before the server binds it: try a few.
    const { child: first, port } = yield* freePort.pipe(
      Effect.flatMap((port) => Effect.map(launch(port), (child) => ({ child, port }))),
      Effect.retry({ times: 3, while: (error) => error !== missingBinary })
    )
    let current = first
    yield* Effect.addFinalizer(() => Effect.suspend(() => stop(current)))
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      kill: Effect.suspend(() => stop(current)),
      restart: Effect.map(launch(port), (child) => {
        current = child
      }),
      freeze: Effect.sync(() => {
        current.kill("SIGSTOP")
      }),
      thaw: Effect.sync(() => {
        current.kill("SIGCONT")
      })
    }
  })
