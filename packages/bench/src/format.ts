/**
 * The report: its data (what `--line` prints), its markdown and its chart.
 */
import type { Described, Role } from "./line.js"
import type { RedisSamples } from "./redis.js"

/** One measured cell: an implementation in a scenario at a size. */
export interface Row {
  readonly size: number
  readonly implementation: string
  readonly role: Role
  /** The median of the samples, in `unit` ("ms/run", "µs/call", "B/waiter"…). */
  readonly median: number
  readonly unit: string
  readonly samples: number
  /** `median` over the median of the section's reference (absent on the reference row). */
  readonly ratio?: number
  /** How many times the work ran per run, as "min" or "min–max" over the runs. */
  readonly executions: string
  readonly correct: boolean
}

/** One scenario: a table in the markdown and a panel in the chart. */
export interface Section {
  readonly id: string
  readonly title: string
  readonly description: string
  /** What `size` counts ("callers", "keys in flight"…), and what ratios are taken against. */
  readonly sizeLabel: string
  readonly reference: string
  readonly rows: ReadonlyArray<Row>
}

export interface Target {
  readonly label: string
  readonly measured: string
  readonly limit: string
  readonly met: boolean
  /** The same ratio for the section's floor, where that is another implementation. */
  readonly floor?: string
}

export interface Report {
  readonly line: "effect 3" | "effect 4"
  readonly date: string
  readonly mode: "full" | "quick"
  readonly machine: ReadonlyArray<readonly [string, string]>
  readonly implementations: ReadonlyArray<Described>
  readonly sections: ReadonlyArray<Section>
  readonly targets: ReadonlyArray<Target>
  readonly notes: ReadonlyArray<string>
}

export const formatSize = (size: number): string => size.toLocaleString("en-US").replace(/,/g, " ")

const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  const digits = Number.isInteger(value) || value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    .replace(/,/g, " ")
}

export const formatRatio = (ratio: number): string => `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}×`

const escape = (text: string): string => text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const distinct = <A>(values: ReadonlyArray<A>): Array<A> => [...new Set(values)]
const metCount = (targets: ReadonlyArray<Target>) =>
  `${targets.filter((target) => target.met).length} of ${targets.length}`

/** A markdown table; a header that starts with a space is right-aligned. */
const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.map((cell) => cell.trim()).join(" | ")} |`,
    `|${header.map((cell) => (cell.startsWith(" ") ? "--:" : "---")).join("|")}|`,
    ...rows.map((cells) => `| ${cells.join(" | ")} |`)
  ].join("\n")

/** A section's table: implementations down, sizes across, "median (ratio×)" in each cell. */
const sectionMarkdown = ({ description, reference, rows, sizeLabel, title }: Section): string => {
  const sizes = distinct(rows.map((row) => row.size))
  const body = distinct(rows.map((row) => row.implementation)).map((name) => {
    const mine = rows.filter((row) => row.implementation === name)
    const cell = (row: Row | undefined) =>
      row === undefined ? "" : `${formatNumber(row.median)} (${formatRatio(row.ratio ?? 1)})` +
        (row.correct ? "" : " ⚠ wrong results")
    return [
      mine[0]?.role === "subject" ? `**${escape(name)}**` : escape(name),
      ...sizes.map((size) => cell(mine.find((row) => row.size === size))),
      mine.map((row) => row.executions).join(" / "),
      mine.map((row) => row.samples).join(" / ")
    ]
  })
  const header = ["implementation", ...sizes.map((size) => ` ${formatSize(size)} ${sizeLabel}`), " executions"]
  return [
    `### ${title}`,
    description,
    `Cells: median ${rows[0]?.unit ?? ""} (ratio to ${escape(reference)}). ` +
    "Executions: how many times the work ran per run. Samples: timed runs (or measures) per cell.\n\n" +
    table([...header, " samples"], body)
  ].join("\n\n")
}

/** A line's scale-out over Redis: the median and p99 of each row, in microseconds. */
export const redisMarkdown = (line: string, samples: ReadonlyArray<RedisSamples>): string => {
  const rows = samples.map(({ implementation, millis, note, scenario }) => {
    const sorted = [...millis].sort((a, b) => a - b)
    const micros = (p: number) => formatNumber(1000 * sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!)
    const described = note === undefined ? "" : escape(`${note} (${sorted.length} samples)`)
    return [escape(scenario), escape(implementation), micros(0.5), micros(0.99), described]
  })
  return `### Scale-out over Redis, ${line}\n\nA real \`redis-server\` on loopback, two groups on separate ` +
    "connections in one process, each call a root fiber of its own; latencies in microseconds, the in-memory group " +
    "next to its Redis counterpart. See docs/scale-out.md.\n\n" +
    table(["scenario", "implementation", " median (µs)", " p99 (µs)", "note"], rows)
}

/** A line's part of docs/benchmarks.md: three lines for a newcomer, then targets, method, semantics and results. */
export const lineMarkdown = (report: Report, heading: string, chart: string): string => {
  const peers = report.implementations.filter((one) => one.role === "peer").map((one) => one.name)
  const peerTargets = report.targets.filter((target) => peers.some((peer) => target.label.endsWith(`vs ${peer}`)))
  return [
    heading,
    `What is measured: how long callers take to get a value through effect-singleflight on ${report.line}, and how ` +
    "many bytes they hold while they wait, against the other ways an Effect user could coalesce calls (the peers) " +
    "and against floors made of bare Effect primitives (the limits), all in one process and one run.",
    `Where it stands: ${metCount(peerTargets)} targets against the peers met, ${metCount(report.targets)} targets in ` +
    "all (see Targets for each one).",
    "What the figures mean: a ratio is our figure divided by the other's in the same run, so below 1× we are faster " +
    "(or smaller) and above 1× slower; absolute times depend on the machine, ratios much less.",
    `Generated ${report.date} (${report.mode} run).`,
    table(["", ""], report.machine.map(([key, value]) => [escape(key), escape(value)])),
    "### Targets",
    "Floor: the same ratio for the limit of the section (Deferred awaiting for the concurrent scenarios, one fork + " +
    "join per call for the sequential ones): where the floor itself misses a target, no design built on that " +
    "primitive meets it, and the row says what the contract costs there.",
    table(
      ["target", " measured", " limit", "", " floor"],
      report.targets.map((target) => [
        escape(target.label),
        target.measured,
        target.limit,
        target.met ? "met" : "**missed**",
        target.floor ?? ""
      ])
    ),
    `![ratios to the references](${chart})`,
    "### Method",
    report.notes.map((note) => `- ${note}`).join("\n"),
    "### Limits and peers",
    "Speed is only comparable where the semantics are: what each one does differently.",
    report.implementations.map(({ name, role, semantics }) => `- **${name} (${role})**: ${semantics}`).join("\n"),
    "### Results",
    ...report.sections.map(sectionMarkdown)
  ].join("\n\n")
}

/** The two lines side by side: the subject's own figures on each runtime, and each one's ratio to its reference. */
export const comparisonMarkdown = (effect3: Report, effect4: Report): string => {
  const node = (report: Report) => report.machine.find(([key]) => key === "Node.js")?.[1] ?? "?"
  const subjectRows = (report: Report) =>
    report.sections.flatMap((section) =>
      section.rows.filter((row) => row.role === "subject").map((row) => ({ section, row }))
    )
  const ratio = (row: Row) => row.ratio === undefined ? "" : formatRatio(row.ratio)
  const fours = subjectRows(effect4)
  const rows = subjectRows(effect3).flatMap(({ row: three, section }) => {
    const four = fours.find((other) => other.section.id === section.id && other.row.size === three.size)
    if (four === undefined) return []
    const figures = [three, four.row].map((row) => `${formatNumber(row.median)} ${row.unit}`)
    const ratios = [formatRatio(four.row.median / three.median), ratio(three), ratio(four.row)]
    return [[escape(section.title), `${formatSize(three.size)} ${section.sizeLabel}`, ...figures, ...ratios]]
  })
  return [
    "## Effect 3 and effect 4",
    `Each line is measured against its own peers and limits, on its own runtime (effect 3 on Node.js ` +
    `${node(effect3)}, effect 4 on ${node(effect4)}), with the same scenarios and plan, one after the other in one ` +
    "`pnpm bench`. Across lines, times compare the runtimes as much as the libraries; each line's ratio to its own " +
    "reference says how the library stands where its users are.",
    `Targets met: effect 3 ${metCount(effect3.targets)}, effect 4 ${metCount(effect4.targets)}.`,
    table(
      "scenario|size| effect 3| effect 4| effect 4 ÷ effect 3| effect 3 ÷ its reference| effect 4 ÷ its reference"
        .split("|"),
      rows
    )
  ].join("\n\n")
}

const xml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const colors = ["#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#be185d"]

/** An SVG with one panel per section and one bar per row: its ratio, on a log scale from 1×. */
export const renderChart = (report: Report): string => {
  const charted = report.sections.filter((section) => section.rows.some((row) => row.ratio !== undefined))
  const names = distinct(charted.flatMap((section) => section.rows.map((row) => row.implementation)))
  // the label column fits the longest name, at about 6 px a character of 10 px Helvetica
  const left = 26 + Math.ceil(6 * Math.max(0, ...names.map((name) => name.length)))
  const [right, width] = [left + 560, left + 630]
  const text = (x: number, y: number, attributes: string, content: string) =>
    `<text x="${x}" y="${y}" ${attributes}>${xml(content)}</text>`
  const parts = [
    text(16, 28, `font-size="18" font-weight="bold"`, "effect-singleflight: ratios to the references of the same run"),
    text(
      16,
      46,
      `font-size="12" fill="#4b5563"`,
      `${report.line}, ${report.date.slice(0, 10)}, ${report.mode} run; log scale, left of 1× is cheaper`
    )
  ]
  let y = 70
  for (const section of charted) {
    const rows = section.rows.flatMap(({ ratio, ...row }) => ratio === undefined ? [] : [{ ...row, ratio }])
    const low = Math.log(Math.min(0.5, ...rows.map((row) => row.ratio)))
    const high = Math.log(Math.max(2, ...rows.map((row) => row.ratio)))
    const x = (ratio: number) => left + ((Math.log(ratio) - low) / (high - low)) * (right - left)
    parts.push(text(16, y, `font-size="14" font-weight="bold"`, `${section.title} (ratio to ${section.reference})`))
    const top = y + 8
    for (const size of distinct(rows.map((row) => row.size))) {
      parts.push(text(16, y += 18, `font-size="11" font-weight="bold"`, `${formatSize(size)} ${section.sizeLabel}`))
      for (const row of rows.filter((row) => row.size === size)) {
        const [from, to, bold] = [x(1), x(row.ratio), row.role === "subject" ? ` font-weight="bold"` : ""]
        const color = {
          subject: "#1d4ed8",
          limit: "#9ca3af",
          peer: colors[names.indexOf(row.implementation) % colors.length]
        }
        parts.push(
          text(left - 10, y += 14, `font-size="10" text-anchor="end"${bold}`, row.implementation),
          `<rect x="${Math.min(from, to).toFixed(1)}" y="${y - 10}" width="${
            Math.max(1, Math.abs(to - from)).toFixed(1)
          }" height="11" fill="${color[row.role]}"/>`,
          text(Number((Math.max(from, to) + 4).toFixed(1)), y, `font-size="10"${bold}`, formatRatio(row.ratio))
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
    "</svg>\n"
  ].join("\n")
}
