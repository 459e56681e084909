/**
 * What the release scripts know about the workspaces: the two lines, which packages each one publishes and which
 * modules each package exposes. All are read from the files themselves, so that a new public module or package needs
 * no edit here.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

export const root = Path.resolve(import.meta.dirname, "..")

export interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly [field: string]: unknown
}

export const fail = (message: string): never => {
  console.error(message)
  process.exit(1)
}

/**
 * A line is one pnpm workspace whose `packages/*` publish the same package names for one major version of Effect:
 * the effect 3 line (0.x) at the root, the effect 4 line (1.x) in `effect4/`.
 */
export interface Line {
  readonly name: "effect3" | "effect4"
  /** The workspace's root, which holds its `packages/`, its `node_modules` and its lockfile. */
  readonly dir: string
}

export const effect3: Line = { name: "effect3", dir: root }
export const effect4: Line = { name: "effect4", dir: Path.join(root, "effect4") }
export const lines: ReadonlyArray<Line> = [effect3, effect4]

export const lineNamed = (name: string): Line =>
  lines.find((line) => line.name === name) ??
    fail(`no line ${name}: the lines are ${lines.map((line) => line.name).join(", ")}`)

export interface WorkspacePackage {
  readonly line: Line
  readonly dir: string
  readonly manifest: Manifest
}

export const readJson = <A>(file: string): A => JSON.parse(Fs.readFileSync(file, "utf8")) as A

export const writeJson = (file: string, value: unknown): void => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n")
}

export const workspacePackages = (line: Line): ReadonlyArray<WorkspacePackage> =>
  Fs.readdirSync(Path.join(line.dir, "packages"), { withFileTypes: true })
    .map((entry) => Path.join(line.dir, "packages", entry.name))
    .filter((dir) => Fs.existsSync(Path.join(dir, "package.json")))
    .map((dir) => ({ line, dir, manifest: readJson<Manifest>(Path.join(dir, "package.json")) }))
    .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name))

/** The packages a line publishes: every package of its workspace not marked `"private": true`. */
export const publicPackages = (line: Line): ReadonlyArray<WorkspacePackage> =>
  workspacePackages(line).filter((pkg) => pkg.manifest.private !== true)

/**
 * The public modules of a package, as Effect's packages define them: every `src/*.ts` except the `index.ts` barrel.
 * `src/internal/` is never public.
 */
export const publicModules = (pkg: WorkspacePackage): ReadonlyArray<string> =>
  Fs.readdirSync(Path.join(pkg.dir, "src"))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts") && file !== "index.ts")
    .map((file) => file.slice(0, -".ts".length))
    .sort()

/** Every file under `dir`, as paths relative to it, with `/` separators. */
export const listFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => Path.relative(dir, Path.join(entry.parentPath, entry.name)).split(Path.sep).join("/"))
    .sort()
