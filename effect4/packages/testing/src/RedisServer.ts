import { Data, Duration, Effect, Option } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
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

export const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
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
  Effect.callback<boolean>((resume) => {
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
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

/** Extra `redis-server` arguments, and the directory it runs in (where a cluster node writes its nodes.conf). */
interface LaunchOptions {
  readonly args?: ReadonlyArray<string>
  readonly cwd?: string
}

const launch = (port: number, options: LaunchOptions = {}): Effect.Effect<ChildProcess, RedisServerError> =>
  Effect.gen(function*() {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      ...options.args ?? []
    ]
    const child = spawn(binary, args, { stdio: "ignore", cwd: options.cwd })
    alive.add(child)
    child.once("exit", () => alive.delete(child))
    const spawnError = yield* Effect.callback<NodeJS.ErrnoException | undefined>((resume) => {
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

const startWith = (options: LaunchOptions): Effect.Effect<RedisServer, RedisServerError, Scope.Scope> =>
  Effect.gen(function*() {
    // A port found free may be taken before the server binds it: try a few.
    const { child: first, port } = yield* freePort.pipe(
      Effect.flatMap((port) => Effect.map(launch(port, options), (child) => ({ child, port }))),
      Effect.retry({ times: 3, while: (error) => error !== missingBinary })
    )
    let current = first
    yield* Effect.addFinalizer(() => Effect.suspend(() => stop(current)))
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      kill: Effect.suspend(() => stop(current)),
      restart: Effect.map(launch(port, options), (child) => {
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

/** Starts a server for the current scope; closing the scope kills it. */
export const startRedisServer: Effect.Effect<RedisServer, RedisServerError, Scope.Scope> = startWith({})

// -----------------------------------------------------------------------------
// a Redis Cluster
// -----------------------------------------------------------------------------

/** A Redis Cluster of masters without replicas, on loopback. */
export interface RedisCluster {
  /** The masters; `kill` one and its slots become unavailable (nobody replaces it). */
  readonly nodes: ReadonlyArray<RedisServer>
  /** The nodes' URLs, to give a cluster client as its root nodes. */
  readonly urls: ReadonlyArray<string>
}

const cliBinary = process.env.REDIS_CLI ?? "redis-cli"

/** Runs `redis-cli` to completion; fails with its output when it exits with an error. */
const redisCli = (args: ReadonlyArray<string>): Effect.Effect<string, RedisServerError> =>
  Effect.callback<string, RedisServerError>((resume) => {
    const child = spawn(cliBinary, args, { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("error", (error: NodeJS.ErrnoException) =>
      resume(Effect.fail(
        new RedisServerError({
          message: error.code === "ENOENT"
            ? `redis-cli was not found (tried "${cliBinary}"). Install Debian's redis-tools (a dependency of ` +
              "redis-server), or set REDIS_CLI to the path of a redis-cli binary."
            : `redis-cli could not start: ${error.message}`
        })
      )))
    child.once("exit", (code) =>
      resume(
        code === 0
          ? Effect.succeed(output)
          : Effect.fail(new RedisServerError({ message: `redis-cli ${args.join(" ")} failed: ${output.slice(-2000)}` }))
      ))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/**
 * Starts `masters` cluster-enabled servers on free loopback ports, joins them
 * with `redis-cli --cluster create` (no replicas) and waits until every node
 * reports `cluster_state:ok`. Full coverage is not required, so that the
 * other masters keep answering when one is killed.
 */
export const startRedisCluster = (masters = 3): Effect.Effect<RedisCluster, RedisServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "redis-cluster-"))),
      (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
    )
    const nodes = yield* Effect.forEach(
      Array.from({ length: masters }, (_, index) => index),
      (index) => {
        const cwd = Path.join(directory, String(index))
        Fs.mkdirSync(cwd)
        return startWith({
          cwd,
          args: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "1000",
            "--cluster-require-full-coverage",
            "no"
          ]
        })
      },
      { concurrency: "unbounded" }
    )
    const addresses = nodes.map(({ port }) => `127.0.0.1:${port}`)
    yield* redisCli(["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"])
    const allOk = Effect.map(
      Effect.forEach(nodes, ({ port }) => Effect.result(redisCli(["-p", String(port), "cluster", "info"]))),
      (infos) => infos.every((info) => info._tag === "Success" && info.success.includes("cluster_state:ok"))
    )
    const ok = yield* pollUntil(allOk, (ok) => ok, { every: "50 millis", timeout: "10 seconds" })
    if (Option.isNone(ok)) {
      return yield* Effect.fail(new RedisServerError({ message: "the Redis Cluster did not reach cluster_state:ok" }))
    }
    return { nodes, urls: nodes.map(({ url }) => url) }
  })
