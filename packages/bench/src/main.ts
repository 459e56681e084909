/**
 * `pnpm bench`: every scenario for every implementation, on both lines, into
 * docs/benchmarks.md and a chart per line. The effect 3 line runs in this
 * process; the effect 4 line (effect4/packages/bench) runs in a child process
 * on Node.js 22, this script with `--line=effect4`, and hands its
 * report back as JSON. The sampling, the suite and the report are this
 * package's, for both.
 *
 *   --quick          tiny sizes, few iterations: a smoke run
 *   --only=a,b       run only these scenarios: hot, distinct, mixed, sequential, observability, scale, memory, redis
 *   --no-redis       skip the Redis scenarios
 *   --line=effect4   run one line only (or effect3) and print its report as JSON on stdout, as the child does;
 *                    writes no docs
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { comparisonMarkdown, lineMarkdown, sectionMarkdown, writeChart, writePart } from "./format.js"
import type { Report, Section } from "./format.js"
import type { Line } from "./line.js"
import { fullPlan, quickPlan, redisSection, runBench, scenarioIds } from "./suite.js"

/** A line's report, its wrong results, and its Redis section (or why it was skipped: redis-server missing). */
type Outcome = {
  readonly report: Report
  readonly problems: ReadonlyArray<string>
  readonly redis?: Section | string
}

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const log = (text: string) => process.stderr.write(`${text}\n`)

const known = [...scenarioIds, "redis"]
const only = (args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",") ?? known)
  .filter((name) => name.length > 0 && !(name === "redis" && args.includes("--no-redis")))
const unknown = only.filter((name) => !known.includes(name))
if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${known.join(", ")}`)

/** A line's module, loaded only by the process that runs it (effect 4's resolves its own `effect`). */
const runLine = async (name: string): Promise<Outcome> => {
  const effect4 = new URL("../../../effect4/packages/bench/src/scenarios.ts", import.meta.url).href
  const { line } = (name === "effect4" ? await import(effect4) : await import("./scenarios.js")) as { line: Line }
  const scenarios = only.filter((scenario) => scenarioIds.includes(scenario))
  log(`effect-singleflight bench, ${line.name}: ${quick ? "quick" : "full"} run, scenarios ${scenarios.join(", ")}`)
  const outcome = await runBench(line, quick ? quickPlan : fullPlan, log, only)
  if (!only.includes("redis")) return outcome
  const redis = await redisSection(line, quick ? 20 : 500).catch((error: unknown) => {
    log(`${line.name}: Redis skipped: ${error}`)
    return `Skipped in the last run: ${error instanceof Error ? error.message : String(error)}`
  })
  return { ...outcome, redis }
}

/** The effect 4 line in a child process on Node.js 22; its progress goes to our stderr, its report to our stdout. */
const runEffect4 = (): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      "npx",
      ["--loglevel=error", "-y", "node@22", "--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url)].concat(
        ["--line=effect4", `--only=${only.join(",")}`, ...(quick ? ["--quick"] : [])]
      ),
      { stdio: ["ignore", "pipe", "inherit"] }
    )
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

const printTargets = ({ report }: Outcome) => {
  for (const target of report.targets) {
    process.stdout.write(`${report.line}: ${target.met ? "met    " : "MISSED "} ${target.label}: ${target.measured}\n`)
  }
}

/** Both lines' scale-out over Redis. */
const redisPart = (outcomes: ReadonlyArray<Outcome>): string =>
  [
    "## Redis: `pnpm bench`",
    ...outcomes.map(({ redis, report }) =>
      typeof redis === "string" ? `### Scale-out over Redis, ${report.line}\n\n${redis}` : sectionMarkdown(redis!)
    )
  ].join("\n\n") + "\n"

const single = args.find((arg) => arg.startsWith("--line="))?.slice("--line=".length)
if (single !== undefined && !["effect3", "effect4"].includes(single)) throw new Error(`unknown line ${single}`)
const outcomes: Array<Outcome> = []
if (single !== undefined) {
  outcomes.push(await runLine(single))
  process.stdout.write(`${JSON.stringify(outcomes[0])}\n`)
} else {
  const [effect3, effect4] = [await runLine("effect3"), await runEffect4()]
  outcomes.push(effect3, effect4)
  writePart("effect3", lineMarkdown(effect3.report, "## Effect 3: `pnpm bench`", "benchmarks.svg"))
  writePart("effect4", lineMarkdown(effect4.report, "## Effect 4: `pnpm bench`", "benchmarks-effect4.svg"))
  writePart("comparison", comparisonMarkdown(effect3.report, effect4.report))
  if (only.includes("redis")) writePart("redis", redisPart(outcomes))
  writeChart("benchmarks.svg", effect3.report)
  writeChart("benchmarks-effect4.svg", effect4.report)
  outcomes.forEach(printTargets)
}
const problems = outcomes.flatMap(({ problems, report }) => problems.map((problem) => `${report.line}: ${problem}`))
for (const problem of problems) log(`WRONG RESULTS: ${problem}`)
process.exitCode = problems.length === 0 ? 0 : 1
