import { Duration, Effect, Option } from "effect"

/**
 * Runs `effect` every `every` until `done` holds for its value, for at most
 * `timeout` (real time): `None` when it never did.
 */
export const pollUntil = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (value: A) => boolean,
  options: { readonly every: Duration.Input; readonly timeout: Duration.Input }
): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.gen(function*() {
    const deadline = performance.now() + Duration.toMillis(options.timeout)
    for (;;) {
      const value = yield* effect
      if (done(value)) return Option.some(value)
      if (performance.now() >= deadline) return Option.none()
      yield* Effect.sleep(options.every)
    }
  })
