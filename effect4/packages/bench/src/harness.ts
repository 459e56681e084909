/**
 * What the scenarios need of the sampler in `packages/bench/src/harness.ts`:
 * the shape of a task, a full garbage collection, a settle. The sampler itself
 * (tinybench, rounds, medians) knows nothing of Effect and stays with the
 * suite that runs these scenarios.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

export interface Task {
  readonly id: string
  /** Untimed, once per round: make the instance, put keys in flight. */
  readonly beforeAll?: () => Promise<void>
  /** Untimed, before each iteration: fresh keys, a fresh gate. */
  readonly beforeEach?: () => void
  /** Timed: one iteration. */
  readonly run: () => Promise<void>
  /** Untimed, after each iteration: check the results. */
  readonly afterEach?: () => void
  /** Untimed, once per round: release everything `beforeAll` made. */
  readonly afterAll?: () => Promise<void>
}

/** `global.gc`: exposed by `--expose-gc`, or enabled here (under vitest, say). */
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
})()

export const collectGarbage = (): void => {
  gc()
  gc()
}

/** Resolves after the current macrotask and the timers due by then. */
export const settle = (millis = 0): Promise<void> =>
  new Promise((resolve) => setTimeout(() => setImmediate(resolve), millis))
