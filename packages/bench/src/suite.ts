/**
 * The suite as data: each section names its load, sizes, reference and
 * targets; one loop runs them all for one line, in one process and one run,
 * and checks the targets against the same run's rows.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import * as Os from "node:os"
import { formatRatio, formatSize } from "./format.js"
import type { Report, Row, Section, Target } from "./format.js"
import { measureHeap, median, sample } from "./harness.js"
import type { Check, SamplingPlan } from "./harness.js"
import type { Described, ImplementationId, Line, Load } from "./line.js"

export interface Plan {
  readonly mode: "full" | "quick"
  /** Callers of the concurrent scenarios, calls per run of the sequential ones, keys in flight of the scale one. */
  readonly sizes: ReadonlyArray<number>
  /** Sequential calls per run of the scale scenario. */
  readonly scaleCalls: number
  /** Waiters, and keys, of the memory scenarios. */
  readonly memoryCounts: ReadonlyArray<number>
  readonly memoryRepeats: number
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
  // A run of 100 000 callers takes seconds (tens for the slowest peer): one round of at least 3 s per task, so that
  // a slow task is sampled once and a fast one several times, and each line's run stays within minutes.
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
  sampling: () => ({ rounds: 1, iterations: 3, time: 0, warmupIterations: 1 }),
  scaleSampling: () => ({ rounds: 1, iterations: 3, time: 0, warmupIterations: 1 })
}

/**
 * A target of the subject against another row of the same size: its time at most `limit` times the other's
 * (`"ratio"`), strictly below it (`"ahead"`), or its bytes at most `limit` above the other's (`"bytes"`).
 */
interface Goal {
  readonly against: ImplementationId
  readonly kind: "ratio" | "ahead" | "bytes"
  readonly limit: number
}

/** The rows of one size, without their ratios and scenario (the section's title). */
type Measure = (line: Line, size: number, plan: Plan) => Promise<Array<Omit<Row, "scenario">>>

interface SectionSpec {
  /** `--only=memory` selects "memory-waiters" and "memory-keys". */
  readonly id: string
  readonly title: string
  readonly description: (plan: Plan) => string
  readonly sizeLabel: string
  /** `plan.sizes` unless given. */
  readonly sizes?: (plan: Plan) => ReadonlyArray<number>
  /** Ratios are to this implementation at the same size; without one, to the same implementation at the first size. */
  readonly reference?: ImplementationId
  readonly goals: ReadonlyArray<Goal>
  readonly measure: Measure
}

/** The row of one cell, from its values (times or bytes) and what its callers got. */
const rowOf = (implementation: Described, size: number, unit: string, values: Array<number>, check: Check) => ({
  size,
  implementation: implementation.name,
  role: implementation.role,
  median: median(values),
  unit,
  samples: values.length,
  executions: formatRange([...check.executions]),
  correct: check.problems.length === 0
})

/** "3" when every run ran the work 3 times, "3–5" otherwise. */
const formatRange = (values: Array<number>): string =>
  [...new Set([Math.min(...values), Math.max(...values)])].join("–")

/** The tasks of one size sampled together, interleaved; each row's median is per run (ms) or per call (µs). */
const timed = (
  ids: ReadonlyArray<ImplementationId>,
  load: (size: number, plan: Plan) => Load,
  unit: "ms/run" | "µs/call",
  sampling = (plan: Plan, size: number) => plan.sampling(size)
): Measure =>
async (line, size, plan) => {
  const tasks = ids.map((id) => line.timed(id, load(size, plan)))
  const samples = await sample(tasks, sampling(plan, size))
  return samples.map(({ check, millis }, index) => {
    const perUnit = unit === "ms/run" ? 1 : 1000 / tasks[index]!.callsPerRun
    return rowOf(line.implementations[ids[index]!], size, unit, millis.map((value) => value * perUnit), check)
  })
}

const memory =
  (ids: ReadonlyArray<ImplementationId>, shape: "waiters" | "keys"): Measure => async (line, size, plan) => {
    const rows = []
    for (const id of ids) {
      const make = () => line.held(id, shape === "waiters" ? 1 : size, size)
      const { bytes, check } = await measureHeap(make, size, plan.memoryRepeats)
      rows.push(rowOf(line.implementations[id], size, shape === "waiters" ? "B/waiter" : "B/key", bytes, check))
    }
    return rows
  }

const peers: ReadonlyArray<ImplementationId> = ["promiseCoalesce", "cache", "rcMap", "refHashMap", "designRegistry"]
const everyOne: ReadonlyArray<ImplementationId> = ["subject", "deferred", "noCoalescing", "forkJoin", ...peers]
/** The targets against the peers, on every timed scenario but distinct keys. */
const peerGoals: ReadonlyArray<Goal> = [
  { against: "refHashMap", kind: "ahead", limit: 1 },
  { against: "cache", kind: "ahead", limit: 1 },
  { against: "promiseCoalesce", kind: "ratio", limit: 1.5 }
]

/** N concurrent callers on `keys(N)` keys. */
const concurrentSection = (
  id: string,
  title: string,
  onKeys: string,
  keys: (callers: number) => number,
  reference: ImplementationId,
  goals: ReadonlyArray<Goal>
): SectionSpec => ({
  id,
  title,
  description: () =>
    `N concurrent callers on ${onKeys}; the work of each key is one macrotask (\`setImmediate\`) that ends after ` +
    "the last caller arrived. Median time of a run of all N callers.",
  sizeLabel: "callers",
  reference,
  goals,
  measure: timed(everyOne, (callers) => ({ _tag: "concurrent", callers, keys: keys(callers) }), "ms/run")
})

const sequentialCalls = (calls: number): Load => ({ _tag: "sequential", calls, inFlight: 0 })

const sections: ReadonlyArray<SectionSpec> = [
  concurrentSection("hot", "Hot key", "one key", () => 1, "deferred", [
    ...peerGoals,
    { against: "promiseCoalesce", kind: "ahead", limit: 1 }
  ]),
  concurrentSection("distinct", "Distinct keys", "N keys (nothing to share)", (callers) => callers, "forkJoin", [
    { against: "forkJoin", kind: "ratio", limit: 1 },
    peerGoals[2]!
  ]),
  concurrentSection(
    "mixed",
    "Mixed",
    "√N keys",
    (callers) => Math.max(1, Math.round(Math.sqrt(callers))),
    "deferred",
    peerGoals
  ),
  {
    id: "sequential",
    title: "Sequential uncontended calls",
    description: () =>
      "N calls one after the other in one `runPromise`, each on a fresh key whose value is ready at once. " +
      "Median cost of one call.",
    sizeLabel: "calls per run",
    reference: "forkJoin",
    goals: peerGoals,
    measure: timed(["subject", "noCoalescing", "forkJoin", ...peers], sequentialCalls, "µs/call")
  },
  {
    id: "observability",
    title: "Cost of observability",
    description: () =>
      "The sequential calls above: the subject as shipped (metrics on, no tracer installed) against the same group " +
      "with its metrics off, and with a tracer installed.",
    sizeLabel: "calls per run",
    reference: "metricsOff",
    goals: [{ against: "metricsOff", kind: "ratio", limit: 1.05 }],
    measure: timed(["subject", "metricsOff", "traced"], sequentialCalls, "µs/call")
  },
  {
    id: "scale",
    title: "Scale: keys already in flight",
    description: (plan) =>
      `With K keys in flight (their callers suspended), ${plan.scaleCalls} sequential calls on fresh keys whose ` +
      `value is ready at once. Median cost of one call; the ratio is to the same implementation with ` +
      `${plan.sizes[0]} keys in flight.`,
    sizeLabel: "keys in flight",
    goals: peerGoals,
    measure: timed(
      ["subject", "forkJoin", ...peers],
      (inFlight, plan) => ({ _tag: "sequential", calls: plan.scaleCalls, inFlight }),
      "µs/call",
      (plan, inFlight) => plan.scaleSampling(inFlight)
    )
  },
  {
    id: "memory-waiters",
    title: "Memory per waiter",
    description: () => "N callers suspended on one key whose work is in flight; heap bytes after GC per caller.",
    sizeLabel: "waiters",
    sizes: (plan) => plan.memoryCounts,
    reference: "deferred",
    goals: [{ against: "deferred", kind: "bytes", limit: 256 }],
    measure: memory(["subject", "deferred", ...peers], "waiters")
  },
  {
    id: "memory-keys",
    title: "Memory per key in flight",
    description: () => "N callers suspended on N keys whose work is in flight; heap bytes after GC per key.",
    sizeLabel: "keys",
    sizes: (plan) => plan.memoryCounts,
    reference: "forkJoin",
    goals: [{ against: "forkJoin", kind: "bytes", limit: 1024 }],
    measure: memory(everyOne, "keys")
  }
]

const scenarioOf = (spec: SectionSpec) => spec.id.split("-")[0]!
export const scenarioIds = [...new Set(sections.map(scenarioOf))]

/** A line's scale-out over Redis, as one "list" section: the median and p99 of each row, in microseconds. */
export const redisSection = async (line: Line, iterations: number): Promise<Section> => {
  const rows = (await line.redis(iterations)).map(({ implementation, millis, note, scenario }): Row => {
    const sorted = millis.sort((a, b) => a - b)
    const micros = (p: number) => Math.round(sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]! * 10_000) / 10
    const figures = { "median (µs)": micros(0.5), "p99 (µs)": micros(0.99) }
    const samples = sorted.length
    const described = note && `${note} (${samples} samples)`
    return {
      scenario,
      size: 1,
      implementation,
      role: "subject",
      median: micros(0.5),
      unit: "µs",
      samples,
      figures,
      note: described
    }
  })
  const description = "A real `redis-server` on loopback, two groups on separate connections in one process; " +
    "latencies in microseconds, the in-memory group next to its Redis counterpart. See docs/scale-out.md."
  return { id: "redis", title: `Scale-out over Redis, ${line.name}`, description, sizeLabel: "", layout: "list", rows }
}

/** One run of one line, from plan to report; `problems` lists every wrong result a caller got. */
export const runBench = async (
  line: Line,
  plan: Plan,
  progress: (text: string) => void,
  only: ReadonlyArray<string> = scenarioIds
): Promise<{ readonly report: Report; readonly problems: ReadonlyArray<string> }> => {
  const started = Date.now()
  const loadBefore = Os.loadavg()
  const results: Array<Section> = []
  const notes = methodNotes(plan)
  const problems: Array<string> = []
  const targets: Array<Target> = []
  const selected = sections.filter((spec) => only.includes(scenarioOf(spec)))
  for (const spec of selected) {
    const rows: Array<Row> = []
    for (const size of spec.sizes?.(plan) ?? plan.sizes) {
      const sizeStarted = Date.now()
      for (const row of await spec.measure(line, size, plan)) {
        rows.push({ scenario: spec.title, ...row })
        if (row.correct === false) problems.push(`${spec.title}, ${size}, ${row.implementation}: wrong results`)
      }
      progress(`${line.name}, ${spec.title}, ${formatSize(size)}: ${((Date.now() - sizeStarted) / 1000).toFixed(1)} s`)
    }
    const reference = spec.reference && line.implementations[spec.reference].name
    const section: Section = {
      id: spec.id,
      title: spec.title,
      description: spec.description(plan),
      sizeLabel: spec.sizeLabel,
      reference: reference ?? `itself at ${plan.sizes[0]} ${spec.sizeLabel}`,
      rows: withRatios(rows, reference)
    }
    results.push(section)
    targets.push(...targetsOf(section, spec.goals, line))
  }
  const report: Report = {
    line: line.name,
    date: new Date(started).toISOString(),
    mode: plan.mode,
    machine: machine(line, loadBefore, (Date.now() - started) / 1000),
    // without the line's own fields (effect 3's `make`), so that the report is plain data
    implementations: Object.values(line.implementations).map(({ name, role, semantics }) => ({
      name,
      role,
      semantics
    })),
    sections: results,
    targets,
    notes
  }
  return { report, problems }
}

/** Ratios to the reference at the same size, or to the same implementation at the first size. */
const withRatios = (rows: ReadonlyArray<Row>, reference: string | undefined): Array<Row> =>
  rows.map((row) => {
    const base = reference === undefined
      ? rows.find((other) => other.implementation === row.implementation)
      : rows.find((other) => other.size === row.size && other.implementation === reference)
    return base === undefined || base === row ? row : { ...row, ratio: row.median / base.median }
  })

const targetsOf = (section: Section, goals: ReadonlyArray<Goal>, line: Line): Array<Target> => {
  // Targets hold at 1 000 and 100 000 (callers, calls, keys); a quick run checks its largest size instead.
  const sizes = [...new Set(section.rows.map((row) => row.size))]
  const large = sizes.filter((size) => size >= 1_000)
  return goals.flatMap((goal) =>
    (large.length > 0 ? large : [Math.max(...sizes)]).flatMap((size) => {
      const against = line.implementations[goal.against].name
      const rows = section.rows.filter((row) => row.size === size)
      const subject = rows.find((row) => row.role === "subject")
      const other = rows.find((row) => row.implementation === against)
      if (subject === undefined || other === undefined) return []
      const bytes = goal.kind === "bytes"
      const measured = bytes ? subject.median - other.median : subject.median / other.median
      return [{
        label: `${section.title}, ${formatSize(size)} ${section.sizeLabel}: ${bytes ? "bytes over" : "vs"} ${against}`,
        measured: bytes ? `${Math.round(measured)} B` : formatRatio(measured),
        limit: { bytes: `≤ ${goal.limit} B`, ratio: `≤ ${goal.limit}×`, ahead: "ahead (< 1×)" }[goal.kind],
        met: goal.kind === "ahead" ? measured < goal.limit : measured <= goal.limit
      }]
    })
  )
}

const packageVersion = (directory: URL, name: string): string => {
  const file = new URL(`node_modules/${name}/package.json`, directory)
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : "?"
}

const machine = (line: Line, loadBefore: ReadonlyArray<number>, seconds: number): Array<readonly [string, string]> => {
  const cpus = Os.cpus()
  const load = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(2)).join(", ")
  // the commit, and whether the library's sources differ from it
  const git = (...args: Array<string>) => execFileSync("git", args, { cwd: line.directory, encoding: "utf8" }).trim()
  const dirty = git("status", "--porcelain", "--", "../singleflight/src") === "" ? "" : " with uncommitted changes"
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
      `${packageVersion(line.directory, "effect-singleflight")} (${git("rev-parse", "--short", "HEAD")}${dirty})`
    ],
    ...["effect", "promise-coalesce"].map((name) => [name, packageVersion(line.directory, name)] as const),
    ["tinybench", packageVersion(new URL("..", import.meta.url), "tinybench")]
  ]
}

const describeSampling = (sampling: SamplingPlan): string =>
  `${sampling.rounds} round(s) of at least ${sampling.iterations} iterations` +
  (sampling.time > 0 ? ` and ${sampling.time} ms` : "") +
  (sampling.warmupIterations > 0 ? `, after ${sampling.warmupIterations} warm-up iterations` : "")

const methodNotes = (plan: Plan): Array<string> => [
  "Harness: tinybench runs each task's iterations between untimed hooks (a fresh instance and fresh keys before " +
  "each run, the results checked after it). The tasks of one size run interleaved in rounds, their order rotated " +
  "each round, so that the noise of the shared machine falls on all alike; medians are over all rounds.",
  "Callers are root fibers started one after the other, as requests arrive at a server; each runs until its first " +
  "asynchronous boundary before the next one starts.",
  "Keys are never reused and every run gets a new instance: `Cache` with a time-to-live of 0 still answers from " +
  "a value finished in the same millisecond.",
  "Every caller must get the value of its own key; the executions column shows how many times the work ran per run.",
  "Targets are checked at 1 000 and 100 000 callers, calls or keys in flight (a quick run: its largest size); " +
  "memory targets are bytes over the floor measured in the same run.",
  `Sampling (${plan.mode}): runs of up to 100 calls: ${describeSampling(plan.sampling(10))}; up to 10 000: ${
    describeSampling(plan.sampling(1_000))
  }; more: ${describeSampling(plan.sampling(100_000))}. Scale: ${
    describeSampling(plan.scaleSampling(plan.sizes[0]!))
  } with few keys in flight, ${describeSampling(plan.scaleSampling(plan.sizes.at(-1)!))} with the most. ` +
  `Memory: ${plan.memoryRepeats} measure(s) per cell, median.`
]
