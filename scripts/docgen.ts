/**
 * `pnpm docgen`: the API reference, generated from the JSDoc of every public package of both lines by
 * `@effect/docgen` (as Effect does), into `docs/api/<package folder>/` (effect 3) and `docs/api/effect4/<package
 * folder>/` (effect 4; docgen runs in the package, so its examples resolve effect 4 from `effect4/node_modules`). On the way, docgen type-checks every `@example` (each is compiled with
 * the package's `docgen.json` options: strict, DOM lib) and runs it with tsx; any failure fails the command.
 *
 * `--check` (part of `pnpm test`) does the same into a temporary folder, leaves `docs/api/` alone and says whether
 * it is out of date.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { effect3, effect4, listFiles, publicPackages, root } from "./workspace.js"

const apiDir = Path.join(root, "docs", "api")
const check = process.argv.includes("--check")
const out = check ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-singleflight-docgen-")) : apiDir
const bin = Path.join(root, "node_modules", ".bin")

const index: Array<string> = [
  "# API reference",
  "",
  "Generated from the JSDoc of the sources by `@effect/docgen` (`npx -y pnpm@10 docgen`); do not edit by hand.",
  ""
]

Fs.rmSync(out, { recursive: true, force: true })
const packages = [
  ...publicPackages(effect3).map((pkg) => ({ pkg, folder: Path.basename(pkg.dir), title: pkg.manifest.name })),
  ...publicPackages(effect4).map((pkg) => ({
    pkg,
    folder: `effect4/${Path.basename(pkg.dir)}`,
    title: `${pkg.manifest.name} ${pkg.manifest.version} (effect 4)`
  }))
]
for (const { folder, pkg, title } of packages) {
  // docgen writes into the package (`docs/`) and rewrites the package's own imports in the examples to `../../src`,
  // so it has to run there; its output is moved to docs/api afterwards.
  const generated = Path.join(pkg.dir, "docs")
  Fs.rmSync(generated, { recursive: true, force: true })
  try {
    execFileSync(Path.join(bin, "docgen"), [], {
      cwd: pkg.dir,
      env: { ...process.env, PATH: `${bin}${Path.delimiter}${process.env.PATH ?? ""}` },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string }
    console.error(`docgen: ${pkg.manifest.name} failed\n${failed.stdout ?? ""}${failed.stderr ?? ""}`)
    Fs.rmSync(generated, { recursive: true, force: true })
    process.exit(1)
  }
  const modules = listFiles(Path.join(generated, "modules")).filter((file) => file !== "index.md")
  Fs.mkdirSync(Path.join(out, folder), { recursive: true })
  for (const file of modules) {
    // The front matter is for docgen's Jekyll site; on GitHub and in editors it only gets in the way.
    const markdown = Fs.readFileSync(Path.join(generated, "modules", file), "utf8")
    Fs.writeFileSync(Path.join(out, folder, file), markdown.replace(/^(\*\*\*|---)\n[\s\S]*?\n---\n+/, ""))
  }
  Fs.rmSync(generated, { recursive: true, force: true })
  index.push(`## ${title}`, "")
  index.push(...modules.map((file) => `- [${file.replace(/\.ts\.md$/, "")}](${folder}/${file})`), "")
  console.log(`docgen: ${title}: ${modules.length} modules, every @example type-checked and run`)
}
Fs.writeFileSync(Path.join(out, "README.md"), index.join("\n"))

if (check) {
  const same = (file: string) =>
    Fs.existsSync(Path.join(apiDir, file)) &&
    Fs.readFileSync(Path.join(apiDir, file), "utf8") === Fs.readFileSync(Path.join(out, file), "utf8")
  const current = Fs.existsSync(apiDir) && listFiles(out).every(same) &&
    listFiles(apiDir).length === listFiles(out).length
  Fs.rmSync(out, { recursive: true, force: true })
  console.log(
    current ? "docgen: docs/api is up to date" : "docgen: docs/api is out of date: run `npx -y pnpm@10 docgen`"
  )
} else {
  console.log(`docgen: ${Path.relative(process.cwd(), apiDir)}/ written`)
}
