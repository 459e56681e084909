/**
 * What the release scripts know about the workspace: which packages are published and which modules each one
 * exposes. Both are read from the files themselves, so that a new public module or package needs no edit here.
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

export interface WorkspacePackage {
  readonly dir: string
  readonly manifest: Manifest
}

export const readJson = <A>(file: string): A => JSON.parse(Fs.readFileSync(file, "utf8")) as A

export const writeJson = (file: string, value: unknown): void => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n")
}

export const workspacePackages = (): ReadonlyArray<WorkspacePackage> =>
  Fs.readdirSync(Path.join(root, "packages"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && Fs.existsSync(Path.join(root, "packages", entry.name, "package.json")))
    .map((entry) => {
      const dir = Path.join(root, "packages", entry.name)
      return { dir, manifest: readJson<Manifest>(Path.join(dir, "package.json")) }
    })
    .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name))

/** The packages that are published: every workspace package not marked `"private": true`. */
export const publicPackages = (): ReadonlyArray<WorkspacePackage> =>
  workspacePackages().filter((pkg) => pkg.manifest.private !== true)

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
