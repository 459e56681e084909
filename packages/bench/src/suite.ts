/**
 * The suite as data: each section names its scenario, sizes, reference,
 * targets and how to measure one size; one loop runs them all, in one process
 * and one run, and checks the targets against the same run's rows.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Os from "node:os"
import { formatRatio, formatSize } from "./format.js"
import type { Report, Row, Section, Target } from "./format.js"
import { median, sample } from "./harness.js"
import type { SamplingPlan } from "./harness.js"
import * as Impl from "./implementations.js"
import type { Implementation } from "./implementations.js"
import { measureRedis } from "./redis.js"
import { concurrent, measureMemory, scale, sequential } from "./scenarios.js"
import type { Check, Measured } from "./scenarios.js"

export interface Plan {
  readonly mode: "full" | "quick"
  /** Callers of the concurrent scenarios, calls per run of the sequential ones, keys in flight of the scale one. */
  readonly sizes: ReadonlyArray<number>
  /** Sequential calls per run of the scale scenario. */
  readonly scaleCalls: number
  /** Waiters, and keys, of the memory scenarios. */
  readonly memoryCounts: ReadonlyArray<number>
  readonly memoryRepeats: number
  /** Samples of each Redis row (the takeover row takes a fifth of it). */
  readonly redisIterations: number
  /** How to sample a scenario whose runs make `calls` calls. */
  readonly sampling: (calls: number) => SamplingPlan
  /** How to sample the scale scenario with `inFlight` keys in flight. */
  readonly scaleSampling: (inFlight: number) => SamplingPlan
}

export const fullPlan: Plan = {
  mode: "full",
  sizes: [10, 1_000, 100_000],
  scaleCalls: 1_000,
  memoryCounts: [1_000, 10_000],
  memoryRepeats: 2,
  redisIterations: 500,
  // A run of 100 000 callers takes seconds (tens for the slowest peer): one round of at least 3 s per task, so that
  // a slow task is sampled once and a fast one several times, and the whole run stays near 10 minutes.
  sampling: (calls) =>
    calls <= 100
      ? { rounds: 3, iterations: 25, time: 50, warmupIterations: 10 }
      : calls <= 10_000
      ? { rounds: 3, iterations: 10, time: 50, warmupIterations: 3 }
      : { rounds: 1, iterations: 1, time: 3_000, warmupIterations: 0 },
  // Putting 100 000 keys in flight takes seconds per task and round: one round, more timed runs in it.
  scaleSampling: (inFlight) =>
    inFlight <= 10_000
      ? { rounds: 3, iterations: 8, time: 50, warmupIterations: 3 }
      : { rounds: 1, iterations: 12, time: 0, warmupIterations: 2 }
}

export const quickPlan: Plan = {
  mode: "quick",
  sizes: [10, 100],
  scaleCalls: 20,
  memoryCounts: [200],
  memoryRepeats: 1,
  redisIterations: 20,
  sampling: () => ({ rounds: 1, iterations: 3, time: 0, warmupIterations: 1 }),
  scaleSampling: () => ({ rounds: 1, iterations: 3, time: 0, warmupIterations: 1 })
}

/**
 * A target of the subject against another row of the same size: its time at most `limit` times the other's
 * (`"ratio"`), strictly below it (`"ahead"`), or its bytes at most `limit` above the other's (`"bytes"`).
 */
interface Goal {
  readonly against: Implementation
  readonly kind: "ratio" | "ahead" | "bytes"
  readonly limit: number
}

/** The rows of one size, without their ratios; a row without a scenario takes its section's title. */
type Measure = (size: number, plan: Plan) => Promise<Array<Omit<Row, "scenario"> & { readonly scenario?: string }>>

interface SectionSpec {
  readonly scenario: string
  readonly id: string
  readonly title: string
  readonly description: (plan: Plan) => string
  readonly sizeLabel: string
  /** `plan.sizes` unless given. */
  readonly sizes?: (plan: Plan) => ReadonlyArray<number>
  /** Ratios are to this implementation at the same size; without one, to the same implementation at the first size. */
  readonly reference?: Implementation
  readonly goals: ReadonlyArray<Goal>
  readonly layout?: "list"
  /** Needs a program that may be missing (redis-server): its failure is a note of the report, not of the run. */
  readonly optional?: boolean
  readonly measure: Measure
}

/** The row of one cell, from its values (times or bytes) and what its callers got. */
const rowOf = (implementation: Implementation, size: number, unit: string, values: Array<number>, check: Check) => ({
  size,
  implementation: implementation.name,
  role: implementation.role,
  median: median(values),
  unit,
  samples: values.length,
  executions: formatRange(check.executions),
  results: [...check.sums].sort((a, b) => a - b).join(", "),
  correct: check.problems.length === 0
})

/** "3" when every run ran the work 3 times, "3–5" otherwise. */
const formatRange = (values: Iterable<number>): string => {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return "–"
  return sorted[0] === sorted.at(-1) ? `${sorted[0]}` : `${sorted[0]}–${sorted.at(-1)}`
}

/** The tasks of one size sampled together, interleaved; each row's median is per run (ms) or per call (µs). */
const timed = (
  implementations: ReadonlyArray<Implementation>,
  make: (implementation: Implementation, size: number, plan: Plan) => Measured,
  unit: "ms/run" | "µs/call",
  sampling = (plan: Plan, size: number) => plan.sampling(size)
): Measure =>
async (size, plan) => {
  const measured = implementations.map((implementation) => make(implementation, size, plan))
  const samples = await sample(measured.map((entry) => entry.task), sampling(plan, size))
  return measured.map(({ callsPerRun, check, task }, index) => {
    const perUnit = unit === "ms/run" ? 1 : 1000 / callsPerRun
    const values = (samples.get(task.id) ?? []).map((millis) => millis * perUnit)
    return rowOf(implementations[index]!, size, unit, values, check)
  })
}

const memory =
  (implementations: ReadonlyArray<Implementation>, shape: "waiters" | "keys"): Measure => async (size, plan) => {
    const rows = []
    for (const implementation of implementations) {
      const { bytes, check } = await measureMemory(implementation, shape, size, plan.memoryRepeats)
      rows.push(rowOf(implementation, size, shape === "waiters" ? "B/waiter" : "B/key", bytes, check))
    }
    return rows
  }

const sequentialImplementations = [Impl.singleFlight, Impl.noCoalescingLimit, Impl.forkJoinLimit, ...Impl.peers]
/** The targets against the peers, on every timed scenario but distinct keys. */
const peerGoals: ReadonlyArray<Goal> = [
  { against: Impl.refHashMapPeer, kind: "ahead", limit: 1 },
  { against: Impl.cachePeer, kind: "ahead", limit: 1 },
  { against: Impl.promiseCoalescePeer, kind: "ratio", limit: 1.5 }
]
const oneMacrotask = "the work of each key is one macrotask (`setImmediate`) that ends after the last caller arrived."

const sections: ReadonlyArray<SectionSpec> = [
  {
    scenario: "hot",
    id: "hot",
    title: "Hot key",
    description: () => `N concurrent callers on one key; ${oneMacrotask} Median time of a run of all N callers.`,
    sizeLabel: "callers",
    reference: Impl.deferredLimit,
    goals: [...peerGoals, { against: Impl.promiseCoalescePeer, kind: "ahead", limit: 1 }],
    measure: timed(
      Impl.all,
      (implementation, callers) => concurrent(implementation, callers, 1),
      "ms/run"
    )
  },
  {
    scenario: "distinct",
    id: "distinct",
    title: "Distinct keys",
    description: () => `N concurrent callers on N keys (nothing to share); ${oneMacrotask} Median time of a run.`,
    sizeLabel: "callers",
    reference: Impl.forkJoinLimit,
    goals: [{ against: Impl.forkJoinLimit, kind: "ratio", limit: 1 }, peerGoals[2]!],
    measure: timed(
      Impl.all,
      (implementation, callers) => concurrent(implementation, callers, callers),
      "ms/run"
    )
  },
  {
    scenario: "mixed",
    id: "mixed",
    title: "Mixed",
    description: () => `N concurrent callers on √N keys; ${oneMacrotask} Median time of a run.`,
    sizeLabel: "callers",
    reference: Impl.deferredLimit,
    goals: peerGoals,
    measure: timed(
      Impl.all,
      (implementation, callers) => concurrent(implementation, callers, Math.max(1, Math.round(Math.sqrt(callers)))),
      "ms/run"
    )
  },
  {
    scenario: "sequential",
    id: "sequential",
    title: "Sequential uncontended calls",
    description: () =>
      "N calls one after the other in one `Effect.runPromise`, each on a fresh key whose value is ready at once. " +
      "Median cost of one call.",
    sizeLabel: "calls per run",
    reference: Impl.forkJoinLimit,
    goals: peerGoals,
    measure: timed(sequentialImplementations, sequential, "µs/call")
  },
  {
    scenario: "observability",
    id: "observability",
    title: "Cost of observability",
    description: () =>
      "The sequential calls above, where the fixed cost of a call shows most: the subject as shipped (metrics on, " +
      "no tracer installed) against the same group with its metrics off, and with a tracer installed.",
    sizeLabel: "calls per run",
    reference: Impl.singleFlightUnobserved,
    goals: [{ against: Impl.singleFlightUnobserved, kind: "ratio", limit: 1.05 }],
    measure: timed([Impl.singleFlight, Impl.singleFlightUnobserved, Impl.singleFlightTraced], sequential, "µs/call")
  },
  {
    scenario: "scale",
    id: "scale",
    title: "Scale: keys already in flight",
    description: (plan) =>
      `With K keys in flight (their callers suspended), ${plan.scaleCalls} sequential calls on fresh keys whose ` +
      `value is ready at once. Median cost of one call; the ratio is to the same implementation with ` +
      `${plan.sizes[0]} keys in flight.`,
    sizeLabel: "keys in flight",
    goals: peerGoals,
    measure: timed(
      [Impl.singleFlight, Impl.forkJoinLimit, ...Impl.peers],
      (implementation, inFlight, plan) => scale(implementation, inFlight, plan.scaleCalls),
      "µs/call",
      (plan, inFlight) => plan.scaleSampling(inFlight)
    )
  },
  {
    scenario: "memory",
    id: "memory-waiters",
    title: "Memory per waiter",
    description: () => "N callers suspended on one key whose work is in flight; heap bytes after GC per caller.",
    sizeLabel: "waiters",
    sizes: (plan) => plan.memoryCounts,
    reference: Impl.deferredLimit,
    goals: [{ against: Impl.deferredLimit, kind: "bytes", limit: 256 }],
    measure: memory([Impl.singleFlight, Impl.deferredLimit, ...Impl.peers], "waiters")
  },
  {
    scenario: "memory",
    id: "memory-keys",
    title: "Memory per key in flight",
    description: () => "N callers suspended on N keys whose work is in flight; heap bytes after GC per key.",
    sizeLabel: "keys",
    sizes: (plan) => plan.memoryCounts,
    reference: Impl.forkJoinLimit,
    goals: [{ against: Impl.forkJoinLimit, kind: "bytes", limit: 1024 }],
    measure: memory(Impl.all, "keys")
  },
  {
    scenario: "redis",
    id: "redis",
    title: "Scale-out over Redis",
    description: () =>
      "From ./redis.ts: a real `redis-server` on loopback, two groups on separate connections in one process; " +
      "latencies in microseconds, the in-memory group next to its Redis counterpart. See docs/scale-out.md.",
    sizeLabel: "",
    sizes: () => [1],
    goals: [],
    layout: "list",
    optional: true,
    measure: (_, plan) => measureRedis(plan.redisIterations)
  }
]

export const scenarioIds = [...new Set(sections.map((spec) => spec.scenario))]

/** One run, from plan to report; `problems` lists every wrong result a caller got. */
export const runBench = async (
  plan: Plan,
  progress: (line: string) => void,
  only: ReadonlyArray<string> = scenarioIds
): Promise<{ readonly report: Report; readonly problems: ReadonlyArray<string> }> => {
  const started = Date.now()
  const loadBefore = Os.loadavg()
  const results: Array<Section> = []
  const notes = methodNotes(plan)
  const problems: Array<string> = []
  for (const spec of sections.filter((spec) => only.includes(spec.scenario))) {
    const rows: Array<Row> = []
    try {
      for (const size of spec.sizes?.(plan) ?? plan.sizes) {
        const sizeStarted = Date.now()
        for (const row of await spec.measure(size, plan)) {
          rows.push({ scenario: spec.title, ...row })
          if (row.correct === false) problems.push(`${spec.title}, ${size}, ${row.implementation}: wrong results`)
        }
        progress(`${spec.title}, ${formatSize(size)}: ${((Date.now() - sizeStarted) / 1000).toFixed(1)} s`)
      }
    } catch (error) {
      if (spec.optional !== true) throw error
      notes.push(`${spec.title} skipped: ${error instanceof Error ? error.message : String(error)}`)
      progress(notes.at(-1)!)
      continue
    }
    results.push({
      id: spec.id,
      title: spec.title,
      description: spec.description(plan),
      sizeLabel: spec.sizeLabel,
      ...(spec.layout === "list"
        ? { layout: spec.layout }
        : { reference: spec.reference?.name ?? `itself at ${plan.sizes[0]} ${spec.sizeLabel}` }),
      rows: withRatios(rows, spec.reference)
    })
  }
  const targets = sections.flatMap((spec) => {
    const section = results.find((section) => section.id === spec.id)
    return section === undefined ? [] : targetsOf(section, spec.goals)
  })
  const report: Report = {
    title: "effect-singleflight benchmarks",
    date: new Date(started).toISOString(),
    mode: plan.mode,
    machine: machine(loadBefore, (Date.now() - started) / 1000),
    sections: results,
    targets,
    notes
  }
  return { report, problems }
}

/** Ratios to the reference at the same size, or to the same implementation at the first size. */
const withRatios = (rows: ReadonlyArray<Row>, reference: Implementation | undefined): Array<Row> =>
  rows.map((row) => {
    const base = reference === undefined
      ? rows.find((other) => other.implementation === row.implementation)
      : rows.find((other) => other.size === row.size && other.implementation === reference.name)
    return base === undefined || base === row ? row : { ...row, ratio: row.median / base.median }
  })

const targetsOf = (section: Section, goals: ReadonlyArray<Goal>): Array<Target> => {
  // Targets hold at 1 000 and 100 000 (callers, calls, keys); a quick run checks its largest size instead.
  const sizes = [...new Set(section.rows.map((row) => row.size))]
  const large = sizes.filter((size) => size >= 1_000)
  const targetSizes = large.length > 0 ? large : [Math.max(...sizes)]
  return goals.flatMap((goal) =>
    targetSizes.flatMap((size) => {
      const at = (name: string) => section.rows.find((row) => row.size === size && row.implementation === name)
      const subject = at(Impl.singleFlight.name)
      const other = at(goal.against.name)
      if (subject === undefined || other === undefined) return []
      const label = `${section.title}, ${formatSize(size)} ${section.sizeLabel}`
      if (goal.kind === "bytes") {
        const over = subject.median - other.median
        return [{
          label: `${label}: bytes over ${goal.against.name}`,
          measured: `${Math.round(over)} B`,
          limit: `≤ ${goal.limit} B`,
          met: over <= goal.limit
        }]
      }
      const ratio = subject.median / other.median
      return [{
        label: `${label}: vs ${goal.against.name}`,
        measured: formatRatio(ratio),
        limit: goal.kind === "ahead" ? "ahead (< 1×)" : `≤ ${goal.limit}×`,
        met: goal.kind === "ahead" ? ratio < goal.limit : ratio <= goal.limit
      }]
    })
  )
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
  const dirty = git("status", "--porcelain", "--", "../../singleflight/src") === ""
    ? ""
    : " with uncommitted changes in packages/singleflight/src"
  return [
    ["finished", new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC"],
    ["CPU", `${cpus[0]?.model ?? "unknown"} × ${cpus.length}`],
    ["memory", `${(Os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ["OS", `${Os.type()} ${Os.release()} ${Os.arch()}`],
    ["Node.js", `${process.version} (V8 ${process.versions.v8})`],
    ["load average (1, 5, 15 min) before / after", `${load(loadBefore)} / ${load(Os.loadavg())}`],
    ["duration of the run", `${seconds.toFixed(0)} s`],
    ["effect-singleflight", `${packageVersion("effect-singleflight")} (${commit}${dirty})`],
    ...["effect", "promise-coalesce", "tinybench"].map((name) => [name, packageVersion(name)] as const)
  ]
}

const describeSampling = (sampling: SamplingPlan): string =>
  `${sampling.rounds} round(s) of at least ${sampling.iterations} iterations` +
  (sampling.time > 0 ? ` and ${sampling.time} ms` : "") +
  (sampling.warmupIterations > 0 ? `, after ${sampling.warmupIterations} warm-up iterations` : "")

const methodNotes = (plan: Plan): Array<string> => [
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
    describeSampling(plan.scaleSampling(plan.sizes[0]!))
  } with few keys in flight, ${describeSampling(plan.scaleSampling(plan.sizes.at(-1)!))} with the most. ` +
  `Memory: ${plan.memoryRepeats} measure(s) per cell, median.`
]
