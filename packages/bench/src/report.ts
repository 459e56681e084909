/**
 * The report's data model. Its schemas are also the contract of extra
 * sections (Redis, HTTP): a module that produces a `Section` plugs into the
 * markdown, the chart and `--json` as is.
 */
import * as Schema from "effect/Schema"

export const Role = Schema.Literal("subject", "limit", "peer")

/** One measured cell: an implementation in a scenario at a size. */
export const Row = Schema.Struct({
  scenario: Schema.String,
  size: Schema.Number,
  implementation: Schema.String,
  role: Role,
  /** The median of the samples, in `unit`. */
  median: Schema.Number,
  /** "ms/run", "µs/call", "B/waiter", "B/key", "req/s", "ms"… */
  unit: Schema.String,
  samples: Schema.Number,
  /** `median` over the median of the section's reference at the same size (absent on the reference row). */
  ratio: Schema.optionalWith(Schema.Number, { exact: true }),
  /** How many times the work ran per run, as "min" or "min–max" over the runs. */
  executions: Schema.optionalWith(Schema.String, { exact: true }),
  /** The sum of the values the callers got per run (distinct sums, comma-separated): equal across implementations. */
  results: Schema.optionalWith(Schema.String, { exact: true }),
  /** Whether every caller got the value of its key in every run. */
  correct: Schema.optionalWith(Schema.Boolean, { exact: true }),
  /** The 99th percentile of the samples, in `unit`, where it is measured. */
  p99: Schema.optionalWith(Schema.Number, { exact: true }),
  /** More figures of the same run, shown as columns of a "list" section (requests/s, database queries). */
  extra: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Number }), { exact: true }),
  note: Schema.optionalWith(Schema.String, { exact: true })
})
export type Row = typeof Row.Type

/** One scenario: a table in the markdown, a panel in the chart. */
export const Section = Schema.Struct({
  id: Schema.String,
  title: Schema.String,
  description: Schema.String,
  /** What `size` counts, for the table's header ("callers", "keys in flight"…). */
  sizeLabel: Schema.String,
  /** The implementation ratios are taken against, when there is one. */
  reference: Schema.optionalWith(Schema.String, { exact: true }),
  /** Ratios above this are a missed target (drawn as a line in the chart). */
  target: Schema.optionalWith(Schema.Number, { exact: true }),
  /** Whether a higher value is better (requests/s) rather than lower (time, bytes). */
  higherIsBetter: Schema.optionalWith(Schema.Boolean, { exact: true }),
  /**
   * "matrix" (default): implementations down, sizes across, one figure a cell, charted.
   * "list": one line a row with its p99, extra figures and note (HTTP, Redis).
   */
  layout: Schema.optionalWith(Schema.Literal("matrix", "list"), { exact: true }),
  rows: Schema.Array(Row)
})
export type Section = typeof Section.Type

export const Target = Schema.Struct({
  label: Schema.String,
  measured: Schema.String,
  limit: Schema.String,
  met: Schema.Boolean
})
export type Target = typeof Target.Type

export const Report = Schema.Struct({
  title: Schema.String,
  date: Schema.String,
  mode: Schema.Literal("full", "quick"),
  machine: Schema.Array(Schema.Tuple(Schema.String, Schema.String)),
  sections: Schema.Array(Section),
  targets: Schema.Array(Target),
  notes: Schema.Array(Schema.String)
})
export type Report = typeof Report.Type
