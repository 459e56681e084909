/**
 * The customer lookup of the seed, in Effect: `fetchCustomerId(name)` goes
 * through `SingleFlight.call(name, doFetchCustomerId)`, and
 * `doFetchCustomerId` reads the name back from `SingleFlight.currentKey`,
 * as Go's `doFetchCustomerID` reads it with `caller.KeyFromContext(ctx)`.
 */
import { SqlSchema } from "@effect/sql"
import { Context, Data, Effect, Layer, Option, Schema } from "effect"
import { SingleFlight } from "effect-singleflight"
import * as Database from "./Database.js"

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
  /** Coalesce concurrent lookups of a name with `SingleFlight.call`; default `true`. */
  readonly singleFlight?: boolean | undefined
}

export class Customers extends Context.Tag("example-customers/Customers")<Customers, {
  /** The id of the named customer; concurrent callers for a name share one query when singleflight is on. */
  readonly fetchCustomerId: (name: string) => Effect.Effect<number, CustomerNotFound | DatabaseError>
}>() {}

const RowId = Schema.Struct({ id: Schema.Int })

export const make = (
  options?: Options
): Effect.Effect<Customers["Type"], never, Database.Database | SingleFlight.SingleFlight> =>
  Effect.gen(function*() {
    const database = yield* Database.Database
    const singleFlight = yield* SingleFlight.SingleFlight

    /** One query on a connection of the pool, after its round trip. */
    const lookup = (name: string): Effect.Effect<number, CustomerNotFound | DatabaseError> =>
      database.query((sql) =>
        SqlSchema.findOne({
          Request: Schema.String,
          Result: RowId,
          execute: (name) => sql`SELECT id FROM customers WHERE name = ${name}`
        })(name)
      ).pipe(
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

    return { fetchCustomerId }
  })

/** Needs the database (see `Database.layer`) and the app-wide `SingleFlight` service. */
export const layer = (
  options?: Options
): Layer.Layer<Customers, never, Database.Database | SingleFlight.SingleFlight> =>
  Layer.effect(Customers, make(options))
