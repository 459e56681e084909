/**
 * `pnpm demo`: the seed's customer service under a burst of concurrent
 * requests, without singleflight, with `SingleFlight.call` around the
 * database lookup (the seed's design), and with `HttpSingleFlight.middleware`
 * around the routes. Real HTTP on loopback, a real SQLite file (created and
 * seeded on the first run), the seed's 128 ms of latency per query.
 */
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Array as Arr, Config, Console, Duration, Effect, Order } from "effect"
import * as Path from "node:path"
import { Customers, CustomerServer, Database } from "./index.js"

const requestCount = 2000
const nameCount = 20
const concurrency = 100

interface Mode {
  readonly label: string
  readonly singleFlight: boolean
  readonly httpSingleFlight: boolean
}

const modes: ReadonlyArray<Mode> = [
  { label: "no singleflight", singleFlight: false, httpSingleFlight: false },
  { label: "SingleFlight.call (lookup)", singleFlight: true, httpSingleFlight: false },
  { label: "HttpSingleFlight.middleware", singleFlight: false, httpSingleFlight: true }
]

interface Result {
  readonly mode: Mode
  readonly queries: number
  readonly latencies: ReadonlyArray<number>
  readonly wallMillis: number
  readonly failures: ReadonlyArray<string>
}

// -----------------------------------------------------------------------------
// progress on stderr: a bar on a terminal, a line per quarter otherwise (CI)
// -----------------------------------------------------------------------------

const makeProgress = (label: string, total: number) => {
  const isTTY = process.stderr.isTTY === true
  const width = 30
  let done = 0
  let shown = -1
  const draw = () => {
    if (isTTY) {
      const filled = Math.round((done / total) * width)
      if (filled === shown && done !== total) return
      shown = filled
      process.stderr.write(
        `\r  ${label.padEnd(28)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`
      )
      if (done === total) process.stderr.write("\n")
    } else {
      const quarter = Math.floor((done / total) * 4)
      if (quarter === shown) return
      shown = quarter
      if (quarter > 0) process.stderr.write(`  ${label}: ${done}/${total}\n`)
    }
  }
  return Effect.sync(() => {
    done++
    draw()
  })
}

// -----------------------------------------------------------------------------
// one burst against one server
// -----------------------------------------------------------------------------

const nameOf = (i: number) => `customer-${(i % nameCount) + 1}`

const burst = (mode: Mode, database: string, latency: Duration.Duration) =>
  Effect.gen(function*() {
    const server = yield* CustomerServer.CustomerServer
    const client = yield* HttpClient.HttpClient

    /** One request; the customer-N's id is N, so every answer can be checked. */
    const fetchId = (name: string) =>
      client.get(`${server.url}/`, { urlParams: { name } }).pipe(
        Effect.flatMap((response) => Effect.map(response.text, (text) => ({ status: response.status, text }))),
        Effect.map(({ status, text }) =>
          status === 200 && text === name.slice("customer-".length) ? undefined : `${name}: ${status} ${text}`
        ),
        Effect.catchAll((error) => Effect.succeed(`${name}: ${error.message}`)),
        Effect.timed
      )

    // Not measured: opens the client's connections and warms the code paths up.
    yield* Effect.forEach(Arr.makeBy(2 * concurrency, nameOf), fetchId, { concurrency })
    const queriesBefore = yield* server.queries

    const tick = makeProgress(mode.label, requestCount)
    const [wall, outcomes] = yield* Effect.forEach(
      Arr.makeBy(requestCount, nameOf),
      (name) => Effect.zipLeft(fetchId(name), tick),
      { concurrency }
    ).pipe(Effect.timed)

    return {
      mode,
      queries: (yield* server.queries) - queriesBefore,
      latencies: outcomes.map(([duration]) => Duration.toMillis(duration)),
      wallMillis: Duration.toMillis(wall),
      failures: outcomes.flatMap(([, failure]) => failure === undefined ? [] : [failure])
    } satisfies Result
  }).pipe(
    Effect.provide(CustomerServer.layer({
      port: 0,
      database,
      latency,
      singleFlight: mode.singleFlight,
      httpSingleFlight: mode.httpSingleFlight
    }))
  )

// -----------------------------------------------------------------------------
// the table
// -----------------------------------------------------------------------------

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = Arr.sort(values, Order.number)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

const table = (results: ReadonlyArray<Result>): string => {
  const header = ["mode", "requests", "db queries", "p50 ms", "p99 ms", "wall s"]
  const rows = results.map((result) => [
    result.mode.label,
    String(result.latencies.length),
    String(result.queries),
    percentile(result.latencies, 50).toFixed(1),
    percentile(result.latencies, 99).toFixed(1),
    (result.wallMillis / 1000).toFixed(2)
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => column === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[column]!)).join("  ")
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n")
}

const main = Effect.gen(function*() {
  const database = yield* Config.string("CUSTOMERS_DB").pipe(Config.withDefault(Database.defaultFile))
  const latency = Duration.millis(
    yield* Config.integer("CUSTOMERS_LATENCY_MS").pipe(Config.withDefault(Duration.toMillis(Customers.defaultLatency)))
  )
  yield* Console.log(
    `singleflight demo: ${requestCount} GET /?name=… requests over ${nameCount} names, ${concurrency} at a time,\n` +
      `${Duration.format(latency)} of latency per database query, SQLite at ${Path.relative(process.cwd(), database)}\n`
  )
  const results: Array<Result> = []
  for (const mode of modes) {
    results.push(yield* burst(mode, database, latency))
  }
  yield* Console.log(`\n${table(results)}`)
  yield* Console.log(
    "\ndb queries: lookups that reached SQLite during the burst; p50/p99: latency of a request as the client saw it\n" +
      "(the client and the server share this Node.js process); wall: the whole burst."
  )

  const failures = results.flatMap((result) => result.failures)
  if (failures.length > 0) {
    return yield* Effect.fail(`${failures.length} requests failed or got a wrong answer, e.g. ${failures[0]}`)
  }
})

main.pipe(Effect.provide(NodeHttpClient.layerUndici), NodeRuntime.runMain)
