/**
 * `pnpm build`: builds every public package of both lines (the effect 3 line in `packages/`, the effect 4 line in
 * `effect4/packages/`, see workspace.ts). It
 *
 * 1. runs `tsc -b` on each public package's `tsconfig.build.json`, which writes the ES modules (`build/esm`) and the
 *    declarations (`build/dts`) incrementally; each line's packages resolve `effect` from their own workspace;
 * 2. writes the CommonJS build, `build/cjs`, by transpiling each source file on its own with TypeScript (the sources
 *    are `isolatedModules`, so no type information is needed; this is what Effect does with Babel);
 * 3. assembles `dist/`, the folder that is packed and published (`publishConfig.directory`), laid out as
 *    `@effect/platform` ships: `dist/{esm,cjs,dts}` with source maps, `src` for the maps, one folder per public
 *    module for resolvers that predate `exports`, README, LICENSE and a package.json that points at the build.
 *
 * In the workspace nothing reads `dist/`: every package.json points at `src/`, so tests, `tsc -b` and the demo run
 * from the sources without a build.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import ts from "typescript"
import type { Manifest, WorkspacePackage } from "./workspace.js"
import {
  fail as exitWith,
  lines,
  listFiles,
  publicModules,
  publicPackages,
  workspacePackages,
  writeJson
} from "./workspace.js"

const fail = (message: string): never => exitWith(`build: ${message}`)

/** ES modules and declarations for every public package of every line, in one incremental `tsc -b`. */
const buildEsm = (packages: ReadonlyArray<WorkspacePackage>): void => {
  const configs = packages.map((pkg) => {
    const config = Path.join(pkg.dir, "tsconfig.build.json")
    return Fs.existsSync(config) ? config : fail(
      `${pkg.manifest.name} (${Path.relative(process.cwd(), pkg.dir)}) has no tsconfig.build.json: copy one from ` +
        "another public package of its line (rootDir src, outDir build/esm, declarationDir build/dts)"
    )
  })
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  try {
    execFileSync(process.execPath, [tsc, "-b", ...configs], { stdio: "inherit" })
  } catch {
    fail("tsc -b failed")
  }
}

const buildCjs = (pkg: WorkspacePackage): void => {
  const src = Path.join(pkg.dir, "src")
  const out = Path.join(pkg.dir, "build", "cjs")
  Fs.rmSync(out, { recursive: true, force: true })
  for (const file of listFiles(src).filter((file) => file.endsWith(".ts"))) {
    const target = Path.join(out, file.replace(/\.ts$/, ".js"))
    // The map names its source relative to the output file: `../../src/X.ts` from `build/cjs/X.js`, which stays
    // right once `build/cjs` is copied to `dist/dist/cjs` next to `dist/src`.
    const sourceFromTarget = Path.relative(Path.dirname(target), Path.join(src, file)).split(Path.sep).join("/")
    const result = ts.transpileModule(Fs.readFileSync(Path.join(src, file), "utf8"), {
      fileName: sourceFromTarget,
      reportDiagnostics: true,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        sourceMap: true
      }
    })
    const errors = result.diagnostics ?? []
    if (errors.length > 0) {
      fail(`${file}: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, "\n")}`)
    }
    const map = JSON.parse(result.sourceMapText!) as { file: string; sources: Array<string> }
    map.file = Path.basename(target)
    map.sources = [sourceFromTarget]
    Fs.mkdirSync(Path.dirname(target), { recursive: true })
    Fs.writeFileSync(target, result.outputText)
    Fs.writeFileSync(`${target}.map`, JSON.stringify(map))
  }
}

/** `workspace:` ranges become the ranges a registry understands, as `pnpm publish` would write them. */
const resolveWorkspaceRanges = (
  ranges: Record<string, string> | undefined,
  versions: ReadonlyMap<string, string>
): Record<string, string> | undefined => {
  if (ranges === undefined) return undefined
  return Object.fromEntries(
    Object.entries(ranges).map(([name, range]) => {
      if (!range.startsWith("workspace:")) return [name, range]
      const version = versions.get(name) ?? fail(`${name} is not a workspace package`)
      const spec = range.slice("workspace:".length)
      return [name, spec === "^" || spec === "~" ? `${spec}${version}` : spec === "*" ? version : spec]
    })
  )
}

const conditions = (module: string) => ({
  types: `./dist/dts/${module}.d.ts`,
  import: `./dist/esm/${module}.js`,
  require: `./dist/cjs/${module}.js`,
  default: `./dist/cjs/${module}.js`
})

const publishedManifest = (pkg: WorkspacePackage, versions: ReadonlyMap<string, string>): Manifest => {
  const source = pkg.manifest
  const modules = publicModules(pkg)
  const copied = ["description", "keywords", "license", "author", "repository", "homepage", "bugs", "engines"]
  const missing = copied.filter((field) => field !== "author" && source[field] === undefined)
  if (missing.length > 0) fail(`${source.name}: package.json lacks ${missing.join(", ")}`)
  const publishConfig = source.publishConfig as Record<string, unknown> | undefined
  return {
    name: source.name,
    version: source.version,
    ...Object.fromEntries(copied.filter((field) => source[field] !== undefined).map((field) => [field, source[field]])),
    // No "type": as in Effect's packages, `.js` files are CommonJS except under `dist/esm`, whose own package.json
    // says "module". The declarations are then read as CommonJS, which both `import` and `require` accept.
    sideEffects: [],
    dependencies: resolveWorkspaceRanges(source.dependencies as Record<string, string> | undefined, versions),
    peerDependencies: resolveWorkspaceRanges(source.peerDependencies as Record<string, string> | undefined, versions),
    peerDependenciesMeta: source.peerDependenciesMeta,
    publishConfig: { access: publishConfig?.access, provenance: publishConfig?.provenance },
    main: "./dist/cjs/index.js",
    module: "./dist/esm/index.js",
    types: "./dist/dts/index.d.ts",
    exports: {
      "./package.json": "./package.json",
      ".": conditions("index"),
      ...Object.fromEntries(modules.map((module) => [`./${module}`, conditions(module)]))
    },
    typesVersions: { "*": Object.fromEntries(modules.map((module) => [module, [`./dist/dts/${module}.d.ts`]])) },
    files: ["dist/", "src/", ...modules.map((module) => `${module}/`)]
  }
}

const assembleDist = (pkg: WorkspacePackage, versions: ReadonlyMap<string, string>): void => {
  const dist = Path.join(pkg.dir, "dist")
  for (const required of ["build/esm/index.js", "build/dts/index.d.ts", "build/cjs/index.js", "README.md"]) {
    if (!Fs.existsSync(Path.join(pkg.dir, required))) {
      fail(`${pkg.manifest.name}: ${required} is missing (tsc -b ${pkg.dir}/tsconfig.build.json writes it)`)
    }
  }
  Fs.rmSync(dist, { recursive: true, force: true })
  for (const kind of ["esm", "cjs", "dts"]) {
    Fs.cpSync(Path.join(pkg.dir, "build", kind), Path.join(dist, "dist", kind), { recursive: true })
  }
  writeJson(Path.join(dist, "dist", "esm", "package.json"), { type: "module", sideEffects: [] })
  Fs.cpSync(Path.join(pkg.dir, "src"), Path.join(dist, "src"), { recursive: true })
  Fs.copyFileSync(Path.join(pkg.dir, "README.md"), Path.join(dist, "README.md"))
  const license = Fs.existsSync(Path.join(pkg.dir, "LICENSE")) ? Path.join(pkg.dir, "LICENSE") : fail(
    `${pkg.manifest.name}: LICENSE is missing`
  )
  Fs.copyFileSync(license, Path.join(dist, "LICENSE"))
  for (const module of publicModules(pkg)) {
    writeJson(Path.join(dist, module, "package.json"), {
      main: `../dist/cjs/${module}.js`,
      module: `../dist/esm/${module}.js`,
      types: `../dist/dts/${module}.d.ts`,
      sideEffects: []
    })
  }
  writeJson(Path.join(dist, "package.json"), publishedManifest(pkg, versions))
}

buildEsm(lines.flatMap(publicPackages))
for (const line of lines) {
  // A `workspace:` range names a package of the same line: effect-singleflight is 0.x beside effect 3, 1.x beside 4.
  const versions = new Map(workspacePackages(line).map((pkg) => [pkg.manifest.name, pkg.manifest.version]))
  for (const pkg of publicPackages(line)) {
    buildCjs(pkg)
    assembleDist(pkg, versions)
    console.log(`build: ${pkg.manifest.name}@${pkg.manifest.version} -> ${Path.relative(process.cwd(), pkg.dir)}/dist`)
  }
}
