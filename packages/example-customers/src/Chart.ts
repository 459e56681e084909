/**
 * The demo's pictures of the latency distribution: the share of requests in
 * each latency bucket (doubling from 32 ms), one column or colour per mode,
 * as text for the terminal and as an SVG for the README.
 */
import { Array as Arr, Order } from "effect"

export interface Series {
  readonly label: string
  /** Milliseconds, one per request. */
  readonly latencies: ReadonlyArray<number>
  /** Shown next to the label in the SVG's legend. */
  readonly note: string
}

export interface Bucket {
  readonly label: string
  /** Exclusive upper bound in milliseconds. */
  readonly upTo: number
}

const edges = [32, 64, 128, 256, 512, 1024, 2048, 4096]

/** `< 32 ms`, `32–64 ms` … `2048–4096 ms`, `≥ 4096 ms`: doubling, with the round trip (128 ms) as an edge. */
export const buckets: ReadonlyArray<Bucket> = [
  { label: `< ${edges[0]} ms`, upTo: edges[0]! },
  ...edges.slice(1).map((upTo, index) => ({ label: `${edges[index]}–${upTo} ms`, upTo })),
  { label: `≥ ${edges[edges.length - 1]} ms`, upTo: Infinity }
]

/** The share (0…1) of each series' requests in each bucket, keeping only the rows from the first to the last used. */
export const histogram = (
  series: ReadonlyArray<Series>
): ReadonlyArray<{ readonly bucket: Bucket; readonly shares: ReadonlyArray<number> }> => {
  const rows = buckets.map((bucket, index) => {
    const from = index === 0 ? -Infinity : buckets[index - 1]!.upTo
    return {
      bucket,
      shares: series.map((s) =>
        s.latencies.length === 0 ? 0 : s.latencies.filter((ms) => ms >= from && ms < bucket.upTo).length /
          s.latencies.length
      )
    }
  })
  const used = rows.map((row) => row.shares.some((share) => share > 0))
  const first = used.indexOf(true)
  const last = used.lastIndexOf(true)
  return first === -1 ? [] : rows.slice(first, last + 1)
}

/** The nearest-rank percentile: the smallest value with at least p % of the values at or below it. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = Arr.sort(values, Order.number)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0
}

/** A percentage, `<1%` rather than a misleading `0%`. */
const formatShare = (share: number): string => share < 0.005 ? "<1%" : `${Math.round(share * 100)}%`

const blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]

/** A bar of `share × width` characters, in eighths. */
const bar = (share: number, width: number): string => {
  const eighths = Math.round(share * width * 8)
  return "█".repeat(Math.floor(eighths / 8)) + blocks[eighths % 8]!
}

/** The histogram as text: a row per bucket, a column per series, each cell a bar and a percentage. */
export const renderText = (series: ReadonlyArray<Series>, barWidth = 20): string => {
  const rows = histogram(series)
  const labelWidth = Math.max(...rows.map((row) => row.bucket.label.length))
  const cellWidth = Math.max(barWidth + 8, ...series.map((s) => s.label.length + 2))
  const header = " ".repeat(labelWidth + 2) + series.map((s) => s.label.padEnd(cellWidth)).join("")
  const lines = rows.map((row) =>
    `${row.bucket.label.padStart(labelWidth)}  ` +
    row.shares.map((share) => (share === 0 ? "·" : `${bar(share, barWidth)} ${formatShare(share)}`).padEnd(cellWidth))
      .join("")
  )
  return [header.trimEnd(), ...lines.map((line) => line.trimEnd())].join("\n")
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const colors = ["#9ca3af", "#1d4ed8", "#16a34a", "#ea580c"]

/** The histogram as an SVG: a group of horizontal bars per bucket, a colour per series, a legend with the notes. */
export const renderSvg = (series: ReadonlyArray<Series>, title: string, subtitle: ReadonlyArray<string>): string => {
  const rows = histogram(series)
  const width = 860
  const labelWidth = 110
  const plotLeft = labelWidth + 16
  const plotWidth = width - plotLeft - 70
  const barHeight = 12
  const groupHeight = series.length * (barHeight + 2) + 10
  const parts: Array<string> = []
  let y = 28
  parts.push(`<text x="16" y="${y}" font-size="17" font-weight="bold">${escapeXml(title)}</text>`)
  for (const line of subtitle) {
    y += 18
    parts.push(`<text x="16" y="${y}" font-size="12" fill="#4b5563">${escapeXml(line)}</text>`)
  }
  y += 22
  series.forEach((s, index) => {
    parts.push(`<rect x="16" y="${y - 10}" width="12" height="11" fill="${colors[index % colors.length]}"/>`)
    parts.push(
      `<text x="34" y="${y}" font-size="12"><tspan font-weight="bold">${escapeXml(s.label)}</tspan>: ${
        escapeXml(s.note)
      }</text>`
    )
    y += 18
  })
  y += 8
  parts.push(`<text x="${plotLeft}" y="${y}" font-size="11" fill="#4b5563">share of requests</text>`)
  y += 8
  const plotTop = y
  for (const row of rows) {
    parts.push(
      `<text x="${labelWidth}" y="${y + groupHeight / 2}" font-size="12" text-anchor="end">${
        escapeXml(row.bucket.label)
      }</text>`
    )
    row.shares.forEach((share, index) => {
      const barY = y + 4 + index * (barHeight + 2)
      const barWidth = Math.max(share > 0 ? 1 : 0, share * plotWidth)
      parts.push(
        `<rect x="${plotLeft}" y="${barY}" width="${barWidth.toFixed(1)}" height="${barHeight}" fill="${
          colors[index % colors.length]
        }"/>`
      )
      if (share > 0) {
        parts.push(
          `<text x="${(plotLeft + barWidth + 4).toFixed(1)}" y="${barY + barHeight - 2}" font-size="10">${
            escapeXml(formatShare(share))
          }</text>`
        )
      }
    })
    y += groupHeight
  }
  parts.push(
    `<line x1="${plotLeft}" y1="${plotTop}" x2="${plotLeft}" y2="${y}" stroke="#374151" stroke-width="1"/>`
  )
  const height = y + 16
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    "</svg>",
    ""
  ].join("\n")
}
