/**
 * The effect 4 line, the port of packages/bench/src/effect3.ts: its
 * implementations, each made in a scope of its own with the work the scenario
 * gives it, and callers started as root fibers. Effect 4 has no `FiberId` (a
 * `Deferred` is made without one), `Effect.async` is `Effect.callback`, and
 * `Scope.provide` is effect 3's `Scope.extend`.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Line, Work } from "../../../../packages/bench/src/line.js"
import { implementations } from "./implementations.js"
import { measureRedis } from "./redis.js"

const effectOf = ({ after, value }: Work): Effect.Effect<number> =>
  after === undefined ? Effect.succeed(value) : Effect.callback((resume) => after(() => resume(Effect.succeed(value))))

export const line: Line = {
  name: "effect 4",
  directory: new URL("..", import.meta.url),
  implementations,
  open: async (id, work, keys) => {
    const scope = Scope.makeUnsafe()
    // the Deferred limit's, one per key: completed by `release` when the key's work would end
    const deferreds = new Map<string, Deferred.Deferred<number>>()
    const call = await Effect.runPromise(Scope.provide(
      implementations[id].make({
        keys,
        lookup: (key) => Effect.suspend(() => effectOf(work(key))),
        deferredOf: (key) => {
          let deferred = deferreds.get(key)
          if (deferred === undefined) deferreds.set(key, deferred = Deferred.makeUnsafe<number>())
          return deferred
        }
      }),
      scope
    ))
    return {
      fork: (key, done) =>
        Effect.runFork(Effect.suspend(() => call(key()))).addObserver((exit) =>
          done(Exit.isSuccess(exit) ? exit.value : undefined)
        ),
      sequence: (keys) =>
        Effect.runPromise(
          Effect.reduce(keys, () => 0, (total, key) => Effect.map(call(key), (value) => total + value))
        ),
      release: (values) => {
        for (const [key, deferred] of deferreds) Deferred.doneUnsafe(deferred, Exit.succeed(values.get(key) ?? 1))
      },
      close: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
  },
  redis: measureRedis
}
