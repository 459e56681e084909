/**
 * `pnpm bench`: every scenario for every implementation in one run, into
 * docs/benchmarks.md and docs/benchmarks.svg.
 *
 *   --quick          tiny sizes, few iterations: a smoke run (writes no docs)
 *   --json           print the report as JSON on stdout (progress goes to stderr)
 *   --only=a,b       run only these scenarios: hot, distinct, mixed, sequential, observability, scale, memory, redis
 *   --no-redis       skip the Redis scenarios
 */
import { writeFileSync } from "node:fs"
import { chartFile, lineMarkdown, renderChart, sectionMarkdown, writePart } from "./format.js"
import { line } from "./scenarios.js"
import { fullPlan, quickPlan, runBench, scenarioIds } from "./suite.js"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const log = (text: string) => process.stderr.write(`${text}\n`)

const only = (args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",") ?? scenarioIds)
  .filter((name) => name.length > 0 && !(name === "redis" && args.includes("--no-redis")))
const unknown = only.filter((name) => !scenarioIds.includes(name))
if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${scenarioIds.join(", ")}`)

log(`effect-singleflight bench: ${quick ? "quick" : "full"} run, scenarios ${only.join(", ")}`)
const { problems, report } = await runBench(line, quick ? quickPlan : fullPlan, log, only)
if (!quick) {
  writePart("in-process", lineMarkdown(report, "## In-process: `pnpm bench`", "benchmarks.svg"))
  const redis = report.sections.find((section) => section.id === "redis")
  if (redis !== undefined) writePart("redis", `## Redis: \`pnpm bench\`\n\n${sectionMarkdown(redis)}\n`)
  writeFileSync(chartFile, renderChart(report))
}
if (args.includes("--json")) {
  process.stdout.write(`${JSON.stringify({ ...report, problems }, null, 2)}\n`)
} else {
  for (const target of report.targets) {
    process.stdout.write(`${target.met ? "met    " : "MISSED "} ${target.label}: ${target.measured}\n`)
  }
}
for (const problem of problems) log(`WRONG RESULTS: ${problem}`)
process.exitCode = problems.length === 0 ? 0 : 1
