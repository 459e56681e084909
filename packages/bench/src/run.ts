/**
 * One in-process run, from plan to report: the suite, the machine it ran on,
 * and the method notes. `main.ts` is the command line around it; the smoke
 * test calls it directly.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Os from "node:os"
import type { SamplingPlan } from "./harness.js"
import type { Report } from "./report.js"
import { runSuite } from "./suite.js"
import type { Plan, ScenarioId } from "./suite.js"

export interface RunResult {
  readonly report: Report
  readonly problems: ReadonlyArray<string>
}

export const runBench = async (
  plan: Plan,
  progress: (line: string) => void,
  only?: ReadonlyArray<ScenarioId>
): Promise<RunResult> => {
  const started = Date.now()
  const loadBefore = Os.loadavg()
  const suite = await runSuite(plan, progress, only)
  const report: Report = {
    title: "effect-singleflight benchmarks",
    date: new Date(started).toISOString(),
    mode: plan.mode,
    machine: machine(loadBefore, (Date.now() - started) / 1000),
    sections: suite.sections,
    targets: suite.targets,
    notes: notes(plan)
  }
  return { report, problems: suite.problems }
}

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

const machine = (loadBefore: ReadonlyArray<number>, seconds: number): Array<readonly [string, string]> => {
  const cpus = Os.cpus()
  const load = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(2)).join(", ")
  const commit = git("rev-parse", "--short", "HEAD") || "unknown commit"
  const dirty = git("status", "--porcelain", "--", "../../singleflight/src") !== ""
  return [
    ["finished", new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC"],
    ["CPU", `${cpus[0]?.model ?? "unknown"} × ${cpus.length}`],
    ["memory", `${(Os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ["OS", `${Os.type()} ${Os.release()} ${Os.arch()}`],
    ["Node.js", `${process.version} (V8 ${process.versions.v8})`],
    ["load average (1, 5, 15 min) before / after", `${load(loadBefore)} / ${load(Os.loadavg())}`],
    ["duration of the run", `${seconds.toFixed(0)} s`],
    [
      "effect-singleflight",
      `${packageVersion("effect-singleflight")} (${commit}${
        dirty ? " with uncommitted changes in packages/singleflight/src" : ""
      })`
    ],
    ...["effect", "promise-coalesce", "tinybench"].map((name) => [name, packageVersion(name)] as const)
  ]
}

const describeSampling = (sampling: SamplingPlan): string =>
  `${sampling.rounds} round(s) of at least ${sampling.iterations} iterations` +
  (sampling.time > 0 ? ` and ${sampling.time} ms` : "") +
  (sampling.warmupIterations > 0 ? `, after ${sampling.warmupIterations} warm-up iterations` : "")

const notes = (plan: Plan): Array<string> => [
  "Harness: tinybench 5 runs each task's iterations, with untimed hooks around them (a fresh instance and fresh " +
  "keys before each run, the results checked after it, keys put in flight before a round). Tasks of one size run " +
  "interleaved in rounds, their order rotated each round, so that the noise of the shared machine falls on all " +
  "alike; the median is taken over the samples of all rounds.",
  "Callers are root fibers started one after the other with `Effect.runFork`, as requests arrive at a server; " +
  "each runs until its first asynchronous boundary before the next one starts.",
  "Every run uses keys never used before and a new instance: `Cache` with a time-to-live of 0 still answers from " +
  "a value finished in the same millisecond, which would otherwise let it skip the work.",
  "Each row's results are checked: every caller must get the value of its own key, and the executions column " +
  "shows how many times the work ran per run (a coalescer must run it once per key).",
  "Targets are checked at 1 000 and 100 000 callers, calls or keys in flight (a quick run checks its largest size); " +
  "memory targets are bytes over the floor measured in the same run.",
  `Sampling (${plan.mode}): runs of up to 100 calls: ${describeSampling(plan.sampling(10))}; up to 10 000: ${
    describeSampling(plan.sampling(1_000))
  }; more: ${describeSampling(plan.sampling(100_000))}. Scale: ${
    describeSampling(plan.scaleSampling(Math.min(...plan.inFlight)))
  } with few keys in flight, ${describeSampling(plan.scaleSampling(Math.max(...plan.inFlight)))} with the most. ` +
  `Memory: ${plan.memoryRepeats} measure(s) per cell, median.`
]
