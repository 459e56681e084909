/**
 * The customer database: an SQLite file, created and seeded on first start.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Array as Arr, Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"

/** How many customers a new database gets: `customer-1` (id 1) … `customer-5000` (id 5000). */
export const seedCount = 5000

/** `.data/customers.db` in this package (git-ignored), whatever the working directory. */
export const defaultFile: string = fileURLToPath(new URL("../.data/customers.db", import.meta.url))

/** Rows per INSERT, well below SQLite's limit on bound parameters. */
const batchSize = 500

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

/**
 * The SQL client for the database at `filename` (its folder is created if
 * needed), migrated and seeded before the layer is ready.
 */
export const layer = (filename: string): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      if (filename !== ":memory:") {
        yield* fs.makeDirectory(path.dirname(filename), { recursive: true }).pipe(Effect.orDie)
      }
      return Layer.effectDiscard(migrate).pipe(
        Layer.provideMerge(Layer.orDie(SqliteClient.layer({ filename })))
      )
    })
  ).pipe(Layer.provide(NodeContext.layer))
