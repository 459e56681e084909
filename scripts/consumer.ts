/**
 * `pnpm test:consumer`: what a user gets from the registry, tried outside the workspace (twice: with the newest
 * peers in range, then with the lowest, see `--lowest`).
 *
 * Packs every public package (see pack.ts), creates an app in a temporary folder outside the repository, installs
 * the tarballs there with `npm` together with their peers from the npm registry (the ranges the tarballs declare),
 * and then, with nothing from the workspace in reach:
 *
 * - compiles the README's first example as ES module and as CommonJS and runs both with plain `node`;
 * - type-checks a file that uses every public module (strict, `skipLibCheck: false`, TypeScript's default lib,
 *   which includes DOM) under `moduleResolution: "node16"` (as ES module and as CommonJS), `"bundler"` and `"node10"`,
 *   and loads it with `node` both ways;
 * - runs a small HTTP server with `HttpSingleFlight.middleware` and sends it one request.
 *
 * `--lowest` installs the peers at the lowest version their ranges allow (npm picks the highest), so that both ends of
 * every declared range are tried. The HTTP server is left out then: @effect/platform-node's own peers (cluster, rpc,
 * sql, workflow) do not all accept the lowest @effect/platform.
 * `--tarballs=<dir>` uses the tarballs in that folder instead of packing (to try a hand-made or downloaded set).
 * `--keep` leaves the app in place for a look.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { packAll } from "./pack.js"
import type { Manifest } from "./workspace.js"
import { publicPackages, readJson, root, writeJson } from "./workspace.js"

const fixtures = Path.join(root, "scripts", "consumer")
const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}`))
const tarballsDir = option("tarballs=")?.slice("--tarballs=".length)
const lowest = option("lowest") !== undefined

const tarballs = tarballsDir === undefined
  ? packAll()
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
console.log(`consumer: app in ${app}${lowest ? ", peers at the lowest versions their ranges allow" : ""}`)

/** The README's first `ts` block: the example a user copies first. */
const readmeExample = (): string => {
  const match = /```ts\n([\s\S]*?)```/.exec(Fs.readFileSync(Path.join(root, "README.md"), "utf8"))
  if (match === null) throw new Error("README.md has no ```ts block")
  return match[1]!
}

/** Peers to install next to the tarballs: the ranges our packages declare, except for our own packages. */
const peerSpecs = (): Array<string> => {
  const ours = new Set(publicPackages().map((pkg) => pkg.manifest.name))
  const ranges = new Map<string, string>()
  for (const tarball of tarballs) {
    const manifest = JSON.parse(
      execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })
    ) as Manifest
    for (const [name, range] of Object.entries((manifest.peerDependencies ?? {}) as Record<string, string>)) {
      if (!ours.has(name)) ranges.set(name, range)
    }
  }
  return [...ranges].map(([name, range]) => spec(name, range))
}

/** What the app itself needs to run the checks, at the versions the workspace tests with. */
const toolSpecs = (): Array<string> => {
  const rootDev = readJson<{ devDependencies: Record<string, string> }>(Path.join(root, "package.json")).devDependencies
  const platformDev = readJson<{ devDependencies: Record<string, string> }>(
    Path.join(root, "packages", "platform", "package.json")
  ).devDependencies
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

const setUp = () => {
  writeJson(Path.join(app, "package.json"), { name: "consumer", private: true, type: "module" })
  const src = Path.join(app, "src")
  Fs.mkdirSync(src)
  const example = readmeExample()
  Fs.writeFileSync(Path.join(src, "readme.mts"), example)
  Fs.writeFileSync(Path.join(src, "readme.cts"), example)
  const allModules = Fs.readFileSync(Path.join(fixtures, "all-modules.ts"), "utf8")
  Fs.writeFileSync(Path.join(src, "all-modules.ts"), allModules)
  Fs.writeFileSync(Path.join(src, "all-modules.cts"), allModules)
  if (!lowest) Fs.copyFileSync(Path.join(fixtures, "http-server.ts"), Path.join(src, "http-server.ts"))
  writeJson(
    Path.join(app, "tsconfig.node16.json"),
    tsconfig({ module: "node16", moduleResolution: "node16", outDir: "out", rootDir: "src" }, ["src"])
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
}

const node = process.execPath
const tsc = Path.join(app, "node_modules", "typescript", "bin", "tsc")
const loadsEveryModule = "if (!m.sameModules.every(Boolean)) throw new Error('a subpath is another instance')"
const checks: ReadonlyArray<Check> = [
  {
    name: "npm ls: every dependency and peer is installed and in range",
    command: ["npm", "ls", "--all", "--loglevel=error"]
  },
  { name: "type-check and compile, moduleResolution node16", command: [node, tsc, "-p", "tsconfig.node16.json"] },
  { name: "type-check, moduleResolution bundler", command: [node, tsc, "-p", "tsconfig.bundler.json"] },
  { name: "type-check, moduleResolution node10", command: [node, tsc, "-p", "tsconfig.node10.json"] },
  {
    name: "README example as ES module (node out/readme.mjs)",
    command: [node, "out/readme.mjs"],
    expect: (stdout) => stdout.trim() === "1"
  },
  {
    name: "README example as CommonJS (node out/readme.cjs)",
    command: [node, "out/readme.cjs"],
    expect: (stdout) => stdout.trim() === "1"
  },
  {
    name: "every public module loads with import()",
    command: [node, "--input-type=module", "-e", `const m = await import("./out/all-modules.js"); ${loadsEveryModule}`]
  },
  {
    name: "every public module loads with require()",
    command: [node, "-e", `const m = require("./out/all-modules.cjs"); ${loadsEveryModule}`]
  },
  ...(lowest ? [] : [{
    name: "HTTP server with HttpSingleFlight.middleware answers one request",
    command: [node, "out/http-server.js"],
    expect: (stdout: string) => stdout.trim() === "200 hello"
  }])
]

interface Result {
  readonly ok: boolean
  readonly output: string
  readonly seconds: number
}

const run = (command: ReadonlyArray<string>): Result => {
  const started = Date.now()
  const seconds = () => (Date.now() - started) / 1000
  try {
    const output = execFileSync(command[0]!, command.slice(1), {
      cwd: app,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000
    })
    return { ok: true, output, seconds: seconds() }
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
const installed = run(["npm", ...install])
console.log(`consumer: npm install took ${installed.seconds.toFixed(1)} s`)
if (!installed.ok) {
  console.error(`consumer: FAILED npm install\n${installed.output}`)
  if (option("keep") === undefined) Fs.rmSync(app, { recursive: true, force: true })
  process.exit(1)
}

let failures = 0
for (const check of checks) {
  const result = run(check.command)
  const ok = result.ok && (check.expect === undefined || check.expect(result.output))
  console.log(`consumer: ${ok ? "ok    " : "FAILED"} ${check.name} (${result.seconds.toFixed(1)} s)`)
  if (!ok) {
    failures++
    console.error(result.output.trim().split("\n").slice(0, 40).join("\n"))
  }
}

if (option("keep") === undefined) Fs.rmSync(app, { recursive: true, force: true })
if (failures > 0) {
  console.error(
    `consumer: ${failures} of ${checks.length} checks failed: a user could not install and use the packages`
  )
  process.exit(1)
}
console.log(`consumer: all ${checks.length} checks passed outside the workspace`)
