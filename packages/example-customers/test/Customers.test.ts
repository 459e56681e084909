import { Customers, Database } from "@effect-singleflight/example-customers"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Effect, Exit, Fiber, Layer, Option, TestClock } from "effect"
import { SingleFlight } from "effect-singleflight"

/** The lookup service over a real SQLite database (a temporary file), seeded like a file on first start. */
const CustomersLive = (options?: Customers.Options, database?: Partial<Database.Options>) =>
  Customers.layer(options).pipe(
    Layer.provideMerge(Database.layer({ filename: ":memory:", ...database })),
    Layer.provide(SingleFlight.layer)
  )

const forkAll = <A, E, R>(count: number, effect: (i: number) => Effect.Effect<A, E, R>) =>
  Effect.forEach(Arr.range(0, count - 1), (i) => Effect.fork(effect(i)))

const running = <A, E>(fibers: ReadonlyArray<Fiber.Fiber<A, E>>) =>
  Effect.map(Effect.forEach(fibers, Fiber.poll), (polls) => polls.filter(Option.isNone).length)

const queries = Effect.flatMap(Database.Database, (database) => database.queries)

describe("Customers", () => {
  it.scoped("concurrent lookups of a name share one query, answered after the 128 ms round trip", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const fibers = yield* forkAll(10, () => customers.fetchCustomerId("customer-42"))

      yield* TestClock.adjust("127 millis")
      expect(yield* running(fibers)).toBe(10)
      expect(yield* queries).toBe(1)

      yield* TestClock.adjust("1 millis")
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual(Arr.replicate(42, 10))
      expect(yield* queries).toBe(1)
    }).pipe(Effect.provide(CustomersLive())))

  it.scoped("without singleflight every lookup is a query of its own", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const fibers = yield* forkAll(8, () => customers.fetchCustomerId("customer-42"))
      yield* TestClock.adjust("128 millis")
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual(Arr.replicate(42, 8))
      expect(yield* queries).toBe(8)
    }).pipe(Effect.provide(CustomersLive({ singleFlight: false }))))

  it.scoped("lookups of different names do not share, and each gets its own customer's id", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const fibers = yield* forkAll(9, (i) => customers.fetchCustomerId(`customer-${(i % 3) + 1}`))
      yield* TestClock.adjust("128 millis")
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3])
      expect(yield* queries).toBe(3)
    }).pipe(Effect.provide(CustomersLive())))

  it.scoped("the round trip is configurable", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const fiber = yield* Effect.fork(customers.fetchCustomerId("customer-7"))
      yield* TestClock.adjust("9 millis")
      expect(yield* running([fiber])).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe(7)
    }).pipe(Effect.provide(CustomersLive({}, { roundTrip: "10 millis" }))))

  it.scoped("an unknown name fails with CustomerNotFound once the query has run", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const fiber = yield* Effect.fork(customers.fetchCustomerId("nobody"))
      yield* TestClock.adjust("128 millis")
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(Exit.fail(new Customers.CustomerNotFound({ name: "nobody" })))
      expect(yield* queries).toBe(1)
    }).pipe(Effect.provide(CustomersLive())))

  it.scoped("a database failure is a DatabaseError for every caller of the flight", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const database = yield* Database.Database
      yield* database.query((sql) => sql`DROP TABLE customers`)
      const fibers = yield* forkAll(3, () => Effect.flip(customers.fetchCustomerId("customer-1")))
      yield* TestClock.adjust("128 millis")
      const errors = yield* Effect.forEach(fibers, Fiber.join)
      expect(errors.map((error) => error._tag)).toEqual(["DatabaseError", "DatabaseError", "DatabaseError"])
    }).pipe(Effect.provide(CustomersLive({}, { roundTrip: 0 }))))
})

describe("Database", () => {
  it.scoped("never runs more queries at once than it has connections: a burst queues behind the pool", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      // 20 different names, so that singleflight could not help even if it were on.
      const fibers = yield* forkAll(20, (i) => customers.fetchCustomerId(`customer-${i + 1}`))
      const finished = Effect.map(running(fibers), (left) => fibers.length - left)

      yield* TestClock.adjust("1 millis")
      expect({ started: yield* queries, finished: yield* finished }).toEqual({ started: 8, finished: 0 })
      yield* TestClock.adjust("128 millis")
      expect({ started: yield* queries, finished: yield* finished }).toEqual({ started: 16, finished: 8 })
      yield* TestClock.adjust("128 millis")
      expect({ started: yield* queries, finished: yield* finished }).toEqual({ started: 20, finished: 16 })
      yield* TestClock.adjust("128 millis")
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual(Arr.range(1, 20))
    }).pipe(Effect.provide(CustomersLive({ singleFlight: false }))))

  it.scoped("the pool's size is an option", () =>
    Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const fibers = yield* forkAll(5, (i) => customers.fetchCustomerId(`customer-${i + 1}`))
      yield* TestClock.adjust("1 millis")
      expect(yield* queries).toBe(2)
      yield* TestClock.adjust("256 millis")
      expect(yield* running(fibers)).toBe(1)
      yield* TestClock.adjust("128 millis")
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual([1, 2, 3, 4, 5])
    }).pipe(Effect.provide(CustomersLive({ singleFlight: false }, { connections: 2 }))))

  it.effect("a pool of no connections is a defect that says what is wrong", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(Database.layer({ filename: ":memory:", connections: 0 })))
      )
      expect(Exit.isFailure(exit) && String(Exit.causeOption(exit).pipe(Option.getOrThrow))).toContain(
        "connections must be a positive integer, got 0"
      )
    }))

  it.scoped("the file is created and seeded with 5000 customers on first start, and kept as it is afterwards", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* fs.makeTempDirectoryScoped()
      const filename = `${directory}/nested/customers.db`
      const count = Effect.flatMap(
        Database.Database,
        (database) => database.query((sql) => sql<{ readonly count: number }>`SELECT COUNT(*) AS count FROM customers`)
      )
      const DatabaseLive = Database.layer({ filename, roundTrip: 0 })

      const first = yield* Effect.gen(function*() {
        const database = yield* Database.Database
        const rows = (yield* count)[0]!.count
        const last = yield* database.query((sql) =>
          sql<{ readonly id: number }>`SELECT id FROM customers WHERE name = 'customer-5000'`
        )
        yield* database.query((sql) => sql`INSERT INTO customers (id, name) VALUES (5001, 'added later')`)
        return { rows, id: last[0]!.id }
      }).pipe(Effect.provide(DatabaseLive))
      expect(first).toEqual({ rows: 5000, id: 5000 })
      expect(yield* fs.exists(filename)).toBe(true)

      const second = yield* count.pipe(Effect.provide(DatabaseLive))
      expect(second[0]!.count).toBe(5001)
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
