/**
 * The effect 3 line: its implementations, each made in a scope of its own
 * with the work the scenario gives it, callers started as root fibers, and the
 * groups of the Redis scenarios.
 */
import { SingleFlightRedis } from "@effect-singleflight/redis"
import { startRedisServer } from "@effect-singleflight/testing/RedisServer"
import { SingleFlight } from "effect-singleflight"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { implementations } from "./implementations.js"
import type { Line, Started, Work } from "./line.js"

const effectOf = ({ after, value }: Work): Effect.Effect<number> =>
  after === undefined ? Effect.succeed(value) : Effect.async((resume) => after(() => resume(Effect.succeed(value))))

/** Runs `effect` in a root fiber; `done` gets its value, or nothing when it failed or was interrupted. */
const start = (effect: Effect.Effect<number, unknown>): Started => {
  const fiber = Effect.runFork(effect)
  return {
    done: new Promise((resolve) => fiber.addObserver((exit) => resolve(Exit.isSuccess(exit) ? exit.value : undefined))),
    interrupt: () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => {})
  }
}

/** Makes `make` in a scope of its own, closed by the returned `close`. */
const scoped = async <A>(make: Effect.Effect<A, unknown, Scope.Scope>) => {
  const scope = Effect.runSync(Scope.make())
  const made = await Effect.runPromise(Scope.extend(make, scope))
  return [made, () => Effect.runPromise(Scope.close(scope, Exit.void))] as const
}

export const line: Line = {
  name: "effect 3",
  directory: new URL("..", import.meta.url),
  implementations,
  open: async (id, work, keys) => {
    const lookup = (key: string) => Effect.suspend(() => effectOf(work(key)))
    const [call, close] = await scoped(implementations[id].make({ lookup, work, keys }))
    return {
      fork: (key, done) =>
        Effect.runFork(Effect.suspend(() => call(key()))).addObserver((exit) =>
          done(Exit.isSuccess(exit) ? exit.value : undefined)
        ),
      sequence: (keys) =>
        Effect.runPromise(Effect.reduce(keys, 0, (total, key) => Effect.map(call(key), (value) => total + value))),
      close
    }
  },
  redis: async () => {
    const [[local, a, b], close] = await scoped(Effect.gen(function*() {
      const { url } = yield* startRedisServer
      const overRedis = Effect.flatMap(
        SingleFlightRedis.makeConnection({ url }),
        (connection) =>
          SingleFlightRedis.make({ name: "bench", key: Schema.String, success: Schema.Number }).pipe(
            Effect.provideService(SingleFlightRedis.RedisConnection, connection)
          )
      )
      return [yield* SingleFlight.make<string, number>(), yield* overRedis, yield* overRedis] as const
    }))
    const group = (group: SingleFlight.Group<string, number, never>) => (key: string, work: Work) =>
      start(group.call(key, effectOf(work)))
    return { local: group(local), a: group(a), b: group(b), close }
  }
}
