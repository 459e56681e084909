/**
 * The in-process suite: every scenario, at every size, for every
 * implementation, in one process and one run; ratios against the limits of
 * the same run; the targets checked against them.
 */
import { median, sample, settle } from "./harness.js"
import type { SamplingPlan } from "./harness.js"
import * as Impl from "./implementations.js"
import type { Implementation } from "./implementations.js"
import type { Row, Section, Target } from "./report.js"
import { concurrent, measureMemory, scale, sequential } from "./scenarios.js"
import type { ScenarioTask } from "./scenarios.js"

export interface Plan {
  readonly mode: "full" | "quick"
  /** Concurrent callers of the hot-key, distinct-keys and mixed scenarios. */
  readonly callers: ReadonlyArray<number>
  /** Calls per run of the sequential scenario. */
  readonly sequentialCalls: ReadonlyArray<number>
  /** Keys in flight of the scale scenario (the first is the baseline). */
  readonly inFlight: ReadonlyArray<number>
  /** Sequential calls per run of the scale scenario. */
  readonly scaleCalls: number
  /** Waiters, and keys, of the memory scenario. */
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
  // A run of 100 000 callers takes seconds (tens for the slowest peer): those get one round that lasts at least
  // 3 s per task, so a slow task is sampled once and a fast one several times, and the whole run stays near 10 min.
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

/** Which scenarios to run (all by default); `--only hot,memory` while profiling. */
export type ScenarioId = "hot" | "distinct" | "mixed" | "sequential" | "observability" | "scale" | "memory"
export const scenarioIds: ReadonlyArray<ScenarioId> = [
  "hot",
  "distinct",
  "mixed",
  "sequential",
  "observability",
  "scale",
  "memory"
]

export interface SuiteResult {
  readonly sections: ReadonlyArray<Section>
  readonly targets: ReadonlyArray<Target>
  /** Problems found in what callers got: any entry means an implementation returned wrong results. */
  readonly problems: ReadonlyArray<string>
}

export type Progress = (line: string) => void

const concurrentLimits = [Impl.deferredLimit, Impl.noCoalescingLimit, Impl.forkJoinLimit]
const allConcurrent: ReadonlyArray<Implementation> = [Impl.singleFlight, ...concurrentLimits, ...Impl.peers]
const allSequential: ReadonlyArray<Implementation> = [
  Impl.singleFlight,
  Impl.noCoalescingLimit,
  Impl.forkJoinLimit,
  ...Impl.peers
]
const observability: ReadonlyArray<Implementation> = [
  Impl.singleFlight,
  Impl.singleFlightUnobserved,
  Impl.singleFlightTraced
]
const allScale: ReadonlyArray<Implementation> = [Impl.singleFlight, Impl.forkJoinLimit, ...Impl.peers]
const memoryWaiters: ReadonlyArray<Implementation> = [Impl.singleFlight, Impl.deferredLimit, ...Impl.peers]
const memoryKeys: ReadonlyArray<Implementation> = [Impl.singleFlight, ...concurrentLimits, ...Impl.peers]

export const runSuite = async (
  plan: Plan,
  progress: Progress,
  only: ReadonlyArray<ScenarioId> = scenarioIds
): Promise<SuiteResult> => {
  const sections: Array<Section> = []
  const problems: Array<string> = []
  const measure = async (
    title: string,
    size: number,
    tasks: ReadonlyArray<ScenarioTask>,
    toUnit: (millisPerRun: number, task: ScenarioTask) => number,
    sampling: SamplingPlan = plan.sampling(tasks[0]?.callsPerRun ?? 1)
  ): Promise<Array<Row>> => {
    const started = Date.now()
    const samples = await sample(tasks.map((entry) => entry.task), sampling)
    progress(`${title}, ${size.toLocaleString("en-US")}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return tasks.map((entry) => {
      const taskSamples = samples.get(entry.task.id) ?? []
      for (const problem of entry.check.problems) {
        problems.push(`${title}, ${size}, ${entry.implementation.name}: ${problem}`)
      }
      return {
        scenario: title,
        size,
        implementation: entry.implementation.name,
        role: entry.implementation.role,
        median: toUnit(median(taskSamples), entry),
        unit: "",
        samples: taskSamples.length,
        executions: entry.check.executions,
        results: entry.check.results,
        correct: entry.check.correct
      }
    })
  }
  const perRun = (millis: number) => millis
  const perCall = (millis: number, task: ScenarioTask) => (millis * 1000) / task.callsPerRun

  const concurrentSection = async (
    id: ScenarioId,
    title: string,
    description: string,
    keysFor: (callers: number) => number,
    reference: Implementation,
    target: number | undefined
  ) => {
    if (!only.includes(id)) return
    const rows: Array<Row> = []
    for (const callers of plan.callers) {
      const keyCount = keysFor(callers)
      const tasks = allConcurrent.map((implementation) => concurrent(implementation, callers, keyCount))
      rows.push(...withUnit(await measure(title, callers, tasks, perRun), "ms/run"))
    }
    sections.push(withRatios({
      id,
      title,
      description,
      sizeLabel: "callers",
      reference: reference.name,
      ...(target === undefined ? {} : { target }),
      rows
    }))
  }

  await concurrentSection(
    "hot",
    "Hot key",
    "N concurrent callers on one key; the work is one macrotask (`setImmediate`) that ends after the last caller " +
      "arrived. Median time of a run of all N callers.",
    () => 1,
    Impl.deferredLimit,
    1.2
  )
  await concurrentSection(
    "distinct",
    "Distinct keys",
    "N concurrent callers on N keys (nothing to share); the work of each key is one macrotask. Median time of a run.",
    (callers) => callers,
    Impl.noCoalescingLimit,
    1.5
  )
  await concurrentSection(
    "mixed",
    "Mixed",
    "N concurrent callers on √N keys; the work of each key is one macrotask. Median time of a run.",
    (callers) => Math.max(1, Math.round(Math.sqrt(callers))),
    Impl.deferredLimit,
    undefined
  )

  const sequentialSection = async (
    id: ScenarioId,
    title: string,
    description: string,
    implementations: ReadonlyArray<Implementation>,
    reference: Implementation,
    target: number
  ) => {
    if (!only.includes(id)) return
    const rows: Array<Row> = []
    for (const calls of plan.sequentialCalls) {
      const tasks = implementations.map((implementation) => sequential(implementation, calls))
      rows.push(...withUnit(await measure(title, calls, tasks, perCall), "µs/call"))
    }
    sections.push(withRatios({
      id,
      title,
      description,
      sizeLabel: "calls per run",
      reference: reference.name,
      target,
      rows
    }))
  }

  await sequentialSection(
    "sequential",
    "Sequential uncontended calls",
    "N calls one after the other in one `Effect.runPromise`, each on a fresh key whose value is ready at once. " +
      "Median cost of one call.",
    allSequential,
    Impl.forkJoinLimit,
    1.5
  )
  await sequentialSection(
    "observability",
    "Cost of observability",
    "The sequential uncontended calls above, where the fixed cost of a call shows most: the subject as shipped " +
      "(metrics on, no tracer installed) against the same group with its metrics off, and with a tracer installed. " +
      "Median cost of one call.",
    observability,
    Impl.singleFlightUnobserved,
    1.05
  )

  if (only.includes("scale")) {
    const rows: Array<Row> = []
    for (const inFlight of plan.inFlight) {
      const tasks = allScale.map((implementation) => scale(implementation, inFlight, plan.scaleCalls))
      rows.push(
        ...withUnit(await measure("Scale", inFlight, tasks, perCall, plan.scaleSampling(inFlight)), "µs/call")
      )
    }
    sections.push(withScaleRatios({
      id: "scale",
      title: "Scale: keys already in flight",
      description: `With K keys in flight (their callers suspended), ${plan.scaleCalls} sequential calls on fresh ` +
        "keys whose value is ready at once. Median cost of one call; the ratio is to the same implementation with " +
        `${plan.inFlight[0]} keys in flight.`,
      sizeLabel: "keys in flight",
      reference: `itself at ${plan.inFlight[0]} keys in flight`,
      target: 1.3,
      rows
    }))
  }

  if (only.includes("memory")) {
    for (const shape of ["waiters", "keys"] as const) {
      const rows: Array<Row> = []
      const implementations = shape === "waiters" ? memoryWaiters : memoryKeys
      for (const count of plan.memoryCounts) {
        const started = Date.now()
        for (const implementation of implementations) {
          const measures = []
          for (let repeat = 0; repeat < plan.memoryRepeats; repeat++) {
            measures.push(await measureMemory(implementation, shape, count))
            await settle()
          }
          const correct = measures.every((measure) => measure.correct)
          if (!correct) problems.push(`Memory, ${shape}, ${count}, ${implementation.name}: wrong results`)
          rows.push({
            scenario: `Memory per ${shape === "waiters" ? "waiter" : "key"}`,
            size: count,
            implementation: implementation.name,
            role: implementation.role,
            median: median(measures.map((measure) => measure.bytesPer)),
            unit: shape === "waiters" ? "B/waiter" : "B/key",
            samples: measures.length,
            executions: [...new Set(measures.map((measure) => measure.executions))].join("–"),
            results: [...new Set(measures.map((measure) => measure.results))].join(", "),
            correct
          })
        }
        progress(
          `Memory per ${shape}, ${count.toLocaleString("en-US")}: ${((Date.now() - started) / 1000).toFixed(1)} s`
        )
      }
      sections.push(withRatios({
        id: `memory-${shape}`,
        title: shape === "waiters" ? "Memory per waiter" : "Memory per key in flight",
        description: shape === "waiters"
          ? "N callers suspended on one key whose work is in flight; heap bytes after GC per caller, fibers included."
          : "N callers suspended on N keys whose work is in flight; heap bytes after GC per key, fibers included.",
        sizeLabel: shape === "waiters" ? "waiters" : "keys",
        reference: shape === "waiters" ? Impl.deferredLimit.name : Impl.noCoalescingLimit.name,
        rows
      }))
    }
  }

  return { sections, targets: targetsOf(sections, plan), problems }
}

const withUnit = (rows: ReadonlyArray<Row>, unit: string): Array<Row> => rows.map((row) => ({ ...row, unit }))

/** Ratios against the section's reference implementation at the same size. */
const withRatios = (section: Section): Section => ({
  ...section,
  rows: section.rows.map((row) => {
    if (row.implementation === section.reference) return row
    const reference = section.rows.find((other) =>
      other.size === row.size && other.implementation === section.reference
    )
    return reference === undefined ? row : { ...row, ratio: row.median / reference.median }
  })
})

/** Ratios against the same implementation at the smallest size. */
const withScaleRatios = (section: Section): Section => {
  const smallest = Math.min(...section.rows.map((row) => row.size))
  return {
    ...section,
    rows: section.rows.map((row) => {
      if (row.size === smallest) return row
      const base = section.rows.find((other) => other.size === smallest && other.implementation === row.implementation)
      return base === undefined ? row : { ...row, ratio: row.median / base.median }
    })
  }
}

// -----------------------------------------------------------------------------
// targets
// -----------------------------------------------------------------------------

const subjectRows = (section: Section | undefined): ReadonlyArray<Row> =>
  section?.rows.filter((row) => row.role === "subject") ?? []

export const formatRatio = (ratio: number): string => `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}×`

const sizeText = (size: number): string => size.toLocaleString("en-US").replace(/,/g, " ")

const targetsOf = (sections: ReadonlyArray<Section>, plan: Plan): Array<Target> => {
  const targets: Array<Target> = []
  const byId = (id: string) => sections.find((section) => section.id === id)

  for (const section of sections) {
    if (section.target === undefined) continue
    for (const row of subjectRows(section)) {
      if (row.ratio === undefined) continue
      if (section.id === "scale" && row.size !== Math.max(...plan.inFlight)) continue
      targets.push({
        label: `${section.title}, ${sizeText(row.size)} ${section.sizeLabel}: vs ${section.reference}`,
        measured: formatRatio(row.ratio),
        limit: `≤ ${section.target}×`,
        met: row.ratio <= section.target
      })
    }
  }

  for (const [id, bytes] of [["memory-waiters", 1024], ["memory-keys", 2048]] as const) {
    for (const row of subjectRows(byId(id))) {
      targets.push({
        label: `${byId(id)!.title}, ${sizeText(row.size)} ${byId(id)!.sizeLabel}`,
        measured: `${Math.round(row.median)} B`,
        limit: `≤ ${bytes} B`,
        met: row.median <= bytes
      })
    }
  }

  const peerNames = new Set(Impl.peers.map((peer) => peer.name))
  for (const section of sections) {
    const behind: Array<string> = []
    let compared = 0
    for (const row of subjectRows(section)) {
      for (
        const peer of section.rows.filter((other) => other.size === row.size && peerNames.has(other.implementation))
      ) {
        compared++
        const better = section.higherIsBetter === true ? row.median >= peer.median : row.median <= peer.median
        if (!better) {
          behind.push(`${peer.implementation} at ${sizeText(row.size)} (${formatRatio(row.median / peer.median)})`)
        }
      }
    }
    if (compared === 0) continue
    targets.push({
      label: `${section.title}: ahead of every peer`,
      measured: behind.length === 0 ? `ahead in all ${compared}` : `behind ${behind.join(", ")}`,
      limit: "ahead",
      met: behind.length === 0
    })
  }
  return targets
}
