/**
 * `pnpm bench:http`: the customer service of packages/example-customers under
 * load from autocannon, on loopback, for a bounded duration: without
 * singleflight, with `SingleFlight.call` around the database lookup, and with
 * `HttpSingleFlight.middleware` around the routes. Requests/s, p50/p99 and the
 * database queries go into the HTTP part of docs/benchmarks.md.
 *
 *   --quick      2 s a run instead of 10 (writes no docs)
 *
 * autocannon fires from a worker thread, so that the load generator and the
 * server (on the main thread) do not share one core.
 */
import { CustomerServer } from "@effect-singleflight/example-customers"
import autocannon from "autocannon"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Os from "node:os"
import { sectionMarkdown, writePart } from "./format.js"
import type { Row, Section } from "./format.js"

type Mode = { readonly label: string; readonly singleFlight: boolean; readonly httpSingleFlight: boolean }
const modes: ReadonlyArray<Mode> = [
  { label: "singleflight off", singleFlight: false, httpSingleFlight: false },
  { label: "SingleFlight.call around the lookup", singleFlight: true, httpSingleFlight: false },
  { label: "HttpSingleFlight.middleware", singleFlight: false, httpSingleFlight: true }
]

/** Milliseconds of artificial latency before each database query. */
const latencies = [128, 0]
const connections = 100
const names = 20

const quick = process.argv.includes("--quick")
const seconds = quick ? 2 : 10
const warmUpSeconds = quick ? 1 : 2
const log = (line: string) => process.stderr.write(`${line}\n`)

const describeLoad = (latency: number): string => `${latency} ms per query, ${connections} connections, ${names} names`

/** One server for one mode: a warm-up, then the measured run. */
const measure = (mode: Mode, latency: number): Effect.Effect<Row, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(CustomerServer.layer({
      port: 0,
      host: "127.0.0.1",
      database: ":memory:",
      latency: Duration.millis(latency),
      singleFlight: mode.singleFlight,
      httpSingleFlight: mode.httpSingleFlight
    }))
    const server = Context.get(context, CustomerServer.CustomerServer)
    const fire = (duration: number) =>
      Effect.promise(() =>
        autocannon({
          url: server.url,
          connections,
          duration,
          workers: 1,
          requests: Array.from({ length: names }, (_, index) => ({
            method: "GET" as const,
            path: `/?name=customer-${index + 1}`
          }))
        })
      )
    yield* fire(warmUpSeconds)
    const before = yield* server.queries
    const result = yield* fire(seconds)
    const queries = (yield* server.queries) - before
    const requests = result["2xx"] + result.non2xx
    log(
      `${describeLoad(latency)}, ${mode.label}: ${Math.round(result.requests.average)} req/s, ` +
        `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${queries} queries`
    )
    return {
      scenario: describeLoad(latency),
      size: connections,
      implementation: mode.label,
      role: mode.singleFlight || mode.httpSingleFlight ? "subject" : "limit",
      median: result.latency.p50,
      unit: "ms",
      samples: requests,
      figures: {
        "median (ms)": result.latency.p50,
        "p99 (ms)": result.latency.p99,
        "requests/s": result.requests.average,
        "requests": requests,
        "database queries": queries,
        "queries per 1 000 requests": requests === 0 ? 0 : (queries * 1000) / requests,
        "errors and non-2xx": result.errors + result.non2xx
      }
    } satisfies Row
  }))

const main = async (): Promise<number> => {
  const rows: Array<Row> = []
  for (const latency of latencies) {
    for (const mode of modes) rows.push(await Effect.runPromise(measure(mode, latency)))
  }
  const section: Section = {
    id: "http",
    title: "HTTP: the customer service under load",
    description: `autocannon on loopback, ${seconds} s a run after ${warmUpSeconds} s of warm-up, each connection ` +
      "cycling through `GET /?name=customer-1` … `customer-N`; the server is packages/example-customers on an " +
      "in-memory SQLite database seeded at start, with the given artificial latency before each query. Latency " +
      "in milliseconds as autocannon saw it; database queries counted by the service during the measured run.",
    sizeLabel: "connections",
    layout: "list",
    rows
  }
  const cpus = Os.cpus()
  const generated = `Generated ${new Date().toISOString()} (${quick ? "quick" : "full"} run) on ` +
    `${cpus[0]?.model ?? "?"} × ${cpus.length}, Node.js ${process.version}; load average ` +
    `${Os.loadavg().map((value) => value.toFixed(2)).join(", ")} at the end.`
  if (!quick) {
    writePart("http", ["## HTTP: `pnpm bench:http`", "", generated, "", sectionMarkdown(section), ""].join("\n"))
  }
  process.stdout.write(`\n${sectionMarkdown(section)}\n`)
  const failed = rows.filter((row) => (row.figures?.["errors and non-2xx"] ?? 0) > 0)
  for (const row of failed) log(`FAILED REQUESTS: ${row.scenario}, ${row.implementation}`)
  return failed.length === 0 ? 0 : 1
}

process.exitCode = await main()
