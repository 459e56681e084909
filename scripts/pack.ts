/**
 * `pnpm release:dry` (after `pnpm build`): packs every public package's `dist/` into `build/packs/<line>/` (one folder
 * per line: both publish the same names) with `npm pack`,
 * exactly what `pnpm publish` would upload, and checks each tarball: only the files a user needs (build output,
 * sources for the source maps, README, LICENSE, package.json, one folder per public module), every `exports` target
 * present, and a manifest a registry accepts (no `workspace:` ranges, no scripts, no dev dependencies).
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Line, Manifest } from "./workspace.js"
import { lines, publicModules, publicPackages, root } from "./workspace.js"

export const packsDir = (line: Line): string => Path.join(root, "build", "packs", line.name)

const tarballFiles = (tarball: string): Array<string> =>
  execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line !== "" && !line.endsWith("/"))
    .map((line) => line.replace(/^package\//, ""))
    .sort()

const tarballManifest = (tarball: string): Manifest =>
  JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })) as Manifest

const exportTargets = (value: unknown): Array<string> =>
  typeof value === "string"
    ? [value]
    : value !== null && typeof value === "object"
    ? Object.values(value).flatMap(exportTargets)
    : []

/** What is wrong with a packed package, as sentences; empty when nothing is. */
const problems = (files: ReadonlyArray<string>, manifest: Manifest, modules: ReadonlyArray<string>) => {
  const found: Array<string> = []
  const allowed = [
    /^(package\.json|README\.md|LICENSE)$/,
    /^dist\/esm\/package\.json$/,
    /^dist\/(esm|cjs)\/.+\.js(\.map)?$/,
    /^dist\/dts\/.+\.d\.ts(\.map)?$/,
    /^src\/.+\.ts$/,
    ...modules.map((module) => new RegExp(`^${module}/package\\.json$`))
  ]
  const forbidden =
    /(^|\/)(test|tests|__tests__|node_modules|scratch|tmp)\/|tsconfig|vitest|tsbuildinfo|\.test\.|\.DS_Store/
  for (const file of files) {
    if (forbidden.test(file) || !allowed.some((pattern) => pattern.test(file))) found.push(`unexpected file ${file}`)
  }
  const present = new Set(files)
  for (const target of new Set(exportTargets(manifest.exports))) {
    if (!present.has(target.replace(/^\.\//, ""))) found.push(`exports target ${target} is not in the tarball`)
  }
  for (const field of ["main", "module", "types"]) {
    const target = manifest[field]
    if (typeof target !== "string" || !present.has(target.replace(/^\.\//, ""))) {
      found.push(`${field} (${String(target)}) is not in the tarball`)
    }
  }
  const exported = Object.keys(manifest.exports as object)
  for (const module of modules) {
    if (!exported.includes(`./${module}`)) found.push(`module ${module} is not exported`)
  }
  for (const field of ["scripts", "devDependencies", "type"]) {
    if (manifest[field] !== undefined) found.push(`the manifest has "${field}"`)
  }
  if (JSON.stringify(manifest).includes("workspace:")) found.push("the manifest has a workspace: range")
  if (manifest.license !== "MIT") found.push(`license is ${String(manifest.license)}`)
  return found
}

export const packAll = (line: Line): ReadonlyArray<string> => {
  const packs = packsDir(line)
  Fs.rmSync(packs, { recursive: true, force: true })
  Fs.mkdirSync(packs, { recursive: true })
  const tarballs: Array<string> = []
  let failed = false
  for (const pkg of publicPackages(line)) {
    const dist = Path.join(pkg.dir, "dist")
    if (!Fs.existsSync(Path.join(dist, "package.json"))) {
      console.error(`pack: ${pkg.manifest.name} has no dist/ (run \`pnpm build\` first)`)
      process.exit(1)
    }
    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", dist, "--json", "--loglevel=error", "--pack-destination", packs], {
        encoding: "utf8"
      })
    ) as [{ filename: string }]
    const tarball = Path.join(packs, packed.filename)
    const files = tarballFiles(tarball)
    const found = problems(files, tarballManifest(tarball), publicModules(pkg))
    const size = Fs.statSync(tarball).size
    console.log(`pack: ${Path.basename(tarball)}: ${files.length} files, ${(size / 1024).toFixed(1)} kB`)
    for (const problem of found) console.error(`pack: ${pkg.manifest.name}: ${problem}`)
    failed ||= found.length > 0
    tarballs.push(tarball)
  }
  if (failed) process.exit(1)
  return tarballs
}

if (import.meta.filename === process.argv[1]) {
  for (const line of lines) {
    packAll(line)
    console.log(`pack: ${Path.relative(process.cwd(), packsDir(line))}/ holds one tarball per public package, checked`)
  }
}
