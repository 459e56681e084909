/**
 * The effect 3 line: its implementations, each made in a scope of its own
 * with the work the scenario gives it, and callers started as root fibers.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import { implementations } from "./implementations.js"
import type { Line, Work } from "./line.js"
import { measureRedis } from "./redis.js"

const effectOf = ({ after, value }: Work): Effect.Effect<number> =>
  after === undefined ? Effect.succeed(value) : Effect.async((resume) => after(() => resume(Effect.succeed(value))))

export const line: Line = {
  name: "effect 3",
  directory: new URL("..", import.meta.url),
  implementations,
  open: async (id, work, keys) => {
    const scope = Effect.runSync(Scope.make())
    // the Deferred limit's, one per key: completed by `release` when the key's work would end
    const deferreds = new Map<string, Deferred.Deferred<number>>()
    const call = await Effect.runPromise(Scope.extend(
      implementations[id].make({
        keys,
        lookup: (key) => Effect.suspend(() => effectOf(work(key))),
        deferredOf: (key) => {
          let deferred = deferreds.get(key)
          if (deferred === undefined) deferreds.set(key, deferred = Deferred.unsafeMake<number>(FiberId.none))
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
        Effect.runPromise(Effect.reduce(keys, 0, (total, key) => Effect.map(call(key), (value) => total + value))),
      release: (values) => {
        for (const [key, deferred] of deferreds) Deferred.unsafeDone(deferred, Exit.succeed(values.get(key) ?? 1))
      },
      close: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
  },
  redis: measureRedis
}
