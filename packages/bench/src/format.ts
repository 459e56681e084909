/**
 * Everything the report looks like: numbers, tables, the chart, and the parts
 * of docs/benchmarks.md. Each producer (`pnpm bench`, `pnpm bench:http`)
 * rewrites only its own part of the file, between markers.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import type { Report, Row, Section, Target } from "./report.js"

// -----------------------------------------------------------------------------
// numbers
// -----------------------------------------------------------------------------

export const formatSize = (size: number): string => size.toLocaleString("en-US").replace(/,/g, " ")

export const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  const digits = Number.isInteger(value) || value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    .replace(/,/g, " ")
}

export const formatRatio = (ratio: number): string => `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}×`

/** "3" when every run ran the work 3 times, "3–5" otherwise. */
export const formatRange = (values: Iterable<number>): string => {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return "–"
  return sorted[0] === sorted[sorted.length - 1] ? `${sorted[0]}` : `${sorted[0]}–${sorted[sorted.length - 1]}`
}

// -----------------------------------------------------------------------------
// markdown tables
// -----------------------------------------------------------------------------

const escape = (text: string): string => text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const table = (
  header: ReadonlyArray<string>,
  align: ReadonlyArray<boolean>,
  rows: ReadonlyArray<ReadonlyArray<string>>
) =>
  [
    `| ${header.join(" | ")} |`,
    `|${align.map((right) => (right ? "--:" : "---")).join("|")}|`,
    ...rows.map((cells) => `| ${cells.join(" | ")} |`)
  ].join("\n")

const nameCell = (
  row: Row
): string => (row.role === "subject" ? `**${escape(row.implementation)}**` : escape(row.implementation))

/** A "matrix" section: implementations down, sizes across, "median (ratio×)" in each cell. */
export const sectionTable = (section: Section): string => {
  const sizes = [...new Set(section.rows.map((row) => row.size))]
  const names = [...new Set(section.rows.map((row) => row.implementation))]
  const unit = section.rows[0]?.unit ?? ""
  const body = names.map((name) => {
    const rows = sizes.map((size) => section.rows.find((row) => row.implementation === name && row.size === size))
    const cells = rows.map((row) =>
      row === undefined
        ? ""
        : `${formatNumber(row.median)} (${row.ratio === undefined ? "1.00×" : formatRatio(row.ratio)})${
          row.correct === false ? " ⚠ wrong results" : ""
        }`
    )
    const joined = (pick: (row: Row) => string | number | undefined) =>
      rows.map((row) => (row && pick(row)) ?? "").join(" / ")
    return [
      nameCell(rows.find((row) => row !== undefined)!),
      ...cells,
      joined((row) => row.executions),
      joined((row) => row.samples)
    ]
  })
  return [
    `### ${section.title}`,
    "",
    section.description,
    "",
    `Cells: median ${unit} (ratio to ${
      escape(section.reference ?? "the reference")
    }). Executions: how many times the ` +
    "work ran per run. Samples: timed runs (or measures) per cell.",
    "",
    table(
      ["implementation", ...sizes.map((size) => `${formatSize(size)} ${section.sizeLabel}`), "executions", "samples"],
      [false, ...sizes.map(() => true), true, true],
      body
    )
  ].join("\n")
}

/** A "list" section (Redis, HTTP): one line a row, with its p99, extra figures and note. */
export const listTable = (section: Section): string => {
  const unit = section.rows[0]?.unit ?? ""
  const extras = [...new Set(section.rows.flatMap((row) => Object.keys(row.extra ?? {})))]
  const hasP99 = section.rows.some((row) => row.p99 !== undefined)
  const hasNote = section.rows.some((row) => row.note !== undefined)
  const header = ["scenario", "implementation", `median (${unit})`, ...(hasP99 ? [`p99 (${unit})`] : []), ...extras]
  const body = section.rows.map((row) => [
    escape(row.scenario),
    nameCell(row),
    formatNumber(row.median),
    ...(hasP99 ? [row.p99 === undefined ? "" : formatNumber(row.p99)] : []),
    ...extras.map((name) => (row.extra?.[name] === undefined ? "" : formatNumber(row.extra[name]))),
    ...(hasNote ? [escape(row.note ?? "")] : [])
  ])
  return [
    `### ${section.title}`,
    "",
    section.description,
    "",
    table(
      [...header, ...(hasNote ? ["note"] : [])].map(escape),
      [false, false, ...header.slice(2).map(() => true), ...(hasNote ? [false] : [])],
      body
    )
  ].join("\n")
}

const targetsTable = (targets: ReadonlyArray<Target>): string =>
  table(
    ["target", "measured", "limit", ""],
    [false, true, true, false],
    targets.map((target) => [escape(target.label), target.measured, target.limit, target.met ? "met" : "**missed**"])
  )

// -----------------------------------------------------------------------------
// the in-process part
// -----------------------------------------------------------------------------

/** Three lines for a newcomer, before any table: what is measured, where we stand, what the figures mean. */
export const summaryLines = (report: Report): Array<string> => {
  const met = report.targets.filter((target) => target.met).length
  const peers = new Set(
    report.sections.flatMap((section) =>
      section.rows.filter((row) => row.role === "peer").map((row) => row.implementation)
    )
  )
  const peerTargets = report.targets.filter((target) => [...peers].some((peer) => target.label.endsWith(`vs ${peer}`)))
  return [
    "What is measured: how long callers take to get a value through effect-singleflight, and how many bytes they " +
    "hold while they wait, against the other ways an Effect user could coalesce calls (the peers) and against floors " +
    "made of bare Effect primitives (the limits), all in one process and one run.",
    `Where it stands: ${peerTargets.filter((target) => target.met).length} of ${peerTargets.length} targets against ` +
    `the peers met, ${met} of ${report.targets.length} targets in all (see Targets for each one).`,
    "What the figures mean: a ratio is our figure divided by the other's in the same run, so below 1× we are faster " +
    "(or smaller) and above 1× slower; absolute times depend on the machine, ratios much less."
  ]
}

export const inProcessMarkdown = (
  report: Report,
  chartFile: string,
  peers: ReadonlyArray<readonly [string, string]>
): string =>
  [
    "## In-process: `pnpm bench`",
    "",
    ...summaryLines(report).flatMap((line) => [line, ""]),
    `Generated ${report.date} (${report.mode} run). Every figure below comes from this one run; ratios are to rows ` +
    "measured in the same run, because absolute times on a shared 2-core machine mean little.",
    "",
    table(["", ""], [false, false], report.machine.map(([key, value]) => [escape(key), escape(value)])),
    "",
    "### Targets",
    "",
    targetsTable(report.targets),
    "",
    `![ratios to the references](${chartFile})`,
    "",
    "### Method",
    "",
    ...report.notes.map((note) => `- ${note}`),
    "",
    "### Limits and peers",
    "",
    "Speed is only comparable where the semantics are: what each one does differently.",
    "",
    ...peers.map(([name, semantics]) => `- **${name}**: ${semantics}`),
    "",
    "### Results",
    "",
    ...report.sections.filter((section) => section.layout !== "list").flatMap((section) => [sectionTable(section), ""])
  ].join("\n")

// -----------------------------------------------------------------------------
// the chart: one panel per section, one bar per row, its ratio on a log scale from 1×
// -----------------------------------------------------------------------------

const xml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const colors = ["#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#be185d"]

export const renderChart = (sections: ReadonlyArray<Section>, subtitle: string): string => {
  const width = 980
  const [left, right] = [350, width - 70]
  const charted = sections.filter((section) =>
    section.layout !== "list" && section.rows.some((row) => row.ratio !== undefined)
  )
  const names = [...new Set(charted.flatMap((section) => section.rows.map((row) => row.implementation)))]
  const colorOf = (row: Row) =>
    row.role === "subject"
      ? "#1d4ed8"
      : row.role === "limit"
      ? "#9ca3af"
      : colors[names.indexOf(row.implementation) % colors.length]!
  const parts = [
    `<text x="16" y="28" font-size="18" font-weight="bold">effect-singleflight: ratios to the references of the same run</text>`,
    `<text x="16" y="46" font-size="12" fill="#4b5563">${xml(subtitle)}; log scale, left of 1× is cheaper</text>`
  ]
  let y = 70
  for (const section of charted) {
    const rows = section.rows.filter((row) => row.ratio !== undefined)
    const ratios = rows.map((row) => row.ratio!)
    const low = Math.min(0.5, ...ratios)
    const high = Math.max(2, ...ratios)
    const x = (ratio: number) =>
      left + ((Math.log(ratio) - Math.log(low)) / (Math.log(high) - Math.log(low))) * (right - left)
    parts.push(
      `<text x="16" y="${y}" font-size="14" font-weight="bold">${xml(section.title)} (ratio to ${
        xml(section.reference ?? "")
      })</text>`
    )
    const top = y + 8
    for (const size of new Set(rows.map((row) => row.size))) {
      y += 18
      parts.push(
        `<text x="16" y="${y}" font-size="11" font-weight="bold">${formatSize(size)} ${xml(section.sizeLabel)}</text>`
      )
      for (const row of rows.filter((row) => row.size === size)) {
        y += 14
        const [from, to] = [x(1), x(row.ratio!)]
        const bold = row.role === "subject" ? ` font-weight="bold"` : ""
        parts.push(
          `<text x="${left - 10}" y="${y}" font-size="10" text-anchor="end"${bold}>${xml(row.implementation)}</text>`,
          `<rect x="${Math.min(from, to).toFixed(1)}" y="${y - 10}" width="${
            Math.max(1, Math.abs(to - from)).toFixed(1)
          }" height="11" fill="${colorOf(row)}"/>`,
          `<text x="${(Math.max(from, to) + 4).toFixed(1)}" y="${y}" font-size="10"${bold}>${
            formatRatio(row.ratio!)
          }</text>`
        )
      }
    }
    parts.push(`<line x1="${x(1).toFixed(1)}" y1="${top}" x2="${x(1).toFixed(1)}" y2="${y + 4}" stroke="#111827"/>`)
    y += 34
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${y}" fill="#ffffff"/>`,
    ...parts,
    "</svg>",
    ""
  ].join("\n")
}

// -----------------------------------------------------------------------------
// docs/benchmarks.md and docs/benchmarks.svg
// -----------------------------------------------------------------------------

const docs = new URL("../../../docs/", import.meta.url)
export const markdownFile = new URL("benchmarks.md", docs)
export const chartFile = new URL("benchmarks.svg", docs)
/** The parts of docs/benchmarks.md, in order: `pnpm bench` writes the first two, `pnpm bench:http` the last. */
const partOrder = ["in-process", "redis", "http"]

const header = [
  "# Benchmarks",
  "",
  "<!-- Generated by packages/bench: `pnpm bench` writes the in-process part, `pnpm bench:http` the HTTP part. -->",
  "<!-- Do not edit by hand: the next run rewrites its part. -->",
  ""
].join("\n")

/** The markdown with `part` replaced by `content` (appended when it is missing), keeping every other part. */
export const replacePart = (markdown: string, part: string, content: string, order = partOrder): string => {
  const parts = new Map<string, string>()
  for (const match of markdown.matchAll(/<!-- part:([\w-]+):start -->\n([\s\S]*?)<!-- part:\1:end -->/g)) {
    parts.set(match[1]!, match[2]!)
  }
  parts.set(part, content.endsWith("\n") ? content : `${content}\n`)
  const names = [
    ...order.filter((name) => parts.has(name)),
    ...[...parts.keys()].filter((name) => !order.includes(name))
  ]
  return header +
    names.map((name) => `\n<!-- part:${name}:start -->\n${parts.get(name)}<!-- part:${name}:end -->\n`).join("")
}

export const writePart = (part: string, content: string): void => {
  mkdirSync(docs, { recursive: true })
  let current = ""
  try {
    current = readFileSync(markdownFile, "utf8")
  } catch {
    // first run: no file yet
  }
  writeFileSync(markdownFile, replacePart(current, part, content))
}

export const writeChart = (svg: string): void => {
  mkdirSync(docs, { recursive: true })
  writeFileSync(chartFile, svg)
}
