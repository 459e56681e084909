/**
 * `pnpm demo`: the seed's customer service under a thundering herd, without
 * singleflight, with `SingleFlight.call` around the database lookup (the
 * seed's design), and with `HttpSingleFlight.middleware` around the routes.
 * Real HTTP on loopback from a separate process (`burst.ts`), a real SQLite
 * file (created and seeded on the first run) behind a pool of 8 connections,
 * 128 ms of round trip per query.
 *
 *   --write-docs   also write docs/demo.svg and the figures in README.md's demo section
 *   --url <url>    load a server that is already running (`pnpm start`) instead, once
 */
import { Command, FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Config, Console, Context, Duration, Effect, Layer, Schema } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Chart from "./Chart.js"
import { CustomerServer, Database } from "./index.js"
import * as Load from "./Load.js"

/** The herd: every request of a burst is in flight within a few round trips, over a few hot names. */
const requestCount = 400
const nameCount = 8
const concurrency = 40
const warmUp = 40

interface Mode {
  readonly label: string
  readonly singleFlight: boolean
  readonly httpSingleFlight: boolean
}

const modes: ReadonlyArray<Mode> = [
  { label: "no singleflight", singleFlight: false, httpSingleFlight: false },
  { label: "SingleFlight.call", singleFlight: true, httpSingleFlight: false },
  { label: "HttpSingleFlight.middleware", singleFlight: false, httpSingleFlight: true }
]

interface Result {
  readonly label: string
  readonly outcome: Load.Outcome
}

const args = process.argv.slice(2)
const writeDocs = args.includes("--write-docs")
const runningServer = args.includes("--url") ? args[args.indexOf("--url") + 1] : undefined

const root = fileURLToPath(new URL("../../../", import.meta.url))
const loadScript = fileURLToPath(new URL("./burst.ts", import.meta.url))

// -----------------------------------------------------------------------------
// the bursts, from a child process
// -----------------------------------------------------------------------------

/**
 * Runs `burst.ts` in a new Node.js process (with this one's loader flags, for
 * TypeScript) against each server in turn, one burst at a time, and reads
 * the outcomes. One process for all bursts: starting one costs seconds.
 */
const load = (targets: ReadonlyArray<{ readonly label: string; readonly url: string }>) =>
  Effect.gen(function*() {
    const bursts = targets.map(({ label, url }) =>
      new Load.Burst({ url, requests: requestCount, names: nameCount, concurrency, warmUp, label })
    )
    const argument = yield* Schema.encode(Schema.parseJson(Schema.Array(Load.Burst)))(bursts)
    const output = yield* Command.make(process.execPath, ...process.execArgv, loadScript, argument).pipe(
      Command.stderr("inherit"),
      Command.string
    )
    const outcomes = yield* Schema.decodeUnknown(Schema.parseJson(Schema.Array(Load.Outcome)))(output.trim())
    return targets.map(({ label }, index): Result => ({ label, outcome: outcomes[index]! }))
  })

/** A server per mode, each on a free port, started one after the other (the first seeds a new database). */
const startServers = (database: string) =>
  Effect.forEach(modes, (mode) =>
    Effect.map(
      Layer.build(CustomerServer.layer({
        port: 0,
        database,
        singleFlight: mode.singleFlight,
        httpSingleFlight: mode.httpSingleFlight
      })),
      (context) => ({ label: mode.label, url: Context.get(context, CustomerServer.CustomerServer).url })
    ))

// -----------------------------------------------------------------------------
// the table
// -----------------------------------------------------------------------------

const ratio = (value: number, reference: number | undefined): string =>
  reference === undefined || reference === 0 ? "" : `${(value / reference).toFixed(2)}×`

const table = (results: ReadonlyArray<Result>): string => {
  const header = ["mode", "requests", "db queries", "p50 ms", "p95 ms", "p99 ms", "max ms", "wall s", "queries", "p99"]
  const reference = results[0]?.outcome
  const referenceP99 = reference && Chart.percentile(reference.latencies, 99)
  const rows = results.map(({ label, outcome }) => {
    const p = (n: number) => Chart.percentile(outcome.latencies, n)
    return [
      label,
      String(outcome.latencies.length),
      String(outcome.queries),
      p(50).toFixed(0),
      p(95).toFixed(0),
      p(99).toFixed(0),
      p(100).toFixed(0),
      (outcome.wallMillis / 1000).toFixed(2),
      ratio(outcome.queries, reference?.queries),
      ratio(p(99), referenceP99)
    ]
  })
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => column === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[column]!)).join("  ")
      .trimEnd()
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n")
}

const series = (results: ReadonlyArray<Result>): ReadonlyArray<Chart.Series> =>
  results.map(({ label, outcome }) => ({
    label,
    latencies: outcome.latencies,
    note: `${outcome.queries} queries, p50 ${Chart.percentile(outcome.latencies, 50).toFixed(0)} ms, p99 ${
      Chart.percentile(outcome.latencies, 99).toFixed(0)
    } ms`
  }))

// -----------------------------------------------------------------------------
// the docs: docs/demo.svg and the block between the markers in README.md
// -----------------------------------------------------------------------------

const begin = "<!-- demo:begin (written by `pnpm demo --write-docs`) -->"
const end = "<!-- demo:end -->"

const writeTheDocs = (results: ReadonlyArray<Result>, setting: string, report: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const cpus = Os.cpus()
    const machine = `${cpus[0]?.model.trim() ?? "?"} × ${cpus.length}, Node.js ${process.version}, load average ${
      Os.loadavg().map((value) => value.toFixed(1)).join(" ")
    }`
    yield* fs.writeFileString(
      Path.join(root, "docs/demo.svg"),
      Chart.renderSvg(series(results), "pnpm demo: latency of each request, by mode", setting.split("; "))
    )
    const readme = yield* fs.readFileString(Path.join(root, "README.md"))
    const from = readme.indexOf(begin)
    const to = readme.indexOf(end)
    if (from === -1 || to < from) {
      return yield* Effect.fail(`README.md has no "${begin}" … "${end}" block to write the figures into`)
    }
    const block = [
      begin,
      "",
      "![Latency of each request in the three modes: without singleflight most requests wait five round trips behind " +
      "the pool; with it most answer within two](docs/demo.svg)",
      "",
      `One run on ${new Date().toISOString().slice(0, 10)} (${machine}):`,
      "",
      "```",
      report,
      "```",
      "",
      end
    ].join("\n")
    yield* fs.writeFileString(
      Path.join(root, "README.md"),
      readme.slice(0, from) + block + readme.slice(to + end.length)
    )
    yield* Console.log("\nwrote docs/demo.svg and the figures in README.md")
  })

// -----------------------------------------------------------------------------
// main
// -----------------------------------------------------------------------------

const main = Effect.gen(function*() {
  const started = Date.now()
  const database = yield* Config.string("CUSTOMERS_DB").pipe(Config.withDefault(Database.defaultFile))
  const setting = `${requestCount} GET /?name=… over ${nameCount} names, ${concurrency} in flight at once, from ` +
    `another process; SQLite behind a pool of ${Database.defaultConnections} connections, ` +
    `${Duration.toMillis(Database.defaultRoundTrip)} ms of round trip per query`
  yield* Console.log(
    runningServer === undefined
      ? `singleflight demo: ${setting}\n(SQLite at ${Path.relative(process.cwd(), database)})\n`
      : `singleflight demo against ${runningServer}: ${requestCount} GET /?name=… over ${nameCount} names, ` +
        `${concurrency} in flight at once\n`
  )

  const results = yield* load(
    runningServer === undefined
      ? yield* startServers(database)
      : [{ label: `server at ${runningServer}`, url: runningServer }]
  )

  const report = [
    table(results),
    "",
    "x-singleflight response header:",
    ...results.map(({ label, outcome }) =>
      `  ${label}: ${Object.entries(outcome.roles).sort().map(([role, count]) => `${role} ${count}`).join(", ")}`
    ),
    "",
    "latency of each request (share of the requests in each bucket):",
    "",
    Chart.renderText(series(results))
  ].join("\n")
  yield* Console.log(`\n${report}`)
  yield* Console.log(
    "\ndb queries: queries that got a database connection during the burst (customers_db_queries_total on /metrics);\n" +
      "latency: as the load process saw it; wall: the whole burst; queries, p99: ratio to the first row.\n" +
      `finished in ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
  if (writeDocs && runningServer === undefined) yield* writeTheDocs(results, setting, report)

  const failures = results.flatMap((result) => result.outcome.failures)
  if (failures.length > 0) {
    return yield* Effect.fail(`${failures.length} requests failed or got a wrong answer, e.g. ${failures[0]}`)
  }
})

main.pipe(Effect.scoped, Effect.provide(NodeContext.layer), NodeRuntime.runMain)
