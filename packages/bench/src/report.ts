/**
 * The report's data model, also the contract of extra sections (Redis, HTTP):
 * a module that produces a `Section` plugs into the markdown, the chart and
 * `--json` as is.
 */

/** One measured cell: an implementation in a scenario at a size. */
export interface Row {
  readonly scenario: string
  readonly size: number
  readonly implementation: string
  readonly role: "subject" | "limit" | "peer"
  /** The median of the samples, in `unit` ("ms/run", "µs/call", "B/waiter", "req/s"…). */
  readonly median: number
  readonly unit: string
  readonly samples: number
  /** `median` over the median of the section's reference (absent on the reference row). */
  readonly ratio?: number
  /** How many times the work ran per run, as "min" or "min–max" over the runs. */
  readonly executions?: string
  /** The sums of the values the callers got per run: equal across implementations. */
  readonly results?: string
  /** Whether every caller got the value of its key in every run. */
  readonly correct?: boolean
  readonly p99?: number
  /** More figures of the same run, shown as columns of a "list" section (requests/s, database queries). */
  readonly extra?: Readonly<Record<string, number>>
  readonly note?: string
}

/** One scenario: a table in the markdown, a panel in the chart. */
export interface Section {
  readonly id: string
  readonly title: string
  readonly description: string
  /** What `size` counts ("callers", "keys in flight"…). */
  readonly sizeLabel: string
  /** What ratios are taken against. */
  readonly reference?: string
  /** "matrix" (default): implementations down, sizes across, charted; "list": one line a row (HTTP, Redis). */
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
  readonly title: string
  readonly date: string
  readonly mode: "full" | "quick"
  readonly machine: ReadonlyArray<readonly [string, string]>
  readonly sections: ReadonlyArray<Section>
  readonly targets: ReadonlyArray<Target>
  readonly notes: ReadonlyArray<string>
}
