/**
 * Vitest global setup: bundles the worker process (test/fixtures/worker.ts and
 * everything it imports) into one JavaScript file, once per run. A worker then
 * starts with plain `node` in a fraction of the time `node --import tsx`
 * takes to transform and resolve hundreds of modules, which dominated the
 * multi-process tests on a loaded machine.
 */
import { build } from "esbuild"
import { fileURLToPath } from "node:url"

export const workerBundle = fileURLToPath(new URL("../../build/test-worker/worker.mjs", import.meta.url))

export const setup = async (): Promise<void> => {
  await build({
    entryPoints: [fileURLToPath(new URL("../fixtures/worker.ts", import.meta.url))],
    outfile: workerBundle,
    bundle: true,
    platform: "node",
    format: "esm",
    // The tests run on Node.js 22 (vitest 5 needs it), and so do the workers they spawn (`process.execPath`).
    target: "node22",
    logLevel: "error",
    // node-redis is CommonJS: give its `require` calls one in the ES module.
    banner: { js: "import { createRequire } from \"node:module\"; const require = createRequire(import.meta.url);" }
  })
}
