/**
 * The customer lookup of the seed, in Effect: `fetchCustomerId(name)` goes
 * through `SingleFlight.call(name, doFetchCustomerId)`, and
 * `doFetchCustomerId` reads the name back from `SingleFlight.currentKey`,
 * as Go's `doFetchCustomerID` reads it with `caller.KeyFromContext(ctx)`.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Data, Duration, Effect, Layer, Option, Ref, Schema } from "effect"
import { SingleFlight } from "effect-singleflight"

/** The seed's artificial latency: `time.Sleep(time.Millisecond << 7)`. */
export const defaultLatency: Duration.Duration = Duration.millis(128)

export class Customer extends Schema.Class<Customer>("Customer")({
  id: Schema.Int.pipe(Schema.positive()),
  name: Schema.NonEmptyString
}) {}

export class CustomerNotFound extends Data.TaggedError("CustomerNotFound")<{ readonly name: string }> {
  override get message(): string {
    return `no customer is named ${JSON.stringify(this.name)}`
  }
}

export class DatabaseError extends Data.TaggedError("DatabaseError")<{ readonly cause: unknown }> {
  override get message(): string {
    return "the customer database could not answer"
  }
}

export interface Options {
  /** Waited before each database query; default {@link defaultLatency}. */
  readonly latency?: Duration.DurationInput | undefined
  /** Coalesce concurrent lookups of a name with `SingleFlight.call`; default `true`. */
  readonly singleFlight?: boolean | undefined
}

export class Customers extends Context.Tag("example-customers/Customers")<Customers, {
  /** The id of the named customer; concurrent callers for a name share one query when singleflight is on. */
  readonly fetchCustomerId: (name: string) => Effect.Effect<number, CustomerNotFound | DatabaseError>
  /** How many queries reached the database so far. */
  readonly queries: Effect.Effect<number>
}>() {}

const RowId = Schema.Struct({ id: Schema.Int })

export const make = (
  options?: Options
): Effect.Effect<Customers["Type"], never, SqlClient.SqlClient | SingleFlight.SingleFlight> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const singleFlight = yield* SingleFlight.SingleFlight
    const latency = Duration.decode(options?.latency ?? defaultLatency)
    const queries = yield* Ref.make(0)

    const findId = SqlSchema.findOne({
      Request: Schema.String,
      Result: RowId,
      execute: (name) => sql`SELECT id FROM customers WHERE name = ${name}`
    })

    /** One database round trip, behind the seed's artificial latency. */
    const lookup = (name: string): Effect.Effect<number, CustomerNotFound | DatabaseError> =>
      Effect.sleep(latency).pipe(
        Effect.zipRight(Ref.update(queries, (n) => n + 1)),
        Effect.zipRight(findId(name)),
        Effect.mapError((cause) => new DatabaseError({ cause })),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(new CustomerNotFound({ name })),
          onSome: (row) => Effect.succeed(row.id)
        }))
      )

    // The seed's doFetchCustomerID: the name is the key of the call it runs for.
    const doFetchCustomerId = Effect.flatMap(SingleFlight.currentKey, (name) => lookup(String(name)))

    const fetchCustomerId = (name: string) =>
      options?.singleFlight === false
        ? lookup(name)
        : SingleFlight.call(name, doFetchCustomerId).pipe(
          Effect.provideService(SingleFlight.SingleFlight, singleFlight)
        )

    return { fetchCustomerId, queries: Ref.get(queries) }
  })

/** Needs the SQL client (see `Database.layer`) and the app-wide `SingleFlight` service. */
export const layer = (
  options?: Options
): Layer.Layer<Customers, never, SqlClient.SqlClient | SingleFlight.SingleFlight> =>
  Layer.effect(Customers, make(options))
