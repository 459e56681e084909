/**
 * Where the harness writes: docs/benchmarks.md (one part per producer, see
 * `replacePart`) and docs/benchmarks.svg.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { replacePart } from "./markdown.js"

export const docsDirectory = new URL("../../../docs/", import.meta.url)
export const markdownFile = new URL("benchmarks.md", docsDirectory)
export const chartFile = new URL("benchmarks.svg", docsDirectory)

/** The parts of docs/benchmarks.md, in order: `pnpm bench` writes the first two, `pnpm bench:http` the last. */
export const partOrder: ReadonlyArray<string> = ["in-process", "redis", "http"]

/** Rewrites one part of docs/benchmarks.md, keeping the others. */
export const writePart = (part: string, content: string): void => {
  mkdirSync(docsDirectory, { recursive: true })
  let current = ""
  try {
    current = readFileSync(markdownFile, "utf8")
  } catch {
    // first run: no file yet
  }
  writeFileSync(markdownFile, replacePart(current, part, content, partOrder))
}

export const writeChart = (svg: string): void => {
  mkdirSync(docsDirectory, { recursive: true })
  writeFileSync(chartFile, svg)
}
