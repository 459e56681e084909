/**
 * `pnpm bench`: every in-process scenario for every implementation in one run,
 * then the Redis scenarios, into docs/benchmarks.md and docs/benchmarks.svg.
 *
 *   --quick          tiny sizes, few iterations: a smoke run (writes no docs unless --write)
 *   --json           print the report as JSON on stdout (progress goes to stderr)
 *   --write          write the docs even in a quick run; --no-write: never
 *   --only=a,b       run only these scenarios: hot, distinct, mixed, sequential, observability, scale, memory
 *   --no-redis       skip the Redis scenarios
 *
 * Extra sections plug in as a `Section` of ./report.ts (a title, a layout, and
 * `Row`s of scenario, size, implementation, role, median, unit and optional
 * p99, ratio, extra figures and note): they get a table in the markdown, their
 * own part of the file, and a place in `--json`. The Redis scenarios
 * (./redis.ts, owned by the Redis engineer) return their own rows,
 * `{ scenario, implementation, p50Micros, p99Micros, note? }`, turned into a
 * "list" section by `redisSection` below; `pnpm bench:http` (./http.ts) writes
 * the HTTP part the same way.
 */
import { chartFile, markdownFile, writeChart, writePart } from "./docs.js"
import { listTable } from "./markdown.js"
import { runRedisBench } from "./redis.js"
import type { RedisBenchRow } from "./redis.js"
import type { Report, Section } from "./report.js"
import { inProcessMarkdown, memoryLines, runBench, summaryLines } from "./run.js"
import { fullPlan, quickPlan, scenarioIds } from "./suite.js"
import type { ScenarioId } from "./suite.js"
import { renderChart } from "./svg.js"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const quick = flag("quick")
const json = flag("json")
const write = flag("no-write") ? false : flag("write") || !quick
const only = parseOnly(args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length))
const log = (line: string) => process.stderr.write(`${line}\n`)

function parseOnly(value: string | undefined): ReadonlyArray<ScenarioId> {
  if (value === undefined) return scenarioIds
  const names = value.split(",").filter((name) => name.length > 0)
  const unknown = names.filter((name) => !scenarioIds.includes(name as ScenarioId))
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${scenarioIds.join(", ")}`)
  return names as ReadonlyArray<ScenarioId>
}

const redisSection = (rows: ReadonlyArray<RedisBenchRow>): Section => ({
  id: "redis",
  title: "Scale-out over Redis",
  description: "From ./redis.ts: a real `redis-server` on loopback, two groups on separate connections in one " +
    "process; latencies in microseconds, the in-memory group next to its Redis counterpart. See docs/scale-out.md.",
  sizeLabel: "",
  layout: "list",
  rows: rows.map((row) => ({
    scenario: row.scenario,
    size: 1,
    implementation: row.implementation,
    role: "subject" as const,
    median: row.p50Micros,
    unit: "µs",
    samples: 0,
    p99: row.p99Micros,
    ...(row.note === undefined ? {} : { note: row.note })
  }))
})

const runRedis = async (): Promise<Section | string> => {
  try {
    const started = Date.now()
    const rows = await runRedisBench({ iterations: quick ? 20 : 500, log })
    log(`Redis: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return redisSection(rows)
  } catch (error) {
    return `Redis scenarios skipped: ${error instanceof Error ? error.message : String(error)}`
  }
}

const main = async (): Promise<number> => {
  log(`effect-singleflight bench: ${quick ? "quick" : "full"} run, scenarios ${only.join(", ")}`)
  const { problems, report: inProcess } = await runBench({ plan: quick ? quickPlan : fullPlan, only, progress: log })
  const redis = flag("no-redis") ? "Redis scenarios skipped (--no-redis)" : await runRedis()
  const report: Report = typeof redis === "string"
    ? { ...inProcess, notes: [...inProcess.notes, redis] }
    : { ...inProcess, sections: [...inProcess.sections, redis] }

  if (write) {
    writePart("in-process", inProcessMarkdown(report, "benchmarks.svg"))
    if (typeof redis !== "string") {
      writePart("redis", ["## Redis: `pnpm bench`", "", listTable(redis), ""].join("\n"))
    }
    writeChart(renderChart(report.sections, `${report.date.slice(0, 10)}, ${report.mode} run`))
    log(`wrote ${markdownFile.pathname} and ${chartFile.pathname}`)
  }

  if (json) {
    process.stdout.write(`${JSON.stringify({ ...report, problems }, null, 2)}\n`)
  } else {
    const print = (line: string) => process.stdout.write(`${line}\n`)
    print("")
    for (const line of [...summaryLines(report), ...memoryLines(report)]) print(line)
    print("")
    for (const target of report.targets) {
      print(`${target.met ? "met    " : "MISSED "} ${target.label}: ${target.measured} (${target.limit})`)
    }
    if (typeof redis === "string") print(`\n${redis}`)
  }
  for (const problem of problems) log(`WRONG RESULTS: ${problem}`)
  return problems.length === 0 ? 0 : 1
}

process.exitCode = await main()
