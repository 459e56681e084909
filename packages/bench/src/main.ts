/**
 * `pnpm bench`: every in-process scenario for every implementation in one run,
 * then the Redis scenarios, into docs/benchmarks.md and docs/benchmarks.svg.
 *
 *   --quick          tiny sizes, few iterations: a smoke run (writes no docs unless --write)
 *   --json           print the report as JSON on stdout (progress goes to stderr)
 *   --write          write the docs even in a quick run; --no-write: never
 *   --only=a,b       run only these scenarios: hot, distinct, mixed, sequential, observability, scale, memory
 *   --no-redis       skip the Redis scenarios
 */
import { chartFile, inProcessMarkdown, listTable, markdownFile, renderChart, writeChart, writePart } from "./format.js"
import * as Impl from "./implementations.js"
import { runRedisBench } from "./redis.js"
import type { Section } from "./report.js"
import { runBench } from "./run.js"
import { fullPlan, quickPlan, scenarioIds } from "./suite.js"
import type { ScenarioId } from "./suite.js"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const quick = flag("quick")
const write = flag("no-write") ? false : flag("write") || !quick
const log = (line: string) => process.stderr.write(`${line}\n`)

const only = ((value: string | undefined): ReadonlyArray<ScenarioId> => {
  if (value === undefined) return scenarioIds
  const names = value.split(",").filter((name) => name.length > 0)
  const unknown = names.filter((name) => !scenarioIds.includes(name as ScenarioId))
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${scenarioIds.join(", ")}`)
  return names as ReadonlyArray<ScenarioId>
})(args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length))

/** The Redis scenarios of ./redis.ts (a `redis-server` of its own), as a "list" section, or why they were skipped. */
const runRedis = async (): Promise<Section | string> => {
  if (flag("no-redis")) return "Redis scenarios skipped (--no-redis)"
  try {
    const rows = await runRedisBench({ iterations: quick ? 20 : 500, log })
    return {
      id: "redis",
      title: "Scale-out over Redis",
      description: "From ./redis.ts: a real `redis-server` on loopback, two groups on separate connections in one " +
        "process; latencies in microseconds, the in-memory group next to its Redis counterpart. See " +
        "docs/scale-out.md.",
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
    }
  } catch (error) {
    return `Redis scenarios skipped: ${error instanceof Error ? error.message : String(error)}`
  }
}

const main = async (): Promise<number> => {
  log(`effect-singleflight bench: ${quick ? "quick" : "full"} run, scenarios ${only.join(", ")}`)
  const { problems, report: inProcess } = await runBench(quick ? quickPlan : fullPlan, log, only)
  const redis = await runRedis()
  const report = typeof redis === "string"
    ? { ...inProcess, notes: [...inProcess.notes, redis] }
    : { ...inProcess, sections: [...inProcess.sections, redis] }
  const semantics = [Impl.singleFlight, Impl.deferredLimit, Impl.noCoalescingLimit, Impl.forkJoinLimit, ...Impl.peers]
    .map((implementation) => [`${implementation.name} (${implementation.role})`, implementation.semantics] as const)

  if (write) {
    writePart("in-process", inProcessMarkdown(report, "benchmarks.svg", semantics))
    if (typeof redis !== "string") writePart("redis", ["## Redis: `pnpm bench`", "", listTable(redis), ""].join("\n"))
    writeChart(renderChart(inProcess.sections, `${report.date.slice(0, 10)}, ${report.mode} run`))
    log(`wrote ${markdownFile.pathname} and ${chartFile.pathname}`)
  }
  const print = (line: string) => process.stdout.write(`${line}\n`)
  if (flag("json")) {
    print(JSON.stringify({ ...report, problems }, null, 2))
  } else {
    for (const target of report.targets) {
      print(`${target.met ? "met    " : "MISSED "} ${target.label}: ${target.measured}`)
    }
    if (typeof redis === "string") print(redis)
  }
  for (const problem of problems) log(`WRONG RESULTS: ${problem}`)
  return problems.length === 0 ? 0 : 1
}

process.exitCode = await main()
