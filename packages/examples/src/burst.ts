/**
 * The seed's lookup, shared by a burst of concurrent callers: the program the
 * observability examples (and their test) export spans and metrics for.
 */
import { Data, Effect } from "effect"
import { SingleFlight } from "effect-singleflight"

export class NotFound extends Data.TaggedError("NotFound")<{ readonly name: string }> {}

const doFetchCustomerId = Effect.gen(function*() {
  const name = String(yield* SingleFlight.currentKey)
  yield* Effect.sleep("20 millis").pipe(Effect.withSpan("database.query"))
  if (name === "customer-1") return 1
  return yield* Effect.fail(new NotFound({ name }))
})

export const fetchCustomerId = (name: string) =>
  SingleFlight.call(name, doFetchCustomerId).pipe(Effect.withSpan("fetchCustomerId"))

/** `callers` concurrent requests for the same customer, through a group named "customers". */
export const burst = (callers: number) =>
  Effect.forEach(Array.from({ length: callers }), () => fetchCustomerId("customer-1"), {
    concurrency: "unbounded"
  }).pipe(
    Effect.provide(SingleFlight.layerWith({ name: "customers", keyAttribute: true }))
  )
