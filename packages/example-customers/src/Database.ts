/**
 * The customer database: an SQLite file, created and seeded on first start,
 * behind a bounded pool of connections. Like a database server, it has a
 * capacity: a query waits for a free connection, then holds it for the round
 * trip (128 ms by default) and the statement. A burst of queries queues
 * behind the pool, and that queue is where a thundering herd's tail latency
 * comes from.
 */
import { Reactivity } from "@effect/experimental"
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Array as Arr, Context, Duration, Effect, Layer, Metric, Pool, Ref } from "effect"
import type { Scope } from "effect"
import { fileURLToPath } from "node:url"

/** How many customers a new database gets: `customer-1` (id 1) … `customer-5000` (id 5000). */
export const seedCount = 5000

/** `.data/customers.db` in this package (git-ignored), whatever the working directory. */
export const defaultFile: string = fileURLToPath(new URL("../.data/customers.db", import.meta.url))

/** The seed's artificial latency, `time.Sleep(time.Millisecond << 7)`: here, the round trip of a query. */
export const defaultRoundTrip: Duration.Duration = Duration.millis(128)

/** How many queries the database runs at once unless told otherwise. */
export const defaultConnections = 8

/** Rows per INSERT, well below SQLite's limit on bound parameters. */
const batchSize = 500

/**
 * `customers_db_queries_total`: queries that got a connection. Effect's
 * metric registry is global, so two databases in one process add up here;
 * {@link Database}'s `queries` counts one database alone.
 */
export const queriesTotal: Metric.Metric.Counter<number> = Metric.counter("customers_db_queries_total", {
  description: "Queries that got a connection of the customer database",
  incremental: true
})

/** `customers_db_queries_running`: queries holding a connection now, at most the pool's size. */
export const queriesRunning: Metric.Metric.Gauge<number> = Metric.gauge("customers_db_queries_running", {
  description: "Queries holding a connection of the customer database now"
})

export interface Options {
  /** The SQLite file, created and seeded if missing; `":memory:"` is a fresh temporary file, removed on release. */
  readonly filename: string
  /** The size of the pool: how many queries run at once; default {@link defaultConnections}. */
  readonly connections?: number | undefined
  /** How long each query holds its connection before the statement runs; default {@link defaultRoundTrip}. */
  readonly roundTrip?: Duration.DurationInput | undefined
}

export class Database extends Context.Tag("example-customers/Database")<Database, {
  /**
   * Runs `statement` on a connection of the pool: waits for a free one,
   * holds it for the round trip, then runs the statement and gives the
   * connection back.
   */
  readonly query: <A, E, R>(
    statement: (sql: SqlClient.SqlClient) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, Exclude<R, Scope.Scope>>
  /** Queries that got a connection of this database so far. */
  readonly queries: Effect.Effect<number>
  /** The size of the pool. */
  readonly connections: number
}>() {}

/**
 * Creates the table if it does not exist and seeds it if it is empty, in one
 * transaction: a database is either fully seeded or not at all.
 */
export const migrate: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`
    const [row] = yield* sql<{ readonly count: number }>`SELECT COUNT(*) AS count FROM customers`
    if ((row?.count ?? 0) > 0) return
    const customers = Arr.makeBy(seedCount, (i) => ({ id: i + 1, name: `customer-${i + 1}` }))
    yield* Effect.forEach(
      Arr.chunksOf(customers, batchSize),
      (batch) => sql`INSERT INTO customers ${sql.insert(batch)}`,
      { discard: true }
    )
    yield* Effect.logInfo(`seeded ${seedCount} customers`)
  }))
})

/** The file to open: `":memory:"` becomes a temporary file, because every connection of the pool must see one database. */
const resolveFile = (filename: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (filename === ":memory:") return path.join(yield* fs.makeTempDirectoryScoped(), "customers.db")
    yield* fs.makeDirectory(path.dirname(filename), { recursive: true })
    return filename
  }).pipe(Effect.orDie)

const checkConnections = (connections: number): number => {
  if (!Number.isInteger(connections) || connections < 1) {
    throw new RangeError(`Database: connections must be a positive integer, got ${connections}`)
  }
  return connections
}

/**
 * The pool, opened (all connections at once), migrated and seeded before the
 * layer is ready, and closed when it is released. A `connections` that is not
 * a positive integer is a defect.
 */
export const make = (
  options: Options
): Effect.Effect<
  Database["Type"],
  SqlError.SqlError,
  Scope.Scope | FileSystem.FileSystem | Path.Path | Reactivity.Reactivity
> =>
  Effect.gen(function*() {
    const connections = checkConnections(options.connections ?? defaultConnections)
    const roundTrip = Duration.decode(options.roundTrip ?? defaultRoundTrip)
    const filename = yield* resolveFile(options.filename)
    const pool = yield* Pool.make({ acquire: SqliteClient.make({ filename }), size: connections })
    const queries = yield* Ref.make(0)

    yield* Effect.scoped(
      Effect.flatMap(Pool.get(pool), (sql) => Effect.provideService(migrate, SqlClient.SqlClient, sql))
    )

    const hold = Effect.zipRight(
      Effect.zipRight(Ref.update(queries, (n) => n + 1), Metric.increment(queriesTotal)),
      Effect.acquireRelease(Metric.increment(queriesRunning), () => Metric.incrementBy(queriesRunning, -1))
    )

    const query = <A, E, R>(statement: (sql: SqlClient.SqlClient) => Effect.Effect<A, E, R>) =>
      Effect.scoped(Effect.gen(function*() {
        const sql = yield* Pool.get(pool)
        yield* hold
        yield* Effect.sleep(roundTrip)
        return yield* statement(sql)
      }))

    return { query, queries: Ref.get(queries), connections }
  })

/** {@link make} as a layer. */
export const layer = (options: Options): Layer.Layer<Database, SqlError.SqlError> =>
  Layer.scoped(Database, make(options)).pipe(Layer.provide(Layer.merge(NodeContext.layer, Reactivity.layer)))
