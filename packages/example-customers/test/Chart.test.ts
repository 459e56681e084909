import { Chart, Load } from "@effect-singleflight/example-customers"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr } from "effect"

describe("Chart", () => {
  it("percentile is the nearest rank: the smallest value with p % of the values at or below it", () => {
    const values = Arr.range(1, 200).reverse()
    expect([50, 95, 99, 100].map((p) => Chart.percentile(values, p))).toEqual([100, 190, 198, 200])
    expect(Chart.percentile([], 99)).toBe(0)
  })

  it("the histogram puts each latency in one bucket (edges go up), and keeps only the rows from first to last used", () => {
    const rows = Chart.histogram([
      { label: "a", latencies: [10, 31.9, 32, 128, 129, 300], note: "" },
      { label: "b", latencies: [127.9], note: "" }
    ])
    expect(rows.map((row) => row.bucket.label)).toEqual([
      "< 32 ms",
      "32–64 ms",
      "64–128 ms",
      "128–256 ms",
      "256–512 ms"
    ])
    expect(rows.map((row) => row.shares)).toEqual([[2 / 6, 0], [1 / 6, 0], [0, 1], [2 / 6, 0], [1 / 6, 0]])
  })

  it("the text chart has a column per series, a bar and a share per used bucket, and a dot for none", () => {
    const text = Chart.renderText([
      { label: "slow", latencies: [600, 700, 800, 900], note: "" },
      { label: "fast", latencies: [130, 140, 150, 600], note: "" }
    ], 8)
    expect(text.split("\n")).toEqual([
      "             slow            fast",
      " 128–256 ms  ·               ██████ 75%",
      " 256–512 ms  ·               ·",
      "512–1024 ms  ████████ 100%   ██ 25%"
    ])
  })

  it("the SVG shows each series' label and note, each used bucket and each share", () => {
    const svg = Chart.renderSvg(
      [{ label: "no singleflight", latencies: [700, 701], note: "2 queries, p99 701 ms" }],
      "title & co",
      ["one line", "another"]
    )
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    for (
      const part of ["title &amp; co", "no singleflight", "2 queries, p99 701 ms", "512–1024 ms", "100%", "another"]
    ) {
      expect(svg).toContain(part)
    }
  })
})

describe("Load.parseMetrics", () => {
  it("sums each metric's samples over their labels and skips comments", () => {
    const metrics = Load.parseMetrics([
      "# HELP singleflight_calls_total Calls",
      "# TYPE singleflight_calls_total counter",
      "singleflight_calls_total{singleflight_group=\"default\",otel_scope_name=\"x\"} 30",
      "singleflight_calls_total{singleflight_group=\"http.server\"} 12",
      "customers_db_queries_total 3",
      ""
    ].join("\n"))
    expect(Object.fromEntries(metrics)).toEqual({ singleflight_calls_total: 42, customers_db_queries_total: 3 })
  })
})
