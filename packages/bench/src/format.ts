/**
 * The report: its data (what `--line` prints), its markdown and its charts.
 * Each producer (`pnpm bench`, `pnpm bench:http`) rewrites only its own parts
 * of docs/benchmarks.md, between markers.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import type { Described, Role } from "./line.js"

/** One measured cell: an implementation in a scenario at a size. */
export interface Row {
  readonly scenario: string
  readonly size: number
  readonly implementation: string
  readonly role: Role
  /** The median of the samples, in `unit` ("ms/run", "µs/call", "B/waiter", "µs"…). */
  readonly median: number
  readonly unit: string
  readonly samples: number
  /** `median` over the median of the section's reference (absent on the reference row). */
  readonly ratio?: number
  /** How many times the work ran per run, as "min" or "min–max" over the runs. */
  readonly executions?: string
  readonly correct?: boolean
  /** The figures of a "list" section's row, by column (p50, p99, requests/s…). */
  readonly figures?: Readonly<Record<string, number>>
  readonly note?: string | undefined
}

/** One scenario: a table in the markdown and, for a "matrix", a panel in the chart. */
export interface Section {
  readonly id: string
  readonly title: string
  readonly description: string
  /** What `size` counts ("callers", "keys in flight"…). */
  readonly sizeLabel: string
  /** What ratios are taken against. */
  readonly reference?: string
  /** "matrix" (default): implementations down, sizes across; "list": one line a row (Redis, HTTP). */
  readonly layout?: "matrix" | "list"
  readonly rows: ReadonlyArray<Row>
}

export interface Target {
  readonly label: string
  readonly measured: string
  readonly limit: string
  readonly met: boolean
}

export interface Report {
  /** "effect 3", "effect 4". */
  readonly line: string
  readonly date: string
  readonly mode: "full" | "quick"
  readonly machine: ReadonlyArray<readonly [string, string]>
  readonly implementations: ReadonlyArray<Described>
  readonly sections: ReadonlyArray<Section>
  readonly targets: ReadonlyArray<Target>
  readonly notes: ReadonlyArray<string>
}

export const formatSize = (size: number): string => size.toLocaleString("en-US").replace(/,/g, " ")

export const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  const digits = Number.isInteger(value) || value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    .replace(/,/g, " ")
}

export const formatRatio = (ratio: number): string => `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}×`

const escape = (text: string): string => text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A markdown table; a header that starts with a space is right-aligned. */
const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.map((cell) => cell.trim()).join(" | ")} |`,
    `|${header.map((cell) => (cell.startsWith(" ") ? "--:" : "---")).join("|")}|`,
    ...rows.map((cells) => `| ${cells.join(" | ")} |`)
  ].join("\n")

const nameCell = (row: Row): string =>
  row.role === "subject" ? `**${escape(row.implementation)}**` : escape(row.implementation)

const distinct = <A>(values: ReadonlyArray<A>): Array<A> => [...new Set(values)]

/** A "matrix" section: implementations down, sizes across, "median (ratio×)" in each cell. */
const matrixTable = (section: Section): string => {
  const sizes = distinct(section.rows.map((row) => row.size))
  const body = distinct(section.rows.map((row) => row.implementation)).map((name) => {
    const rows = section.rows.filter((row) => row.implementation === name)
    const cells = sizes.map((size) => rows.find((row) => row.size === size)).map((row) =>
      row === undefined
        ? ""
        : `${formatNumber(row.median)} (${formatRatio(row.ratio ?? 1)})${
          row.correct === false ? " ⚠ wrong results" : ""
        }`
    )
    return [
      nameCell(rows[0]!),
      ...cells,
      rows.map((row) => row.executions).join(" / "),
      rows.map((row) => row.samples).join(" / ")
    ]
  })
  return `Cells: median ${section.rows[0]?.unit ?? ""} (ratio to ${escape(section.reference ?? "the reference")}). ` +
    "Executions: how many times the work ran per run. Samples: timed runs (or measures) per cell.\n\n" +
    table([
      "implementation",
      ...sizes.map((size) => ` ${formatSize(size)} ${section.sizeLabel}`),
      " executions",
      " samples"
    ], body)
}

/** A "list" section: one line a row, its figures, and its note where any row has one. */
const listTable = (section: Section): string => {
  const columns = distinct(section.rows.flatMap((row) => Object.keys(row.figures ?? {})))
  const notes = section.rows.some((row) => row.note !== undefined) ? ["note"] : []
  return table(
    ["scenario", "implementation", ...columns.map((column) => ` ${escape(column)}`), ...notes],
    section.rows.map((row) => [
      escape(row.scenario),
      nameCell(row),
      ...columns.map((column) => formatNumber(row.figures?.[column] ?? Number.NaN)),
      ...notes.map(() => escape(row.note ?? ""))
    ])
  )
}

export const sectionMarkdown = (section: Section): string =>
  [`### ${section.title}`, section.description, section.layout === "list" ? listTable(section) : matrixTable(section)]
    .join("\n\n")

/** A line's part of docs/benchmarks.md: three lines for a newcomer, then targets, method, semantics and results. */
export const lineMarkdown = (report: Report, heading: string, chart: string): string => {
  const peers = new Set(report.implementations.filter((one) => one.role === "peer").map((one) => one.name))
  const peerTargets = report.targets.filter((target) => [...peers].some((peer) => target.label.endsWith(`vs ${peer}`)))
  const met = (targets: ReadonlyArray<Target>) => targets.filter((target) => target.met).length
  return [
    heading,
    `What is measured: how long callers take to get a value through effect-singleflight on ${report.line}, and how ` +
    "many bytes they hold while they wait, against the other ways an Effect user could coalesce calls (the peers) " +
    "and against floors made of bare Effect primitives (the limits), all in one process and one run.",
    `Where it stands: ${met(peerTargets)} of ${peerTargets.length} targets against the peers met, ` +
    `${met(report.targets)} of ${report.targets.length} targets in all (see Targets for each one).`,
    "What the figures mean: a ratio is our figure divided by the other's in the same run, so below 1× we are faster " +
    "(or smaller) and above 1× slower; absolute times depend on the machine, ratios much less.",
    `Generated ${report.date} (${report.mode} run).`,
    table(["", ""], report.machine.map(([key, value]) => [escape(key), escape(value)])),
    "### Targets",
    table(
      ["target", " measured", " limit", ""],
      report.targets.map((
        { label, limit, measured, met }
      ) => [escape(label), measured, limit, met ? "met" : "**missed**"])
    ),
    `![ratios to the references](${chart})`,
    "### Method",
    report.notes.map((note) => `- ${note}`).join("\n"),
    "### Limits and peers",
    "Speed is only comparable where the semantics are: what each one does differently.",
    report.implementations.map(({ name, role, semantics }) => `- **${name} (${role})**: ${semantics}`).join("\n"),
    "### Results",
    ...report.sections.map(sectionMarkdown)
  ].join("\n\n") + "\n"
}

const xml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const colors = ["#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#be185d"]

/** One panel per section, one bar per row: its ratio, on a log scale from 1×. */
export const renderChart = (report: Report): string => {
  const subtitle = `${report.line}, ${report.date.slice(0, 10)}, ${report.mode} run`
  const charted = report.sections.filter((section) => section.rows.some((row) => row.ratio !== undefined))
  const names = [...new Set(charted.flatMap((section) => section.rows.map((row) => row.implementation)))]
  // the label column fits the longest name, at about 6 px a character of 10 px Helvetica
  const left = 26 + Math.ceil(6 * Math.max(0, ...names.map((name) => name.length)))
  const [right, width] = [left + 560, left + 630]
  const peerColor = (row: Row) => colors[names.indexOf(row.implementation) % colors.length]!
  const colorOf = (row: Row) => row.role === "peer" ? peerColor(row) : row.role === "subject" ? "#1d4ed8" : "#9ca3af"
  const parts = [
    `<text x="16" y="28" font-size="18" font-weight="bold">effect-singleflight: ratios to the references of the same run</text>`,
    `<text x="16" y="46" font-size="12" fill="#4b5563">${xml(subtitle)}; log scale, left of 1× is cheaper</text>`
  ]
  let y = 70
  for (const section of charted) {
    const rows = section.rows.flatMap((row) => row.ratio === undefined ? [] : [{ ...row, ratio: row.ratio }])
    const low = Math.log(Math.min(0.5, ...rows.map((row) => row.ratio)))
    const high = Math.log(Math.max(2, ...rows.map((row) => row.ratio)))
    const x = (ratio: number) => left + ((Math.log(ratio) - low) / (high - low)) * (right - left)
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
        const [from, to] = [x(1), x(row.ratio)]
        const bold = row.role === "subject" ? ` font-weight="bold"` : ""
        parts.push(
          `<text x="${left - 10}" y="${y}" font-size="10" text-anchor="end"${bold}>${xml(row.implementation)}</text>`,
          `<rect x="${Math.min(from, to).toFixed(1)}" y="${y - 10}" width="${
            Math.max(1, Math.abs(to - from)).toFixed(1)
          }" height="11" fill="${colorOf(row)}"/>`,
          `<text x="${(Math.max(from, to) + 4).toFixed(1)}" y="${y}" font-size="10"${bold}>${
            formatRatio(row.ratio)
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

const docs = new URL("../../../docs/", import.meta.url)
const markdownFile = new URL("benchmarks.md", docs)
/** The parts of docs/benchmarks.md, in order: `pnpm bench` writes all but the last, `pnpm bench:http` the last. */
const partOrder = ["effect3", "effect4", "comparison", "redis", "http"]

/** The markdown with `part` replaced by `content`, keeping every other known part. */
export const replacePart = (markdown: string, part: string, content: string): string => {
  const parts = new Map<string, string>()
  for (const match of markdown.matchAll(/<!-- part:([\w-]+):start -->\n([\s\S]*?)<!-- part:\1:end -->/g)) {
    parts.set(match[1]!, match[2]!)
  }
  parts.set(part, content.endsWith("\n") ? content : `${content}\n`)
  return [
    "# Benchmarks",
    "",
    "<!-- Generated by packages/bench: `pnpm bench` writes the parts of both lines, `pnpm bench:http` the HTTP part. -->",
    "<!-- Do not edit by hand: the next run rewrites its part. -->",
    ...partOrder.filter((name) => parts.has(name)).map((name) =>
      `\n<!-- part:${name}:start -->\n${parts.get(name)}<!-- part:${name}:end -->`
    )
  ].join("\n") + "\n"
}

/** Writes `content` as the part `part` of docs/benchmarks.md, and logs it. */
export const writePart = (part: string, content: string): void => {
  mkdirSync(docs, { recursive: true })
  const current = existsSync(markdownFile) ? readFileSync(markdownFile, "utf8") : ""
  writeFileSync(markdownFile, replacePart(current, part, content))
  process.stderr.write(`wrote the ${part} part of ${markdownFile.pathname}\n`)
}

/** Writes a line's chart as docs/`name`. */
export const writeChart = (name: string, report: Report): void =>
  writeFileSync(new URL(name, docs), renderChart(report))

/**
 * The two lines side by side: the subject's own figures on each runtime, and where each stands against the
 * reference of its own run.
 */
export const comparisonMarkdown = (effect3: Report, effect4: Report): string => {
  const met = (report: Report) => `${report.targets.filter((target) => target.met).length} of ${report.targets.length}`
  const subjectOf = (report: Report, id: string, size: number) =>
    report.sections.find((section) => section.id === id)?.rows.find((row) =>
      row.role === "subject" && row.size === size
    )
  const rows = effect3.sections.flatMap((section) =>
    distinct(section.rows.map((row) => row.size)).flatMap((size) => {
      const [three, four] = [subjectOf(effect3, section.id, size), subjectOf(effect4, section.id, size)]
      if (three === undefined || four === undefined) return []
      const ratio = (row: Row) => row.ratio === undefined ? "" : formatRatio(row.ratio)
      return [[
        escape(section.title),
        `${formatSize(size)} ${section.sizeLabel}`,
        `${formatNumber(three.median)} ${three.unit}`,
        `${formatNumber(four.median)} ${four.unit}`,
        formatRatio(four.median / three.median),
        ratio(three),
        ratio(four)
      ]]
    })
  )
  return [
    "## Effect 3 and effect 4",
    "Each line is measured against its own peers and limits, on its own runtime (effect 3 on Node.js " +
    `${effect3.machine.find(([key]) => key === "Node.js")?.[1] ?? "?"}, effect 4 on ` +
    `${effect4.machine.find(([key]) => key === "Node.js")?.[1] ?? "?"}), with the same scenarios and plan, one ` +
    "after the other in one `pnpm bench`. Across lines, times compare the runtimes as much as the libraries; each " +
    "line's ratio to its own reference says how the library stands where its users are.",
    `Targets met: effect 3 ${met(effect3)}, effect 4 ${met(effect4)}.`,
    table(
      [
        "scenario",
        "size",
        " effect 3",
        " effect 4",
        " effect 4 ÷ effect 3",
        " effect 3 ÷ its reference",
        " effect 4 ÷ its reference"
      ],
      rows
    )
  ].join("\n\n") + "\n"
}
