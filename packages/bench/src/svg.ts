/**
 * docs/benchmarks.svg: one panel per charted section, one group of bars per
 * size, one bar per implementation, its ratio to the section's reference on a
 * log scale, drawn from 1× (the reference) so that a bar to the left is
 * cheaper than the reference and a bar to the right dearer. The target is a
 * dashed red line.
 */
import type { Row, Section } from "./report.js"

const width = 980
const labelWidth = 250
const plotLeft = labelWidth + 20
const plotRight = width - 70
const barHeight = 11
const barGap = 3
const groupGap = 10

const palette: Record<string, string> = {
  subject: "#1d4ed8",
  limit: "#9ca3af"
}
const peerColors = ["#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04"]

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const tickCandidates = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]

const formatTick = (value: number): string => `${value}×`

const formatRatio = (ratio: number): string => `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}×`

/** Sections worth a panel: matrix layout, with ratios. */
export const chartedSections = (sections: ReadonlyArray<Section>): ReadonlyArray<Section> =>
  sections.filter((section) => section.layout !== "list" && section.rows.some((row) => row.ratio !== undefined))

export const renderChart = (sections: ReadonlyArray<Section>, subtitle: string): string => {
  const charted = chartedSections(sections)
  const colors = new Map<string, string>()
  let nextPeer = 0
  for (const row of charted.flatMap((section) => section.rows)) {
    if (colors.has(row.implementation)) continue
    colors.set(
      row.implementation,
      row.role === "peer" ? peerColors[nextPeer++ % peerColors.length]! : palette[row.role] ?? "#6b7280"
    )
  }

  const parts: Array<string> = []
  let y = 20
  parts.push(
    `<text x="16" y="${
      y + 8
    }" font-size="18" font-weight="bold">effect-singleflight: ratios to the limits of the same run</text>`
  )
  y += 26
  parts.push(`<text x="16" y="${y}" font-size="12" fill="#4b5563">${escapeXml(subtitle)}</text>`)
  y += 20

  // legend
  let legendX = 16
  for (const [name, color] of colors) {
    const label = escapeXml(name)
    const labelLength = name.length * 6.4 + 28
    if (legendX + labelLength > width - 16) {
      legendX = 16
      y += 18
    }
    parts.push(`<rect x="${legendX}" y="${y - 9}" width="12" height="10" fill="${color}"/>`)
    parts.push(`<text x="${legendX + 16}" y="${y}" font-size="11">${label}</text>`)
    legendX += labelLength
  }
  y += 24

  for (const section of charted) {
    const panel = renderPanel(section, y, colors)
    parts.push(panel.svg)
    y = panel.bottom + 18
  }

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${y}" fill="#ffffff"/>`,
    ...parts,
    "</svg>",
    ""
  ].join("\n")
}

const renderPanel = (
  section: Section,
  top: number,
  colors: ReadonlyMap<string, string>
): { readonly svg: string; readonly bottom: number } => {
  const rows = section.rows.filter((row) => row.ratio !== undefined)
  const ratios = rows.map((row) => row.ratio!)
  if (section.target !== undefined) ratios.push(section.target)
  const low = Math.min(0.5, ...ratios)
  const high = Math.max(2, ...ratios)
  const domainLow = [...tickCandidates].reverse().find((tick) => tick <= low) ?? tickCandidates[0]!
  const domainHigh = tickCandidates.find((tick) => tick >= high) ?? tickCandidates[tickCandidates.length - 1]!
  const x = (ratio: number): number => {
    const clamped = Math.min(Math.max(ratio, domainLow), domainHigh)
    const position = (Math.log(clamped) - Math.log(domainLow)) / (Math.log(domainHigh) - Math.log(domainLow))
    return plotLeft + position * (plotRight - plotLeft)
  }

  const parts: Array<string> = []
  let y = top
  parts.push(`<text x="16" y="${y + 12}" font-size="14" font-weight="bold">${escapeXml(section.title)}</text>`)
  y += 30
  parts.push(
    `<text x="16" y="${y}" font-size="11" fill="#4b5563">ratio to ${escapeXml(section.reference ?? "the reference")}${
      section.target === undefined ? "" : `; target for effect-singleflight ≤ ${section.target}× (dashed)`
    }; log scale, left of 1× is cheaper</text>`
  )
  y += 10
  const plotTop = y

  const sizes = [...new Set(rows.map((row) => row.size))]
  const groups: Array<string> = []
  for (const size of sizes) {
    y += 14
    groups.push(
      `<text x="16" y="${y}" font-size="11" font-weight="bold" fill="#374151">${
        escapeXml(`${size.toLocaleString("en-US").replace(/,/g, " ")} ${section.sizeLabel}`)
      }</text>`
    )
    y += 4
    for (const row of rows.filter((candidate) => candidate.size === size)) {
      groups.push(renderBar(row, y, x, colors.get(row.implementation) ?? "#6b7280"))
      y += barHeight + barGap
    }
    y += groupGap - barGap
  }
  const plotBottom = y

  // grid and ticks under the bars
  for (const tick of tickCandidates.filter((tick) => tick >= domainLow && tick <= domainHigh)) {
    const tickX = x(tick).toFixed(1)
    parts.push(
      `<line x1="${tickX}" y1="${plotTop}" x2="${tickX}" y2="${plotBottom}" stroke="${
        tick === 1 ? "#111827" : "#e5e7eb"
      }" stroke-width="${tick === 1 ? 1.2 : 1}"/>`
    )
    parts.push(
      `<text x="${tickX}" y="${plotBottom + 12}" font-size="10" text-anchor="middle" fill="#6b7280">${
        formatTick(tick)
      }</text>`
    )
  }
  if (section.target !== undefined) {
    const targetX = x(section.target).toFixed(1)
    parts.push(
      `<line x1="${targetX}" y1="${plotTop}" x2="${targetX}" y2="${plotBottom}" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="5,3"/>`
    )
  }
  parts.push(...groups)
  return { svg: parts.join("\n"), bottom: plotBottom + 16 }
}

const renderBar = (row: Row, y: number, x: (ratio: number) => number, color: string): string => {
  const ratio = row.ratio!
  const from = x(1)
  const to = x(ratio)
  const left = Math.min(from, to)
  const barWidth = Math.max(1, Math.abs(to - from))
  // always right of the bar: a bar that goes left ends at 1×
  const labelX = Math.max(from, to) + 4
  const weight = row.role === "subject" ? ` font-weight="bold"` : ""
  return [
    `<text x="${labelWidth}" y="${y + barHeight - 2}" font-size="10" text-anchor="end"${weight}>${
      escapeXml(row.implementation)
    }</text>`,
    `<rect x="${left.toFixed(1)}" y="${y}" width="${barWidth.toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
    `<text x="${labelX.toFixed(1)}" y="${y + barHeight - 2}" font-size="10"${weight}>${formatRatio(ratio)}</text>`
  ].join("\n")
}
