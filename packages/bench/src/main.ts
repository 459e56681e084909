/**
 * `pnpm bench`: every scenario for every implementation, on both lines, into
 * docs/benchmarks.md and a chart per line. The effect 3 line runs in this
 * process; the effect 4 line (effect4/packages/bench) in a child process on
 * Node.js 22, this script with `--line=effect4`, which hands its report back
 * as JSON.
 *
 *   --quick          tiny sizes, few iterations: a smoke run
 *   --only=a,b       run only these scenarios: hot, distinct, mixed, sequential, observability, scale, memory, redis
 *   --no-redis       skip the Redis scenarios
 *   --line=effect4   run one line only (or effect3), print its report as JSON on stdout and write no docs
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { comparisonMarkdown, lineMarkdown, redisMarkdown, writeDocs } from "./format.js"
import type { Report } from "./format.js"
import type { Line } from "./line.js"
import { fullPlan, quickPlan, runBench, scenarioIds } from "./suite.js"

/** A line's report, its wrong results, and its Redis section (or why it was skipped: redis-server missing). */
interface Outcome {
  readonly report: Report
  readonly problems: ReadonlyArray<string>
  readonly redis?: string
}

const args = process.argv.slice(2)
const option = (name: string) => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
const quick = args.includes("--quick")
const log = (text: string) => process.stderr.write(`${text}\n`)

const known = [...scenarioIds, "redis"]
const only = (option("only")?.split(",") ?? known)
  .filter((name) => name.length > 0 && !(name === "redis" && args.includes("--no-redis")))
const unknown = only.filter((name) => !known.includes(name))
if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${known.join(", ")}`)

/** A line's module, loaded only by the process that runs it (effect 4's resolves its own `effect`). */
const runLine = async (name: string): Promise<Outcome> => {
  const module = name === "effect4" ? "../../../effect4/packages/bench/src/effect4.ts" : "./effect3.ts"
  const { line } = (await import(new URL(module, import.meta.url).href)) as { line: Line }
  log(`effect-singleflight bench, ${line.name}: ${quick ? "quick" : "full"} run, scenarios ${only.join(", ")}`)
  const outcome = await runBench(line, quick ? quickPlan : fullPlan, log, only)
  if (!only.includes("redis")) return outcome
  const redis = await line.redis(quick ? 20 : 500).then((samples) => redisMarkdown(line.name, samples), (error) => {
    log(`${line.name}: Redis skipped: ${error}`)
    return `### Scale-out over Redis, ${line.name}\n\nSkipped in the last run: ${error}`
  })
  return { ...outcome, redis }
}

/** The effect 4 line in a child process on Node.js 22; its progress goes to our stderr, its report to our stdout. */
const runEffect4 = (): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    const child = spawn("npx", [
      ...["--loglevel=error", "-y", "node@22", "--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url)],
      ...["--line=effect4", `--only=${only.join(",")}`, ...(quick ? ["--quick"] : [])]
    ], { stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      try {
        resolve(JSON.parse(output) as Outcome)
      } catch (error) {
        reject(new Error(`the effect 4 line failed (exit code ${code})`, { cause: error }))
      }
    })
  })

const single = option("line")
if (single !== undefined && !["effect3", "effect4"].includes(single)) throw new Error(`unknown line ${single}`)
const outcomes = single !== undefined ? [await runLine(single)] : [await runLine("effect3"), await runEffect4()]
if (single !== undefined) process.stdout.write(`${JSON.stringify(outcomes[0])}\n`)
else {
  const [effect3, effect4] = outcomes.map(({ report }) => report) as [Report, Report]
  writeDocs([
    lineMarkdown(effect3, "## Effect 3: `pnpm bench`", "benchmarks.svg"),
    lineMarkdown(effect4, "## Effect 4: `pnpm bench`", "benchmarks-effect4.svg"),
    comparisonMarkdown(effect3, effect4),
    ...(only.includes("redis") ? ["## Redis: `pnpm bench`", ...outcomes.flatMap(({ redis }) => redis ?? [])] : [])
  ], [["benchmarks.svg", effect3], ["benchmarks-effect4.svg", effect4]])
  for (const { line, targets } of [effect3, effect4]) {
    for (const { label, measured, met } of targets) log(`${line}: ${met ? "met    " : "MISSED "} ${label}: ${measured}`)
  }
}
const problems = outcomes.flatMap(({ problems, report }) => problems.map((problem) => `${report.line}: ${problem}`))
for (const problem of problems) log(`WRONG RESULTS: ${problem}`)
process.exitCode = problems.length === 0 ? 0 : 1
