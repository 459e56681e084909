import { pollUntil } from "@effect-singleflight/testing/Poll"
import { Duration, Effect, Option } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { WorkerConfig, WorkerEvent } from "../fixtures/schemas.js"
import { workerBundle } from "./bundleWorker.js"

const packageDir = fileURLToPath(new URL("../..", import.meta.url))

/** A worker process (test/fixtures/worker.ts) and what it reported so far. */
export interface Worker {
  readonly id: string
  readonly events: ReadonlyArray<WorkerEvent>
  readonly stderr: () => string
  /** Tells it to make its calls. */
  readonly go: Effect.Effect<void>
  /** SIGKILL: the process dies on the spot, no finalizer runs. */
  readonly kill: Effect.Effect<void>
  /** Waits (at most `timeout`) for a reported event that satisfies `predicate`. */
  readonly waitFor: <E extends WorkerEvent>(
    predicate: (event: WorkerEvent) => event is E,
    timeout?: Duration.Input
  ) => Effect.Effect<E>
}

const alive = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of alive) child.kill("SIGKILL")
})

const exited = (child: ChildProcess): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

const killAndWait = (child: ChildProcess): Effect.Effect<void> =>
  Effect.suspend(() => {
    child.kill("SIGKILL")
    return exited(child).pipe(Effect.timeout(Duration.seconds(5)), Effect.ignore)
  })

/** Starts a worker for the current scope; closing the scope kills it if it is still running. */
export const spawnWorker = (config: WorkerConfig): Effect.Effect<Worker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(process.execPath, [workerBundle], {
          cwd: packageDir,
          env: { ...process.env, WORKER: JSON.stringify(config) },
          stdio: ["pipe", "pipe", "pipe"]
        })
        alive.add(child)
        child.once("exit", () => alive.delete(child))
        return child
      }),
      killAndWait
    )
    const events: Array<WorkerEvent> = []
    let stderr = ""
    let pending = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString()
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        // Anything that is not an event (a log line, say) is ignored.
        try {
          const parsed: unknown = JSON.parse(line)
          if (typeof parsed === "object" && parsed !== null && "event" in parsed) events.push(parsed as WorkerEvent)
        } catch {
          // not JSON
        }
      }
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })

    const waitFor = <E extends WorkerEvent>(
      predicate: (event: WorkerEvent) => event is E,
      timeout: Duration.Input = "20 seconds"
    ): Effect.Effect<E> =>
      pollUntil(
        Effect.sync(() => events.find(predicate)),
        (found) => found !== undefined || child.exitCode !== null,
        { every: "5 millis", timeout }
      ).pipe(
        Effect.flatMap((found) => {
          const event = Option.getOrUndefined(found)
          return event !== undefined
            ? Effect.succeed(event)
            : Effect.die(
              new Error(
                `worker ${config.id} did not report the expected event (exit code ${child.exitCode}); ` +
                  `events: ${JSON.stringify(events)}; stderr: ${stderr.slice(-2000)}`
              )
            )
        })
      )

    return {
      id: config.id,
      events,
      stderr: () => stderr,
      go: Effect.sync(() => {
        child.stdin!.write("go\n")
      }),
      kill: killAndWait(child),
      waitFor
    }
  })

export const isReady = (event: WorkerEvent): event is Extract<WorkerEvent, { event: "ready" }> =>
  event.event === "ready"

export const isStarted = (key: string) => (event: WorkerEvent): event is Extract<WorkerEvent, { event: "started" }> =>
  event.event === "started" && event.key === key

export const isDone = (key: string) => (event: WorkerEvent): event is Extract<WorkerEvent, { event: "done" }> =>
  event.event === "done" && event.key === key
