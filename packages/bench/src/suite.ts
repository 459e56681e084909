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
import type { ImplementationId, Line } from "./line.js"
import { held, timed } from "./scenarios.js"
import type { Load } from "./scenarios.js"

export interface Plan {
  readonly mode: "full" | "quick"
  /** Callers of the concurrent scenarios, calls per run of the sequential ones, keys in flight of the scale one. */
  readonly sizes: ReadonlyArray<number>
  /** Sequential calls per run of the scale scenario. */
  readonly scaleCalls: number
  /** Waiters, and keys, of the memory scenarios, and how many times each is measured. */
  readonly memoryCounts: ReadonlyArray<number>
  readonly memoryRepeats: number
  /** How to sample the runs of one size: callers, calls or keys in flight. */
  readonly sampling: (size: number) => SamplingPlan
}

export const fullPlan: Plan = {
  mode: "full",
  sizes: [10, 1_000, 100_000],
  scaleCalls: 1_000,
  memoryCounts: [1_000, 10_000],
  memoryRepeats: 2,
  // A run of 100 000 callers takes seconds (tens for the slowest peer), and so does putting 100 000 keys in flight:
  // rounds of at least 1 s per task, so that a slow task is sampled once a round and a fast one many times. Three
  // rounds, not one of 3 s: a burst of load on the shared machine falls on one round of every task, not on all of one.
  sampling: (size) =>
    size <= 100
      ? { rounds: 3, iterations: 25, time: 50, warmupIterations: 10 }
      : size <= 10_000
      ? { rounds: 3, iterations: 10, time: 50, warmupIterations: 3 }
      : { rounds: 3, iterations: 1, time: 1_000, warmupIterations: 0 }
}

export const quickPlan: Plan = {
  mode: "quick",
  sizes: [10, 100],
  scaleCalls: 20,
  memoryCounts: [200],
  memoryRepeats: 1,
  sampling: () => ({ rounds: 1, iterations: 3, time: 0, warmupIterations: 1 })
}

/**
 * A target of the subject against another implementation at the same size: its time at most `limit` times the
 * other's (`"ratio"`), strictly below it (`"ahead"`), or its bytes at most `limit` above the other's (`"bytes"`).
 */
type Goal = readonly [against: ImplementationId, kind: "ratio" | "ahead" | "bytes", limit: number]

interface SectionSpec extends Pick<Section, "id" | "title" | "description" | "sizeLabel"> {
  /** Ratios are to this implementation at the same size; without one, to the same implementation at the first size. */
  readonly reference?: ImplementationId
  /** The limit each target is also checked for (the reference unless given): what no design built on it can beat. */
  readonly floor?: ImplementationId
  readonly goals: ReadonlyArray<Goal>
  /** The sizes of the plan it runs at, and the rows of one size (without their ratios). */
  readonly sizes: (plan: Plan) => ReadonlyArray<number>
  readonly measure: (line: Line, size: number, plan: Plan) => Promise<Array<Row>>
}

/** The row of one cell; its executions are "3" when every run ran the work 3 times, "3–5" otherwise. */
const rowOf = (line: Line, id: ImplementationId, size: number, unit: string, values: Array<number>, check: Check) => {
  const { name, role } = line.implementations[id]
  const executions = [...new Set([Math.min(...check.executions), Math.max(...check.executions)])].join("–")
  const correct = check.problems.length === 0
  return { size, implementation: name, role, median: median(values), unit, samples: values.length, executions, correct }
}

/** The tasks of one size sampled together, interleaved: the median time of a run, or of one call. */
const timedRows = (
  ids: ReadonlyArray<ImplementationId>,
  load: (size: number, plan: Plan) => Load,
  unit: "ms/run" | "µs/call" = "µs/call"
) =>
async (line: Line, size: number, plan: Plan) => {
  const tasks = ids.map((id) => timed(line, id, load(size, plan)))
  const samples = await sample(tasks, plan.sampling(size))
  const scale = unit === "ms/run" ? 1 : 1000 / tasks[0]!.callsPerRun
  return samples.map(({ check, millis }, index) =>
    rowOf(line, ids[index]!, size, unit, millis.map((value) => value * scale), check)
  )
}

/** Heap bytes per waiter (`size` callers on one key) or per key (`size` callers on `size` keys). */
const memoryRows =
  (ids: ReadonlyArray<ImplementationId>, per: "waiter" | "key") => async (line: Line, size: number, plan: Plan) => {
    const rows = []
    for (const id of ids) {
      const keys = per === "waiter" ? 1 : size
      const { bytes, check } = await measureHeap(() => held(line, id, keys, size), size, plan.memoryRepeats)
      rows.push(rowOf(line, id, size, `B/${per}`, bytes, check))
    }
    return rows
  }

const peers: ReadonlyArray<ImplementationId> = ["promiseCoalesce", "cache", "rcMap", "refHashMap", "designRegistry"]
const everyOne: ReadonlyArray<ImplementationId> = ["subject", "deferred", "noCoalescing", "forkJoin", ...peers]
/** The targets against the peers, on every timed scenario but distinct keys. */
const peerGoals: ReadonlyArray<Goal> = [["refHashMap", "ahead", 1], ["cache", "ahead", 1], [
  "promiseCoalesce",
  "ratio",
  1.5
]]
const planSizes = (plan: Plan) => plan.sizes
const memorySizes = (plan: Plan) => plan.memoryCounts
const sequential = (calls: number): Load => ({ _tag: "sequential", calls, inFlight: 0 })

/** N concurrent callers on `keys(N)` keys. */
const concurrent = (id: string, title: string, onKeys: string, keys: (callers: number) => number) => ({
  id,
  title,
  description:
    `N concurrent callers on ${onKeys}; the work of each key is one macrotask (\`setImmediate\`) that ends ` +
    "after the last caller arrived. Median time of a run of all N callers.",
  sizeLabel: "callers",
  sizes: planSizes,
  measure: timedRows(everyOne, (callers) => ({ _tag: "concurrent", callers, keys: keys(callers) }), "ms/run")
})

const sections: ReadonlyArray<SectionSpec> = [
  {
    ...concurrent("hot", "Hot key", "one key", () => 1),
    reference: "deferred",
    goals: [...peerGoals, ["promiseCoalesce", "ahead", 1]]
  },
  {
    ...concurrent("distinct", "Distinct keys", "N keys (nothing to share)", (callers) => callers),
    reference: "forkJoin",
    goals: [["forkJoin", "ratio", 1], ["promiseCoalesce", "ratio", 1.5]]
  },
  {
    ...concurrent("mixed", "Mixed", "√N keys", (callers) => Math.max(1, Math.round(Math.sqrt(callers)))),
    reference: "deferred",
    goals: peerGoals
  },
  {
    id: "sequential",
    title: "Sequential uncontended calls",
    description: "N calls one after the other in one run, each on a fresh key whose value is ready at once. Median " +
      "cost of one call.",
    sizeLabel: "calls per run",
    reference: "forkJoin",
    goals: peerGoals,
    sizes: planSizes,
    measure: timedRows(["subject", "noCoalescing", "forkJoin", ...peers], sequential)
  },
  {
    id: "observability",
    title: "Cost of observability",
    description: "The sequential calls above: the subject as shipped (metrics on, no tracer installed) against the " +
      "same group with its metrics off, and with a tracer installed.",
    sizeLabel: "calls per run",
    reference: "metricsOff",
    goals: [["metricsOff", "ratio", 1.05]],
    sizes: planSizes,
    measure: timedRows(["subject", "metricsOff", "traced"], sequential)
  },
  {
    id: "scale",
    title: "Scale: keys already in flight",
    description: "With K keys in flight (their callers suspended), a run of sequential calls on fresh keys whose " +
      "value is ready at once (see Sampling for how many). Median cost of one call; the ratio is to the same " +
      "implementation with the fewest keys in flight.",
    sizeLabel: "keys in flight",
    floor: "forkJoin",
    goals: peerGoals,
    sizes: planSizes,
    measure: timedRows(
      ["subject", "forkJoin", ...peers],
      (inFlight, plan) => ({ _tag: "sequential", calls: plan.scaleCalls, inFlight })
    )
  },
  {
    id: "memory-waiters",
    title: "Memory per waiter",
    description: "N callers suspended on one key whose work is in flight; heap bytes after GC per caller.",
    sizeLabel: "waiters",
    reference: "deferred",
    goals: [["deferred", "bytes", 256]],
    sizes: memorySizes,
    measure: memoryRows(["subject", "deferred", ...peers], "waiter")
  },
  {
    id: "memory-keys",
    title: "Memory per key in flight",
    description: "N callers suspended on N keys whose work is in flight; heap bytes after GC per key.",
    sizeLabel: "keys",
    reference: "forkJoin",
    goals: [["forkJoin", "bytes", 1024]],
    sizes: memorySizes,
    measure: memoryRows(everyOne, "key")
  }
]

/** `--only=memory` selects "memory-waiters" and "memory-keys". */
const scenarioOf = (spec: SectionSpec) => spec.id.split("-")[0]!
export const scenarioIds = [...new Set(sections.map(scenarioOf))]

/** One run of one line, from plan to report; `problems` lists every wrong result a caller got. */
export const runBench = async (line: Line, plan: Plan, progress: (text: string) => void, only = scenarioIds) => {
  const [started, loadBefore] = [Date.now(), Os.loadavg()]
  const [results, problems, targets] = [new Array<Section>(), new Array<string>(), new Array<Target>()]
  for (const spec of sections.filter((spec) => only.includes(scenarioOf(spec)))) {
    const rows: Array<Row> = []
    for (const size of spec.sizes(plan)) {
      const sizeStarted = Date.now()
      for (const row of await spec.measure(line, size, plan)) {
        rows.push(row)
        if (!row.correct) problems.push(`${spec.title}, ${size}, ${row.implementation}: wrong results`)
      }
      progress(`${line.name}, ${spec.title}, ${formatSize(size)}: ${((Date.now() - sizeStarted) / 1000).toFixed(1)} s`)
    }
    const { description, id, sizeLabel, title } = spec
    const reference = spec.reference && line.implementations[spec.reference].name
    const section: Section = {
      id,
      title,
      description,
      sizeLabel,
      reference: reference ?? `itself at ${plan.sizes[0]} ${sizeLabel}`,
      rows: withRatios(rows, reference)
    }
    results.push(section)
    const floor = spec.floor ?? spec.reference
    targets.push(...targetsOf(section, spec.goals, floor && line.implementations[floor].name, line))
  }
  const report: Report = {
    line: line.name,
    date: new Date(started).toISOString(),
    mode: plan.mode,
    machine: machine(line, loadBefore, (Date.now() - started) / 1000),
    // without the line's own fields (its `make`), so that the report is plain data
    implementations: Object.values(line.implementations).map(({ name, role, semantics }) => ({
      name,
      role,
      semantics
    })),
    sections: results,
    targets,
    notes: methodNotes(plan)
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

/** Each goal at 1 000 and 100 000 (callers, calls, keys); a quick run checks its largest size instead. */
const targetsOf = (section: Section, goals: ReadonlyArray<Goal>, floor: string | undefined, line: Line) => {
  const sizes = [...new Set(section.rows.map((row) => row.size))]
  const large = sizes.filter((size) => size >= 1_000)
  return goals.flatMap(([id, kind, limit]) =>
    (large.length > 0 ? large : [Math.max(...sizes)]).flatMap((size): Array<Target> => {
      const against = line.implementations[id].name
      const rows = section.rows.filter((row) => row.size === size)
      const [subject, other] = [
        rows.find((row) => row.role === "subject"),
        rows.find((row) => row.implementation === against)
      ]
      if (subject === undefined || other === undefined) return []
      const bytes = kind === "bytes"
      const measured = bytes ? subject.median - other.median : subject.median / other.median
      const floorRow = floor === against || bytes ? undefined : rows.find((row) => row.implementation === floor)
      return [{
        ...(floorRow === undefined ? {} : { floor: formatRatio(floorRow.median / other.median) }),
        label: `${section.title}, ${formatSize(size)} ${section.sizeLabel}: ${bytes ? "bytes over" : "vs"} ${against}`,
        measured: bytes ? `${Math.round(measured)} B` : formatRatio(measured),
        limit: { bytes: `≤ ${limit} B`, ratio: `≤ ${limit}×`, ahead: "ahead (< 1×)" }[kind],
        met: kind === "ahead" ? measured < limit : measured <= limit
      }]
    })
  )
}

const machine = (line: Line, loadBefore: ReadonlyArray<number>, seconds: number): Array<readonly [string, string]> => {
  const load = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(2)).join(", ")
  const version = (name: string) => {
    const file = new URL(`node_modules/${name}/package.json`, line.directory)
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : "?"
  }
  // the commit, and whether the library's sources differ from it
  const git = (...args: Array<string>) => execFileSync("git", args, { cwd: line.directory, encoding: "utf8" }).trim()
  const dirty = git("status", "--porcelain", "--", "../singleflight/src") === "" ? "" : " with uncommitted changes"
  return [
    ["finished", new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC"],
    ["CPU", `${Os.cpus()[0]?.model ?? "unknown"} × ${Os.cpus().length}`],
    ["memory", `${(Os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ["OS", `${Os.type()} ${Os.release()} ${Os.arch()}`],
    ["Node.js", `${process.version} (V8 ${process.versions.v8})`],
    ["load average (1, 5, 15 min) before / after", `${load(loadBefore)} / ${load(Os.loadavg())}`],
    ["duration of the run", `${seconds.toFixed(0)} s`],
    ["effect-singleflight", `${version("effect-singleflight")} (${git("rev-parse", "--short", "HEAD")}${dirty})`],
    ["effect", version("effect")],
    ["promise-coalesce", version("promise-coalesce")]
  ]
}

const describeSampling = ({ iterations, rounds, time, warmupIterations }: SamplingPlan): string =>
  `${rounds} round(s) of at least ${iterations} runs` + (time > 0 ? ` and ${time} ms` : "") +
  (warmupIterations > 0 ? `, after ${warmupIterations} warm-up runs` : "")

const methodNotes = (plan: Plan): Array<string> => [
  "Harness: each timed run lies between untimed steps (a fresh instance and fresh keys before it, the results " +
  "checked after it). The tasks of one size run interleaved in rounds, their order rotated each round, so that " +
  "the noise of the shared machine falls on all alike; medians are over all rounds.",
  "Callers are root fibers started one after the other, as requests arrive at a server; each runs until its first " +
  "asynchronous boundary before the next one starts.",
  "Keys are never reused and every run gets a new instance: `Cache` with a time-to-live of 0 still answers from " +
  "a value finished in the same millisecond.",
  "Every caller must get the value of its own key; the executions column shows how many times the work ran per run.",
  "Targets are checked at 1 000 and 100 000 callers, calls or keys in flight (a quick run: its largest size); " +
  "memory targets are bytes over the floor measured in the same run.",
  `Sampling (${plan.mode}), by callers, calls or keys in flight: up to 100: ${describeSampling(plan.sampling(10))}; ` +
  `up to 10 000: ${describeSampling(plan.sampling(1_000))}; more: ${describeSampling(plan.sampling(100_000))}. ` +
  `Scale: ${plan.scaleCalls} calls a run. Memory: ${plan.memoryRepeats} measure(s) per cell, median.`
]
