/**
 * `pnpm test:consumer`: what a user gets from the registry, tried outside the workspace, once per line
 * (`tsx scripts/consumer.ts effect3`, `… effect4`; the effect 3 line twice, with the newest peers in range and then
 * with the lowest, see `--lowest`).
 *
 * Packs every public package of the line (see pack.ts), creates an app in a temporary folder outside the repository,
 * installs the tarballs there with `npm` together with their peers from the npm registry (the ranges the tarballs
 * declare), and then, with nothing from the workspace in reach:
 *
 * - compiles the README's first example as ES module and as CommonJS and runs both with `node` (the same example
 *   serves both lines: it is written with what effect 3 and effect 4 have in common);
 * - type-checks a file that imports every public module of every package, through the package root and through its
 *   own entry point (generated from the tarballs, so that a new package or module is covered without an edit here),
 *   and a file that uses each package (`scripts/consumer/<line>/usage.ts`): strict, `skipLibCheck: false`,
 *   TypeScript's default lib, which includes DOM; under `moduleResolution: "node16"` (as ES module and as CommonJS)
 *   and `"bundler"`, and for the effect 3 line also `"node10"` (effect 4 itself has no entry point for node10);
 * - loads every public module with `import()` and `require()`, and checks that both entry points give the same module;
 * - runs a small HTTP server with `HttpSingleFlight.middleware` (`scripts/consumer/<line>/http-server.ts`) and sends
 *   it one request.
 *
 * The effect 4 line runs on Node.js 22 from the npm registry (`npx -y node@22`): `@effect/platform-node` 4 requires
 * Node.js 22.19 or newer, and `require()` of effect 4, which ships ES modules only, needs Node.js 22.12 or newer.
 *
 * `--lowest` installs the peers at the lowest version their ranges allow (npm picks the highest), so that both ends of
 * every declared range are tried. The HTTP server is left out then: @effect/platform-node's own peers (cluster, rpc,
 * sql, workflow) do not all accept the lowest @effect/platform.
 * `--tarballs=<dir>` uses the tarballs in that folder instead of packing (to try a hand-made or downloaded set).
 * `--keep` leaves the app in place for a look.
 */
import { execFile, execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"
import { packAll } from "./pack.js"
import type { Manifest } from "./workspace.js"
import { lineNamed, publicPackages, readJson, root, writeJson } from "./workspace.js"

const execFileAsync = promisify(execFile)
const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}`))
const line = lineNamed(process.argv[2] ?? "")
const fixtures = Path.join(root, "scripts", "consumer", line.name)
const tarballsDir = option("tarballs=")?.slice("--tarballs=".length)
const lowest = option("lowest") !== undefined

/** What differs between the lines' consumers. */
const setting = line.name === "effect3"
  ? {
    // The machine's own Node.js (20), as CI runs the effect 3 line.
    node: process.execPath,
    // `module: "node16"` is what most CommonJS projects on effect 3 have.
    node16Module: "node16",
    node10: true
  }
  : {
    node: execFileSync("npx", ["--loglevel=error", "-y", "node@22", "-p", "process.execPath"], { encoding: "utf8" })
      .trim(),
    // effect 4 ships ES modules only: a CommonJS file can `require()` it on Node.js 22, which TypeScript models as
    // `module: "node20"` (under "node16", TypeScript rejects every import of effect 4 from CommonJS).
    node16Module: "node20",
    node10: false
  }

const tarballs = tarballsDir === undefined
  ? packAll(line)
  : Fs.readdirSync(tarballsDir).filter((file) => file.endsWith(".tgz")).map((file) => Path.resolve(tarballsDir, file))

/** `^1.2.3` and `~1.2.3` start at 1.2.3; with `--lowest`, that is the version installed. */
const spec = (name: string, range: string): string => {
  if (!lowest) return `${name}@${range}`
  const floor = /^[\^~]?(\d+\.\d+\.\d+)$/.exec(range)
  if (floor === null) throw new Error(`no lowest version for ${name}@${range}`)
  return `${name}@${floor[1]}`
}

const app = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-singleflight-consumer-"))
if (!Path.relative(root, app).startsWith("..")) throw new Error(`${app} is inside the repository`)
console.log(
  `consumer: ${line.name} line, app in ${app}${lowest ? ", peers at the lowest versions their ranges allow" : ""}`
)

/** The README's first `ts` block: the example a user copies first. */
const readmeExample = (): string => {
  const match = /```ts\n([\s\S]*?)```/.exec(Fs.readFileSync(Path.join(root, "README.md"), "utf8"))
  if (match === null) throw new Error("README.md has no ```ts block")
  return match[1]!
}

const manifests: ReadonlyArray<Manifest> = tarballs.map((tarball) =>
  JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })) as Manifest
)

/** Peers to install next to the tarballs: the ranges our packages declare, except for our own packages. */
const peerSpecs = (): Array<string> => {
  const ours = new Set(publicPackages(line).map((pkg) => pkg.manifest.name))
  const ranges = new Map<string, string>()
  for (const manifest of manifests) {
    for (const [name, range] of Object.entries((manifest.peerDependencies ?? {}) as Record<string, string>)) {
      if (!ours.has(name)) ranges.set(name, range)
    }
  }
  return [...ranges].map(([name, range]) => spec(name, range))
}

/** What the app itself needs to run the checks, at the versions the workspace tests with. */
const toolSpecs = (): Array<string> => {
  const devDependencies = (dir: string) =>
    readJson<{ devDependencies?: Record<string, string> }>(Path.join(dir, "package.json")).devDependencies ?? {}
  const rootDev = devDependencies(line.dir)
  const platformDev = devDependencies(Path.join(line.dir, "packages", "platform"))
  return [
    `typescript@${rootDev["typescript"]}`,
    `@types/node@${rootDev["@types/node"]}`,
    ...(lowest ? [] : [
      `@effect/platform-node@${platformDev["@effect/platform-node"]}`,
      // @effect/platform-node's declarations import "ws": with skipLibCheck off, its users need its types too
      "@types/ws@^8"
    ])
  ]
}

const tsconfig = (compilerOptions: Record<string, unknown>, include: Array<string>) => ({
  // No "lib": TypeScript's default for the target, which includes DOM, as in most apps.
  compilerOptions: { target: "ES2022", strict: true, skipLibCheck: false, ...compilerOptions },
  include
})

/**
 * Imports every public module of every tarball, through the package root and through its own entry point, and
 * exports whether both give the same module (`sameModules`). Written from the tarballs' `exports`.
 */
const everyModule = (): string => {
  const imports: Array<string> = []
  const pairs: Array<string> = []
  manifests.forEach((manifest, index) => {
    imports.push(`import * as Package${index} from "${manifest.name}"`)
    const modules = Object.keys(manifest.exports as object).filter((key) => key !== "." && key !== "./package.json")
    for (const module of modules.map((key) => key.slice("./".length))) {
      imports.push(`import * as Package${index}_${module} from "${manifest.name}/${module}"`)
      pairs.push(`sameModule(Package${index}.${module}, Package${index}_${module})`)
    }
  })
  return [
    "// Written by scripts/consumer.ts: every public module, through the package root and its own entry point.",
    ...imports,
    "",
    "const sameModule = (fromRoot: object, own: object): boolean =>",
    "  Object.keys(own).length > 0 &&",
    "  Object.entries(own).every(([name, value]) => (fromRoot as Record<string, unknown>)[name] === value)",
    "",
    "export const sameModules: ReadonlyArray<boolean> = [",
    pairs.map((pair) => `  ${pair}`).join(",\n"),
    "]",
    "",
    ""
  ].join("\n")
}

const setUp = () => {
  writeJson(Path.join(app, "package.json"), { name: "consumer", private: true, type: "module" })
  const src = Path.join(app, "src")
  Fs.mkdirSync(src)
  const example = readmeExample()
  Fs.writeFileSync(Path.join(src, "readme.mts"), example)
  Fs.writeFileSync(Path.join(src, "readme.cts"), example)
  const allModules = everyModule() + Fs.readFileSync(Path.join(fixtures, "usage.ts"), "utf8")
  Fs.writeFileSync(Path.join(src, "all-modules.ts"), allModules)
  Fs.writeFileSync(Path.join(src, "all-modules.cts"), allModules)
  if (!lowest) Fs.copyFileSync(Path.join(fixtures, "http-server.ts"), Path.join(src, "http-server.ts"))
  writeJson(
    Path.join(app, "tsconfig.node16.json"),
    tsconfig({ module: setting.node16Module, moduleResolution: "node16", outDir: "out", rootDir: "src" }, ["src"])
  )
  // "node" (node10), for the projects that still use it: it ignores `exports` and finds subpaths by `typesVersions`.
  // esModuleInterop as `tsc --init` sets it: node-redis's declarations need it under CommonJS.
  writeJson(
    Path.join(app, "tsconfig.node10.json"),
    tsconfig(
      { module: "commonjs", moduleResolution: "node10", esModuleInterop: true, noEmit: true },
      ["src/all-modules.ts"]
    )
  )
  writeJson(
    Path.join(app, "tsconfig.bundler.json"),
    tsconfig({ module: "esnext", moduleResolution: "bundler", noEmit: true }, ["src/*.ts", "src/*.mts"])
  )
}

interface Check {
  readonly name: string
  readonly command: ReadonlyArray<string>
  readonly expect?: (stdout: string) => boolean
  /** Runs what the node16 type-check compiled to `out/`, so after it. */
  readonly runsOutput?: boolean
}

const node = setting.node
const tsc = Path.join(app, "node_modules", "typescript", "bin", "tsc")
const loadsEveryModule = "if (!m.sameModules.every(Boolean)) throw new Error('a subpath is another instance')"
const checks: ReadonlyArray<Check> = [
  {
    name: "npm ls: every dependency and peer is installed and in range",
    command: ["npm", "ls", "--all", "--loglevel=error"]
  },
  { name: "type-check and compile, moduleResolution node16", command: [node, tsc, "-p", "tsconfig.node16.json"] },
  { name: "type-check, moduleResolution bundler", command: [node, tsc, "-p", "tsconfig.bundler.json"] },
  ...(setting.node10 ?
    [{ name: "type-check, moduleResolution node10", command: [node, tsc, "-p", "tsconfig.node10.json"] }] :
    []),
  {
    name: "README example as ES module (node out/readme.mjs)",
    runsOutput: true,
    command: [node, "out/readme.mjs"],
    expect: (stdout) => stdout.trim() === "1"
  },
  {
    name: "README example as CommonJS (node out/readme.cjs)",
    runsOutput: true,
    command: [node, "out/readme.cjs"],
    expect: (stdout) => stdout.trim() === "1"
  },
  {
    name: "every public module loads with import()",
    runsOutput: true,
    command: [node, "--input-type=module", "-e", `const m = await import("./out/all-modules.js"); ${loadsEveryModule}`]
  },
  {
    name: "every public module loads with require()",
    runsOutput: true,
    command: [node, "-e", `const m = require("./out/all-modules.cjs"); ${loadsEveryModule}`]
  },
  ...(lowest ? [] : [{
    name: "HTTP server (NodeHttpServer) with HttpSingleFlight.middleware answers one request",
    runsOutput: true,
    command: [node, "out/http-server.js"],
    expect: (stdout: string) => stdout.trim() === "200 hello"
  }])
]

interface Result {
  readonly ok: boolean
  readonly output: string
  readonly seconds: number
}

const run = async (command: ReadonlyArray<string>): Promise<Result> => {
  const started = Date.now()
  const seconds = () => (Date.now() - started) / 1000
  try {
    const { stdout } = await execFileAsync(command[0]!, command.slice(1), {
      cwd: app,
      encoding: "utf8",
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024
    })
    return { ok: true, output: stdout, seconds: seconds() }
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string }
    return { ok: false, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` || failed.message, seconds: seconds() }
  }
}

setUp()
const install = [
  "install",
  "--no-audit",
  "--no-fund",
  "--loglevel=error",
  ...tarballs,
  ...peerSpecs(),
  ...toolSpecs()
]
console.log(`consumer: npm ${install.map((arg) => Path.isAbsolute(arg) ? Path.basename(arg) : arg).join(" ")}`)
const installed = await run(["npm", ...install])
console.log(`consumer: npm install took ${installed.seconds.toFixed(1)} s`)
if (!installed.ok) {
  console.error(`consumer: FAILED npm install\n${installed.output}`)
  if (option("keep") === undefined) Fs.rmSync(app, { recursive: true, force: true })
  process.exit(1)
}

let failures = 0
/** Runs `group` at once (the type-checks are CPU-bound and independent), then reports in order. */
const runAll = async (group: ReadonlyArray<Check>) => {
  const results = await Promise.all(group.map((check) => run(check.command)))
  group.forEach((check, i) => {
    const result = results[i]!
    const ok = result.ok && (check.expect === undefined || check.expect(result.output))
    console.log(`consumer: ${ok ? "ok    " : "FAILED"} ${check.name} (${result.seconds.toFixed(1)} s)`)
    if (!ok) {
      failures++
      console.error(result.output.trim().split("\n").slice(0, 40).join("\n"))
    }
  })
}
await runAll(checks.filter((check) => check.runsOutput !== true))
await runAll(checks.filter((check) => check.runsOutput === true))

if (option("keep") === undefined) Fs.rmSync(app, { recursive: true, force: true })
if (failures > 0) {
  console.error(
    `consumer: ${failures} of ${checks.length} checks failed: a user could not install and use the packages`
  )
  process.exit(1)
}
console.log(`consumer: all ${checks.length} checks of the ${line.name} line passed outside the workspace`)
