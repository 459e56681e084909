import { describe, expect, it } from "@effect/vitest"
import { line } from "../src/effect3.js"
import { lineMarkdown, renderChart } from "../src/format.js"
import type { Line } from "../src/line.js"
import { measureRedis } from "../src/redis.js"
import { quickPlan, runBench } from "../src/suite.js"
import type { Plan } from "../src/suite.js"

/** Smaller than `--quick`: enough to run every scenario, implementation and check once or twice. */
const tinyPlan: Plan = {
  ...quickPlan,
  sizes: [10, 49],
  scaleCalls: 10,
  memoryCounts: [50],
  sampling: () => ({ rounds: 1, iterations: 2, time: 0, warmupIterations: 0 })
}

describe("the benchmark harness", () => {
  it("runs every scenario for every implementation, and they all return the same results", async () => {
    const { problems, report } = await runBench(line, tinyPlan, () => {})

    // plain data: what `--line` prints is the report itself
    expect(JSON.parse(JSON.stringify(report))).toStrictEqual(report)
    expect(problems).toEqual([])
    expect(report.sections.map((section) => section.id)).toEqual(
      ["hot", "distinct", "mixed", "sequential", "observability", "scale", "memory-waiters", "memory-keys"]
    )
    for (const section of report.sections) {
      const implementations = new Set(section.rows.map((row) => row.implementation))
      const sizes = new Set(section.rows.map((row) => row.size))
      expect(section.rows.length, section.id).toBe(implementations.size * sizes.size)
      expect(implementations.has("effect-singleflight"), section.id).toBe(true)
      for (const size of sizes) {
        // each row is checked against the values its callers should get: every implementation got the same
        for (const row of section.rows.filter((row) => row.size === size)) {
          const cell = `${section.id} ${size} ${row.implementation}: ${row.median}`
          expect(row.correct, cell).toBe(true)
          expect(row.samples, cell).toBeGreaterThan(0)
          // a heap delta over a few tiny runs can come out at or below zero (a collection in between)
          expect(section.id.startsWith("memory") ? Number.isFinite(row.median) : row.median > 0, cell).toBe(true)
        }
      }
    }

    // effect-singleflight, and the original design's registry, run the work exactly once per key per run
    const executions = (id: string, size: number, name = "effect-singleflight") =>
      report.sections.find((section) => section.id === id)?.rows.find((row) =>
        row.implementation.startsWith(name) && row.size === size
      )?.executions
    expect(executions("hot", 49)).toBe("1")
    expect(executions("distinct", 49)).toBe("49")
    expect(executions("mixed", 49)).toBe("7")
    expect(executions("memory-waiters", 50)).toBe("1")
    expect(executions("hot", 49, "Ref<HashMap<K, Deferred>>")).toBe("1")

    // the targets are checked at the largest size of this run, against rows of the same run
    expect(report.targets.length).toBeGreaterThan(0)
    expect(
      report.targets.filter((target) => target.label.startsWith("Hot")).every((target) => target.label.includes(" 49 "))
    )
      .toBe(true)
    // a target against a peer also gives the floor's ratio to that peer; a target against the floor does not
    const hot = report.targets.filter((target) => target.label.startsWith("Hot key"))
    expect(hot.find((target) => target.label.endsWith("vs promise-coalesce from Effect"))?.floor).toMatch(/×$/)
    expect(report.targets.find((target) => target.label.includes("bytes over"))?.floor).toBeUndefined()
    expect(renderChart(report)).toContain("<svg")
    const markdown = lineMarkdown(report, "## Effect 3", "benchmarks.svg")
    expect(markdown).toContain("### Hot key")
    expect(markdown.indexOf("What is measured")).toBeLessThan(markdown.indexOf("| target |"))
  }, 120_000)
})

describe("the checks", () => {
  it("report a caller that got another key's value, and the run fails", async () => {
    // the effect 3 line, with every caller of a concurrent run handed its value plus one
    const wrong: Line = {
      ...line,
      open: async (...args) => {
        const instance = await line.open(...args)
        return { ...instance, fork: (key, done) => instance.fork(key, (value) => done(value && value + 1)) }
      }
    }
    const { problems, report } = await runBench(wrong, tinyPlan, () => {}, ["hot"])
    expect(problems).toContain("Hot key, 10, effect-singleflight: wrong results")
    expect(report.sections[0]?.rows.every((row) => !row.correct)).toBe(true)
    expect(lineMarkdown(report, "## Effect 3", "benchmarks.svg")).toContain("⚠ wrong results")
  }, 60_000)
})

describe("the Redis scenarios", () => {
  it("measure every row over a real redis-server, each follower getting its owner's value", async () => {
    const { problems, rows } = await measureRedis(line, 2)
    expect(problems).toEqual([])
    expect(rows.map((row) => `${row.scenario}: ${row.implementation.split(" ")[0]}`)).toEqual([
      "uncontended call: effect-singleflight",
      "uncontended call: @effect-singleflight/redis",
      "follower latency after the owner finishes: effect-singleflight",
      "follower latency after the owner finishes: @effect-singleflight/redis",
      "takeover after the owner is interrupted: @effect-singleflight/redis"
    ])
    for (const row of rows) expect(row.millis.length > 0 && row.millis.every(Number.isFinite), row.scenario).toBe(true)
  }, 60_000)

  it("report a follower that ran its own work instead of getting its owner's value", async () => {
    // the follower's group is the in-memory one: it cannot see the owner's flight on Redis
    const apart: Line = { ...line, redis: () => line.redis().then((groups) => ({ ...groups, b: groups.local })) }
    const { problems } = await measureRedis(apart, 2)
    expect(problems).toHaveLength(20)
    expect(problems[0]).toMatch(/^the follower of f-redis-0 got -1, not the owner's value$/)
  }, 60_000)
})
