/**
 * One in-process benchmark run, from plan to report, and the report's
 * rendering: markdown part, chart, summary lines. `main.ts` is the command
 * line around it; the smoke test calls it directly.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Os from "node:os"
import type { SamplingPlan } from "./harness.js"
import * as Impl from "./implementations.js"
import { formatSize, machineTable, sectionTable, targetsTable } from "./markdown.js"
import type { Report, Section } from "./report.js"
import { formatRatio, runSuite } from "./suite.js"
import type { Plan, Progress, ScenarioId } from "./suite.js"

export interface RunOptions {
  readonly plan: Plan
  readonly only?: ReadonlyArray<ScenarioId> | undefined
  readonly progress: Progress
}

export interface RunResult {
  readonly report: Report
  readonly problems: ReadonlyArray<string>
  readonly seconds: number
}

export const runBench = async (options: RunOptions): Promise<RunResult> => {
  const started = Date.now()
  const loadBefore = Os.loadavg()
  const suite = await runSuite(options.plan, options.progress, options.only)
  const seconds = (Date.now() - started) / 1000
  return {
    report: {
      title: "effect-singleflight benchmarks",
      date: new Date(started).toISOString(),
      mode: options.plan.mode,
      machine: machine(loadBefore, seconds),
      sections: suite.sections,
      targets: suite.targets,
      notes: notes(options.plan)
    },
    problems: suite.problems,
    seconds
  }
}

// -----------------------------------------------------------------------------
// machine and versions
// -----------------------------------------------------------------------------

const packageVersion = (name: string): string => {
  try {
    const url = new URL(`../node_modules/${name}/package.json`, import.meta.url)
    return (JSON.parse(readFileSync(url, "utf8")) as { version?: string }).version ?? "?"
  } catch {
    return "?"
  }
}

const git = (...args: Array<string>): string => {
  try {
    return execFileSync("git", args, { cwd: new URL(".", import.meta.url), encoding: "utf8" }).trim()
  } catch {
    return ""
  }
}

const coreRevision = (): string => {
  const commit = git("rev-parse", "--short", "HEAD") || "unknown commit"
  const dirty = git("status", "--porcelain", "--", "../../singleflight/src") !== ""
  return dirty ? `${commit} with uncommitted changes in packages/singleflight/src` : commit
}

const machine = (loadBefore: ReadonlyArray<number>, seconds: number): Array<readonly [string, string]> => {
  const cpus = Os.cpus()
  const load = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(2)).join(", ")
  return [
    ["finished", new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC"],
    ["CPU", `${cpus[0]?.model ?? "unknown"} × ${cpus.length}`],
    ["memory", `${(Os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ["OS", `${Os.type()} ${Os.release()} ${Os.arch()}`],
    ["Node.js", `${process.version} (V8 ${process.versions.v8})`],
    ["load average (1, 5, 15 min) before / after", `${load(loadBefore)} / ${load(Os.loadavg())}`],
    ["duration of the run", `${seconds.toFixed(0)} s`],
    ["effect-singleflight", `${packageVersion("effect-singleflight")} (${coreRevision()})`],
    ["effect", packageVersion("effect")],
    ["promise-coalesce", packageVersion("promise-coalesce")],
    ["tinybench", packageVersion("tinybench")]
  ]
}

const notes = (plan: Plan): Array<string> => [
  "Harness: tinybench 5 runs each task's iterations, with untimed hooks around them (a fresh instance and fresh " +
  "keys before each run, the results checked after it, keys put in flight before a round). Tasks of a scenario " +
  "run interleaved in rounds, their order rotated each round, so that the noise of the shared machine falls on " +
  "all alike; the median is taken over the samples of all rounds. tinybench rather than mitata: it is already " +
  "in the lockfile, it runs async tasks natively, it has the per-iteration hooks these scenarios need (100 000 " +
  "keys in flight must be set up outside the timed region), and it hands back the raw samples; mitata's strength, " +
  "nanosecond-level loops that defeat the JIT, matters little when one iteration starts 10 to 100 000 fibers.",
  "Callers are root fibers started one after the other with `Effect.runFork`, as requests arrive at a server; " +
  "each runs until its first asynchronous boundary before the next one starts.",
  "Every run uses keys never used before and a new instance: `Cache` with a time-to-live of 0 still answers from " +
  "a value finished in the same millisecond, which would otherwise let it skip the work.",
  "Each row's results are checked: every caller must get the value of its own key, and the executions column " +
  "shows how many times the work ran per run (a coalescer must run it once per key).",
  `Sampling (${plan.mode}): runs of up to 100 calls: ${describeSampling(plan.sampling(10))}; up to 10 000: ${
    describeSampling(plan.sampling(1_000))
  }; more: ${describeSampling(plan.sampling(100_000))}. Scale: ${
    describeSampling(plan.scaleSampling(Math.min(...plan.inFlight)))
  } with few keys in flight, ${describeSampling(plan.scaleSampling(Math.max(...plan.inFlight)))} with the most. ` +
  `Memory: ${plan.memoryRepeats} measure(s) per cell, median.`
]

const describeSampling = (sampling: SamplingPlan): string => {
  return `${sampling.rounds} round(s) of at least ${sampling.iterations} iterations` +
    (sampling.time > 0 ? ` and ${sampling.time} ms` : "") +
    (sampling.warmupIterations > 0 ? `, after ${sampling.warmupIterations} warm-up iterations` : "")
}

// -----------------------------------------------------------------------------
// the summary the issue asks for
// -----------------------------------------------------------------------------

/** The subject's row of a section at `size`, or at the largest size below it (quick runs are smaller). */
const subjectAt = (section: Section | undefined, size: number) => {
  const rows = section?.rows.filter((row) => row.role === "subject" && row.size <= size) ?? []
  return rows.sort((a, b) => b.size - a.size)[0]
}

/** The three ratios of the core issue, plainly, at 1 000 callers (or the largest smaller size run). */
export const summaryLines = (report: Report): Array<string> => {
  const section = (id: string) => report.sections.find((candidate) => candidate.id === id)
  const line = (id: string, label: (size: number) => string, against: string, target: number) => {
    const row = subjectAt(section(id), 1_000)
    if (row?.ratio === undefined) return `${label(0)}: not measured in this run`
    const met = row.ratio <= target ? "met" : "MISSED"
    return `${label(row.size)}: ${formatRatio(row.ratio)} ${against} (target ≤ ${target}×): ${met}`
  }
  return [
    line("hot", (size) => `Hot key, ${formatSize(size)} concurrent callers on one key`, "the Deferred limit", 1.2),
    line(
      "distinct",
      (size) => `Distinct keys, ${formatSize(size)} callers on ${formatSize(size)} keys`,
      "no coalescing",
      1.5
    ),
    line("sequential", (size) => `Sequential uncontended calls (${formatSize(size)} a run)`, "one fork+join", 1.5)
  ]
}

/**
 * The memory targets count everything a caller costs, its own fiber included; these lines separate what
 * effect-singleflight adds from the floor of the same run (a root fiber awaiting a Deferred; a root fiber running
 * its own work), so that a reader sees both.
 */
export const memoryLines = (report: Report): Array<string> => {
  const lines: Array<string> = []
  const describe = (id: string, floorName: string, what: string) => {
    const section = report.sections.find((candidate) => candidate.id === id)
    const size = Math.max(...(section?.rows.map((row) => row.size) ?? [0]))
    const at = (name: string) => section?.rows.find((row) => row.size === size && row.implementation === name)
    const subject = section?.rows.find((row) => row.size === size && row.role === "subject")
    const floor = at(floorName)
    if (subject === undefined || floor === undefined) return
    lines.push(
      `Memory per ${what} (${formatSize(size)}): ${Math.round(subject.median)} B in all, of which ${
        Math.round(floor.median)
      } B is the floor measured in the same run (${floorName}) and ${
        Math.round(subject.median - floor.median)
      } B what effect-singleflight adds.`
    )
  }
  describe("memory-waiters", Impl.deferredLimit.name, "waiter")
  describe("memory-keys", Impl.noCoalescingLimit.name, "key in flight")
  return lines
}

// -----------------------------------------------------------------------------
// markdown
// -----------------------------------------------------------------------------

export const inProcessMarkdown = (report: Report, chartFile: string): string => {
  const missed = report.targets.filter((target) => !target.met)
  return [
    "## In-process: `pnpm bench`",
    "",
    `Generated ${report.date} (${report.mode} run). Every figure below comes from this one run, in one process; ` +
    "ratios are to limits measured in the same run, because absolute times on a shared 2-core machine mean little.",
    "",
    machineTable(report.machine),
    "",
    "### Summary",
    "",
    ...summaryLines(report).map((line) => `- ${line}`),
    ...memoryLines(report).map((line) => `- ${line}`),
    `- ${report.targets.length - missed.length} of ${report.targets.length} targets met.`,
    "",
    "### Targets",
    "",
    targetsTable(report.targets),
    "",
    `![ratios to the limits](${chartFile})`,
    "",
    "### Method",
    "",
    ...report.notes.map((note) => `- ${note}`),
    "",
    "### Limits and peers",
    "",
    "Speed is only comparable where the semantics are: what each one does differently.",
    "",
    ...[Impl.singleFlight, Impl.deferredLimit, Impl.noCoalescingLimit, Impl.forkJoinLimit, ...Impl.peers].map(
      (implementation) => `- **${implementation.name}** (${implementation.role}): ${implementation.semantics}`
    ),
    "",
    "### Results",
    "",
    ...report.sections.filter((section) => section.layout !== "list").flatMap((section) => [
      sectionTable(section),
      ""
    ])
  ].join("\n")
}
