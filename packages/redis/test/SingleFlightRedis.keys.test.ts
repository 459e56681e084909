import { type RedisServer, startRedisServer } from "@effect-singleflight/testing/RedisServer"
import { describe, expect, it } from "@effect/vitest"
import {
  Arbitrary,
  Data,
  Deferred,
  Effect,
  Equal,
  FastCheck,
  Fiber,
  HashSet,
  Logger,
  LogLevel,
  Runtime,
  Schema
} from "effect"
import { SingleFlightRedis } from "../src/index.js"
import { testTiming } from "./fixtures/schemas.js"
import { connect } from "./utils/instances.js"

const { RedisConnection } = SingleFlightRedis

/** Two "instances" of a group keyed by `key`: same name, each on its own Redis connections. */
const pairOf = <K, KI>(server: RedisServer, name: string, key: Schema.Schema<K, KI>) =>
  Effect.gen(function*() {
    const options = { name, key, success: Schema.String, ...testTiming }
    const a = yield* SingleFlightRedis.make(options).pipe(
      Effect.provideService(RedisConnection, yield* connect(server))
    )
    const b = yield* SingleFlightRedis.make(options).pipe(
      Effect.provideService(RedisConnection, yield* connect(server))
    )
    return [a, b] as const
  })

/**
 * Calls every key on both instances at once; each execution answers the index
 * of the call that ran it. A caller may only get the answer of a call whose
 * key is `Equal` to its own (the in-memory rule), or its own.
 */
const wave = <K>(
  pair: readonly [SingleFlightRedis.Group<K, string, never>, SingleFlightRedis.Group<K, string, never>],
  keys: ReadonlyArray<K>
) =>
  Effect.gen(function*() {
    const calls = keys.flatMap((key, index) => [
      { key, group: pair[0], index: 2 * index },
      { key, group: pair[1], index: 2 * index + 1 }
    ])
    const answers = yield* Effect.forEach(
      calls,
      ({ group, index, key }) => group.call(key, Effect.sleep("30 millis").pipe(Effect.as(String(index)))),
      { concurrency: "unbounded" }
    )
    return calls.flatMap(({ index, key }, position): Array<{ readonly key: K; readonly got: unknown }> => {
      const source = calls[Number(answers[position])]
      if (source === undefined) return [{ key, got: answers[position] }]
      return source.index === index || isSameKey(source.key, key) ? [] : [{ key, got: source.key }]
    })
  })

/** The in-memory group's notion of one key: `Equal`, and `SameValueZero` (where `NaN` is itself) for the rest. */
const isSameKey = (self: unknown, that: unknown): boolean =>
  Equal.equals(self, that) || (Number.isNaN(self) && Number.isNaN(that))

const special = FastCheck.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1)
const braces = FastCheck.constantFrom("{", "}", "{a}", "a{b}c", "", "null", "NaN", "n:1", "\u{1F600}", "e\u0301")

/**
 * A key schema and an arbitrary of its keys that makes collisions likely
 * (small pools, special values), checked on a pair of instances of its own.
 */
const keyCase = <K, KI>(name: string, key: Schema.Schema<K, KI>, arb: FastCheck.Arbitrary<K>) => ({
  name,
  check: (server: RedisServer, runtime: Runtime.Runtime<never>) =>
    Effect.gen(function*() {
      const pair = yield* pairOf(server, `prop-${name}`, key)
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(FastCheck.array(arb, { minLength: 2, maxLength: 6 }), async (keys) => {
            const wrong = await Runtime.runPromise(runtime)(wave(pair, keys))
            expect(wrong, `schema ${name}`).toEqual([])
          }),
          { numRuns: 12 }
        )
      )
    })
})

const cases = [
  keyCase("number", Schema.Number, FastCheck.oneof(special, FastCheck.double())),
  keyCase("nullable-number", Schema.NullOr(Schema.Number), FastCheck.oneof(special, FastCheck.constant(null))),
  keyCase(
    "string",
    Schema.String,
    FastCheck.oneof(
      braces,
      FastCheck.string({ unit: "grapheme", maxLength: 3 }),
      FastCheck.string({ unit: "binary", maxLength: 2 })
    )
  ),
  keyCase(
    "data-tuple",
    Schema.Data(Schema.Tuple(Schema.Number, Schema.String)),
    FastCheck.tuple(special, braces).map(([n, s]) => Data.tuple(n, s))
  ),
  keyCase("plain-tuple", Schema.Tuple(Schema.Number, Schema.String), FastCheck.tuple(special, braces)),
  keyCase(
    "data-struct",
    Schema.Data(Schema.Struct({ id: Schema.Number, tag: Schema.optional(Schema.String) })),
    FastCheck.record({ id: special, tag: braces }, { requiredKeys: ["id"] }).map(Data.struct)
  ),
  keyCase(
    "set",
    Schema.ReadonlySetFromSelf(Schema.String),
    Arbitrary.make(Schema.ReadonlySetFromSelf(Schema.Literal("a", "b")))
  ),
  keyCase("hash-set", Schema.HashSet(Schema.Number), Arbitrary.make(Schema.HashSetFromSelf(Schema.Literal(1, 2, 3)))),
  keyCase(
    "map",
    Schema.ReadonlyMapFromSelf({ key: Schema.String, value: Schema.Number }),
    Arbitrary.make(Schema.ReadonlyMapFromSelf({ key: Schema.Literal("a", "b"), value: Schema.Literal(1, 2) }))
  ),
  keyCase(
    "option",
    Schema.Option(Schema.Number),
    Arbitrary.make(Schema.OptionFromSelf(Schema.Literal(0, 1, Number.POSITIVE_INFINITY)))
  ),
  keyCase(
    "union",
    Schema.Union(Schema.Number, Schema.String, Schema.Null, Schema.Undefined, Schema.Boolean),
    FastCheck.oneof(special, braces, FastCheck.constantFrom(null, undefined, true, false, "true", "undefined"))
  )
]

describe("SingleFlightRedis key identity", () => {
  it.scopedLive("keys that JSON would merge (NaN, ±Infinity, null; two sets) never share a flight across instances", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer
      const [a, b] = yield* pairOf(server, "specials", Schema.NullOr(Schema.Number))
      const release = yield* Deferred.make<void>()
      const slow = (value: string) => Deferred.await(release).pipe(Effect.as(value))
      const owner = yield* Effect.fork(a.call(Number.POSITIVE_INFINITY, slow("+inf")))
      yield* Effect.sleep("50 millis")
      const others = yield* Effect.fork(Effect.all([
        b.call(Number.NEGATIVE_INFINITY, slow("-inf")),
        b.call(null, slow("null")),
        b.call(Number.POSITIVE_INFINITY, slow("+inf from b"))
      ], { concurrency: "unbounded" }))
      yield* Effect.sleep("100 millis")
      yield* Deferred.succeed(release, undefined)
      expect(yield* Fiber.join(owner)).toBe("+inf")
      // the same key does share: b's +Infinity follows a's flight
      expect(yield* Fiber.join(others)).toEqual(["-inf", "null", "+inf"])

      const [setA, setB] = yield* pairOf(server, "sets", Schema.HashSet(Schema.String))
      const sets = yield* Effect.all([
        setA.call(HashSet.make("a"), Effect.sleep("100 millis").pipe(Effect.as("{a}"))),
        setB.call(HashSet.make("b"), Effect.sleep("100 millis").pipe(Effect.as("{b}")))
      ], { concurrency: "unbounded" })
      expect(sets).toEqual(["{a}", "{b}"])
    }))

  it.scopedLive("a key that cannot be represented exactly runs in memory only, coalesced within its process, warned once", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer
      const admin = yield* connect(server)
      // A plain struct is Equal only to itself (as in memory), so its decoded copy is not: it cannot be shared.
      const [a, b] = yield* pairOf(server, "local-only", Schema.Struct({ id: Schema.Number }))
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel === LogLevel.Warning) warnings.push(String(message))
      })
      let runs = 0
      const work = Effect.sync(() => runs++).pipe(Effect.zipRight(Effect.sleep("100 millis")), Effect.as("v"))
      const key = { id: 1 }
      yield* Effect.all([a.call(key, work), a.call(key, work), b.call({ id: 1 }, work), b.call({ id: 2 }, work)], {
        concurrency: "unbounded"
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      // a's two callers of one key share an execution in memory; nothing crosses to b, nothing reaches Redis
      expect(runs).toBe(3)
      expect(yield* admin.send(["KEYS", "sf:*"])).toEqual([])
      expect(yield* a.redisStats).toMatchObject({ owned: 0, ranLocally: 1 })
      expect(yield* b.redisStats).toMatchObject({ owned: 0, ranLocally: 2 })
      expect(warnings.filter((line) => line.includes("cannot be shared across processes"))).toHaveLength(2)
      expect(warnings[0]).toContain("does not decode back to an Equal key")
    }))

  it.scopedLive(
    "property: across two instances on one Redis, no caller ever gets a value computed for a key not Equal to its own",
    () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        const runtime = yield* Effect.runtime<never>()
        for (const keyCase of cases) yield* keyCase.check(server, runtime)
      }),
    60_000
  )
})
