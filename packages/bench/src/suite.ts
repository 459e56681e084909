/**
 * The in-process suite as data: each section names its scenario, sizes,
 * implementations, reference and targets; one loop runs them all, in one
 * process and one run, and checks the targets against the same run's rows.
 */
import { formatRange, formatRatio, formatSize } from "./format.js"
import { median, sample, settle } from "./harness.js"
import type { SamplingPlan } from "./harness.js"
import * as Impl from "./implementations.js"
import type { Implementation } from "./implementations.js"
import type { Row, Section, Target } from "./report.js"
import { Check, concurrent, measureMemory, scale, sequential } from "./scenarios.js"
import type { Measured } from "./scenarios.js"

export interface Plan {
  readonly mode: "full" | "quick"
  /** Concurrent callers of the hot-key, distinct-keys and mixed scenarios. */
  readonly callers: ReadonlyArray<number>
  /** Calls per run of the sequential scenarios. */
  readonly sequentialCalls: ReadonlyArray<number>
  /** Keys in flight of the scale scenario (the first is the baseline). */
  readonly inFlight: ReadonlyArray<number>
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
  callers: [10, 1_000, 100_000],
  sequentialCalls: [10, 1_000, 100_000],
  inFlight: [10, 1_000, 100_000],
  scaleCalls: 1_000,
  memoryCounts: [1_000, 10_000],
  memoryRepeats: 2,
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
  callers: [10, 100],
  sequentialCalls: [10, 100],
  inFlight: [10, 100],
  scaleCalls: 20,
  memoryCounts: [200],
  memoryRepeats: 1,
  sampling: () => ({ rounds: 1, iterations: 3, time: 0, warmupIterations: 1 }),
  scaleSampling: () => ({ rounds: 1, iterations: 3, time: 0, warmupIterations: 1 })
}

export const scenarioIds = ["hot", "distinct", "mixed", "sequential", "observability", "scale", "memory"] as const
export type ScenarioId = typeof scenarioIds[number]

/**
 * A target of the subject against another row of the same size: its time at most `limit` times the other's
 * (`"ratio"`), strictly below it (`"ahead"`), or its bytes at most `limit` above the other's (`"bytes"`).
 */
export interface Goal {
  readonly against: Implementation
  readonly kind: "ratio" | "ahead" | "bytes"
  readonly limit: number
}

/** Rows of one size, without their ratios. */
type Measure = (implementations: ReadonlyArray<Implementation>, size: number, plan: Plan) => Promise<Array<Row>>

interface SectionSpec {
  readonly scenario: ScenarioId
  readonly id: string
  readonly title: string
  readonly description: (plan: Plan) => string
  readonly sizeLabel: string
  readonly sizes: (plan: Plan) => ReadonlyArray<number>
  readonly implementations: ReadonlyArray<Implementation>
  /** Ratios are to this implementation at the same size; without one, to the same implementation at the first size. */
  readonly reference?: Implementation
  readonly goals: ReadonlyArray<Goal>
  readonly measure: Measure
}

/** The row of one cell, from its values (times or bytes) and what its callers got. */
const rowOf = (
  implementation: Implementation,
  size: number,
  unit: string,
  values: Array<number>,
  check: Check
): Row => ({
  scenario: "",
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

/** Tasks of one size sampled together, interleaved; each row's median is per run (ms) or per call (µs). */
const timed = (
  make: (implementation: Implementation, size: number, plan: Plan) => Measured,
  unit: "ms/run" | "µs/call",
  sampling: (plan: Plan, size: number) => SamplingPlan = (plan, size) => plan.sampling(size)
): Measure =>
async (implementations, size, plan) => {
  const measured = implementations.map((implementation) => make(implementation, size, plan))
  const samples = await sample(measured.map((entry) => entry.task), sampling(plan, size))
  return measured.map((entry, index) => {
    const perUnit = unit === "ms/run" ? 1 : 1000 / entry.callsPerRun
    const values = (samples.get(entry.task.id) ?? []).map((millis) => millis * perUnit)
    return rowOf(implementations[index]!, size, unit, values, entry.check)
  })
}

const memory = (shape: "waiters" | "keys"): Measure => async (implementations, size, plan) => {
  const rows: Array<Row> = []
  for (const implementation of implementations) {
    const check = new Check()
    const bytes: Array<number> = []
    for (let repeat = 0; repeat < plan.memoryRepeats; repeat++) {
      bytes.push(await measureMemory(implementation, shape, size, check))
      await settle()
    }
    rows.push(rowOf(implementation, size, shape === "waiters" ? "B/waiter" : "B/key", bytes, check))
  }
  return rows
}

const concurrentImplementations = [
  Impl.singleFlight,
  Impl.deferredLimit,
  Impl.noCoalescingLimit,
  Impl.forkJoinLimit,
  ...Impl.peers
]
const sequentialImplementations = [Impl.singleFlight, Impl.noCoalescingLimit, Impl.forkJoinLimit, ...Impl.peers]
/** The targets against the peers, on every timed scenario but distinct keys. */
const peerGoals: ReadonlyArray<Goal> = [
  { against: Impl.refHashMapPeer, kind: "ahead", limit: 1 },
  { against: Impl.cachePeer, kind: "ahead", limit: 1 },
  { against: Impl.promiseCoalescePeer, kind: "ratio", limit: 1.5 }
]
const oneMacrotask = "the work of each key is one macrotask (`setImmediate`) that ends after the last caller arrived."

export const sections: ReadonlyArray<SectionSpec> = [
  {
    scenario: "hot",
    id: "hot",
    title: "Hot key",
    description: () => `N concurrent callers on one key; ${oneMacrotask} Median time of a run of all N callers.`,
    sizeLabel: "callers",
    sizes: (plan) => plan.callers,
    implementations: concurrentImplementations,
    reference: Impl.deferredLimit,
    goals: [...peerGoals, { against: Impl.promiseCoalescePeer, kind: "ahead", limit: 1 }],
    measure: timed((implementation, callers) => concurrent(implementation, callers, 1), "ms/run")
  },
  {
    scenario: "distinct",
    id: "distinct",
    title: "Distinct keys",
    description: () => `N concurrent callers on N keys (nothing to share); ${oneMacrotask} Median time of a run.`,
    sizeLabel: "callers",
    sizes: (plan) => plan.callers,
    implementations: concurrentImplementations,
    reference: Impl.forkJoinLimit,
    goals: [{ against: Impl.forkJoinLimit, kind: "ratio", limit: 1 }, peerGoals[2]!],
    measure: timed((implementation, callers) => concurrent(implementation, callers, callers), "ms/run")
  },
  {
    scenario: "mixed",
    id: "mixed",
    title: "Mixed",
    description: () => `N concurrent callers on √N keys; ${oneMacrotask} Median time of a run.`,
    sizeLabel: "callers",
    sizes: (plan) => plan.callers,
    implementations: concurrentImplementations,
    reference: Impl.deferredLimit,
    goals: peerGoals,
    measure: timed(
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
    sizes: (plan) => plan.sequentialCalls,
    implementations: sequentialImplementations,
    reference: Impl.forkJoinLimit,
    goals: peerGoals,
    measure: timed(sequential, "µs/call")
  },
  {
    scenario: "observability",
    id: "observability",
    title: "Cost of observability",
    description: () =>
      "The sequential calls above, where the fixed cost of a call shows most: the subject as shipped (metrics on, " +
      "no tracer installed) against the same group with its metrics off, and with a tracer installed.",
    sizeLabel: "calls per run",
    sizes: (plan) => plan.sequentialCalls,
    implementations: [Impl.singleFlight, Impl.singleFlightUnobserved, Impl.singleFlightTraced],
    reference: Impl.singleFlightUnobserved,
    goals: [{ against: Impl.singleFlightUnobserved, kind: "ratio", limit: 1.05 }],
    measure: timed(sequential, "µs/call")
  },
  {
    scenario: "scale",
    id: "scale",
    title: "Scale: keys already in flight",
    description: (plan) =>
      `With K keys in flight (their callers suspended), ${plan.scaleCalls} sequential calls on fresh keys whose ` +
      `value is ready at once. Median cost of one call; the ratio is to the same implementation with ` +
      `${plan.inFlight[0]} keys in flight.`,
    sizeLabel: "keys in flight",
    sizes: (plan) => plan.inFlight,
    implementations: [Impl.singleFlight, Impl.forkJoinLimit, ...Impl.peers],
    goals: peerGoals,
    measure: timed(
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
    implementations: [Impl.singleFlight, Impl.deferredLimit, ...Impl.peers],
    reference: Impl.deferredLimit,
    goals: [{ against: Impl.deferredLimit, kind: "bytes", limit: 256 }],
    measure: memory("waiters")
  },
  {
    scenario: "memory",
    id: "memory-keys",
    title: "Memory per key in flight",
    description: () => "N callers suspended on N keys whose work is in flight; heap bytes after GC per key.",
    sizeLabel: "keys",
    sizes: (plan) => plan.memoryCounts,
    implementations: concurrentImplementations,
    reference: Impl.forkJoinLimit,
    goals: [{ against: Impl.forkJoinLimit, kind: "bytes", limit: 1024 }],
    measure: memory("keys")
  }
]

export interface SuiteResult {
  readonly sections: ReadonlyArray<Section>
  readonly targets: ReadonlyArray<Target>
  /** Problems found in what callers got: any entry means an implementation returned wrong results. */
  readonly problems: ReadonlyArray<string>
}

export const runSuite = async (
  plan: Plan,
  progress: (line: string) => void,
  only: ReadonlyArray<ScenarioId> = scenarioIds
): Promise<SuiteResult> => {
  const results: Array<Section> = []
  const targets: Array<Target> = []
  const problems: Array<string> = []
  for (const spec of sections.filter((spec) => only.includes(spec.scenario))) {
    const rows: Array<Row> = []
    for (const size of spec.sizes(plan)) {
      const started = Date.now()
      for (const row of await spec.measure(spec.implementations, size, plan)) {
        rows.push({ ...row, scenario: spec.title })
        if (row.correct === false) problems.push(`${spec.title}, ${size}, ${row.implementation}: wrong results`)
      }
      progress(`${spec.title}, ${size.toLocaleString("en-US")}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
    const section: Section = {
      id: spec.id,
      title: spec.title,
      description: spec.description(plan),
      sizeLabel: spec.sizeLabel,
      reference: spec.reference?.name ?? `itself at ${spec.sizes(plan)[0]} ${spec.sizeLabel}`,
      rows: withRatios(rows, spec.reference)
    }
    results.push(section)
    targets.push(...targetsOf(section, spec.goals))
  }
  return { sections: results, targets, problems }
}

/** Ratios to the reference at the same size, or to the same implementation at the first size. */
const withRatios = (rows: ReadonlyArray<Row>, reference: Implementation | undefined): Array<Row> =>
  rows.map((row) => {
    const base = reference === undefined
      ? rows.find((other) => other.implementation === row.implementation)
      : rows.find((other) => other.size === row.size && other.implementation === reference.name)
    return base === undefined || base === row ? row : { ...row, ratio: row.median / base.median }
  })

/** Targets hold at 1 000 and 100 000 (callers, calls, keys); a quick run checks its largest size instead. */
const targetSizes = (section: Section): ReadonlyArray<number> => {
  const sizes = [...new Set(section.rows.map((row) => row.size))]
  const large = sizes.filter((size) => size >= 1_000)
  return large.length > 0 ? large : [Math.max(...sizes)]
}

const targetsOf = (section: Section, goals: ReadonlyArray<Goal>): Array<Target> =>
  goals.flatMap((goal) =>
    targetSizes(section).flatMap((size) => {
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
