/**
 * The demo's load generator: a burst of `GET /?name=…` requests against a
 * running customer service, measured as a client sees it, with the server's
 * own counters read from `GET /metrics` before and after. The demo runs it in
 * a child process of its own (see `burst.ts`), so that the client does not
 * take the server's CPU.
 */
import { HttpClient } from "@effect/platform"
import { Array as Arr, Duration, Effect, Record, Schema } from "effect"
import { singleFlightHeader } from "./CustomerServer.js"

export class Burst extends Schema.Class<Burst>("Burst")({
  /** The server, for example `http://127.0.0.1:8080`. */
  url: Schema.String,
  /** How many requests are measured. */
  requests: Schema.Int,
  /** The requests cycle through `customer-1` … `customer-<names>`. */
  names: Schema.Int,
  /** How many requests are in flight at once. */
  concurrency: Schema.Int,
  /** Unmeasured requests first, to open the connections and warm the code paths up. */
  warmUp: Schema.Int,
  /** Shown in the progress display. */
  label: Schema.String
}) {}

export class Outcome extends Schema.Class<Outcome>("Outcome")({
  /** Each measured request's latency in milliseconds, in the order they were sent. */
  latencies: Schema.Array(Schema.Number),
  wallMillis: Schema.Number,
  /** From `/metrics`, during the measured burst: `customers_db_queries_total`. */
  queries: Schema.Number,
  /** From `/metrics`: `singleflight_calls_total` and `singleflight_executions_total`, all groups. */
  calls: Schema.Number,
  executions: Schema.Number,
  /** How many responses said `leader`, `shared`, `bypass` (or nothing) in `x-singleflight`. */
  roles: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** Requests that failed or got a wrong answer, described. */
  failures: Schema.Array(Schema.String)
}) {}

/** The samples of a Prometheus text exposition, summed over their labels: name → value. */
export const parseMetrics = (text: string): ReadonlyMap<string, number> => {
  const totals = new Map<string, number>()
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})?\s+(\S+)/.exec(line)
    if (match === null) continue
    totals.set(match[1]!, (totals.get(match[1]!) ?? 0) + Number(match[2]))
  }
  return totals
}

const nameOf = (names: number) => (i: number) => `customer-${(i % names) + 1}`

/** One line per quarter on standard error, or a bar that redraws itself on a terminal. */
const makeProgress = (label: string, total: number) => {
  const isTTY = process.stderr.isTTY === true
  const width = 30
  let done = 0
  let shown = -1
  return Effect.sync(() => {
    done++
    const step = isTTY ? Math.round((done / total) * width) : Math.floor((done / total) * 4)
    if (step === shown && done !== total) return
    shown = step
    if (isTTY) {
      process.stderr.write(`\r  ${label.padEnd(28)} [${"#".repeat(step)}${".".repeat(width - step)}] ${done}/${total}`)
      if (done === total) process.stderr.write("\n")
    } else if (step > 0) {
      process.stderr.write(`  ${label}: ${done}/${total}\n`)
    }
  })
}

/** Runs the burst and reports what the client saw and what `/metrics` counted meanwhile. */
export const run = (burst: Burst): Effect.Effect<Outcome, unknown, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const metrics = client.get(`${burst.url}/metrics`).pipe(
      Effect.flatMap((response) => response.text),
      Effect.map(parseMetrics)
    )
    /** One request; customer-N's id is N, so every answer can be checked. */
    const fetchId = (name: string) =>
      client.get(`${burst.url}/`, { urlParams: { name } }).pipe(
        Effect.flatMap((response) =>
          Effect.map(response.text, (text) => ({
            role: response.headers[singleFlightHeader] ?? "none",
            failure: response.status === 200 && text === name.slice("customer-".length)
              ? undefined
              : `${name}: ${response.status} ${text}`
          }))
        ),
        Effect.catchAll((error) => Effect.succeed({ role: "none", failure: `${name}: ${error.message}` })),
        Effect.timed
      )

    yield* Effect.forEach(Arr.makeBy(burst.warmUp, nameOf(burst.names)), fetchId, {
      concurrency: burst.concurrency,
      discard: true
    })
    const before = yield* metrics

    const tick = makeProgress(burst.label, burst.requests)
    const [wall, outcomes] = yield* Effect.forEach(
      Arr.makeBy(burst.requests, nameOf(burst.names)),
      (name) => Effect.zipLeft(fetchId(name), tick),
      { concurrency: burst.concurrency }
    ).pipe(Effect.timed)

    const after = yield* metrics
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0)
    return new Outcome({
      latencies: outcomes.map(([duration]) => Duration.toMillis(duration)),
      wallMillis: Duration.toMillis(wall),
      queries: delta("customers_db_queries_total"),
      calls: delta("singleflight_calls_total"),
      executions: delta("singleflight_executions_total"),
      roles: Record.map(Arr.groupBy(outcomes, ([, { role }]) => role), (group) => group.length),
      failures: outcomes.flatMap(([, { failure }]) => failure === undefined ? [] : [failure])
    })
  })
