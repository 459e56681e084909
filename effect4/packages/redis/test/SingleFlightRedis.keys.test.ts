import { type RedisServer, startRedisServer } from "@effect-singleflight/testing/RedisServer"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Deferred, Effect, Equal, Fiber, HashSet, Option, Schema, SchemaTransformation } from "effect"
import { SingleFlightRedis } from "../src/index.js"
import { testTiming } from "./fixtures/schemas.js"
import { capturingWarnings, connect } from "./utils/instances.js"

const { RedisConnection } = SingleFlightRedis

/** Two "instances" of a group keyed by `key`: same name, each on its own Redis connections. */
const pairOf = <K, KI>(server: RedisServer, name: string, key: Schema.Codec<K, KI>) =>
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
 * key is `Equal` to its own (the in-memory rule; on effect 4 `NaN` is `Equal`
 * to itself), or its own.
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
      return source.index === index || Equal.equals(source.key, key) ? [] : [{ key, got: source.key }]
    })
  })

/** One of `values`, each as likely. */
const pick = <A>(values: ReadonlyArray<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.map(
    Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: values.length - 1 }))),
    (index) => values[index]!
  )

/** A value of one of `arbitraries`, each as likely. */
const oneOf = <A>(...arbitraries: ReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  Arbitrary.flatMap(pick(arbitraries), (arbitrary) => arbitrary)

/** Up to three members from a small pool, in any order and with repeats: many equal collections. */
const members = <A>(member: Arbitrary.Arbitrary<A>) => Arbitrary.array(member, { maxLength: 3 })

const special = pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1])
const braces = pick(["{", "}", "{a}", "a{b}c", "", "null", "NaN", "Infinity", "n:1", "\u{1F600}", "e\u0301"])

/**
 * A key schema and an arbitrary of its keys that makes collisions likely
 * (small pools, special values), checked on a pair of instances of its own.
 */
const keyCase = <K, KI>(name: string, key: Schema.Codec<K, KI>, arb: Arbitrary.Arbitrary<K>) => ({
  name,
  check: (server: RedisServer) =>
    Effect.gen(function*() {
      const pair = yield* pairOf(server, `prop-${name}`, key)
      const result = yield* Arbitrary.checkEffect(
        Arbitrary.array(arb, { minLength: 2, maxLength: 6 }),
        (keys) => Effect.map(wave(pair, keys), (wrong) => wrong.length === 0),
        { runs: 12 }
      )
      expect(Arbitrary.formatCheckFailure(result), `schema ${name}`).toBeUndefined()
    })
})

const cases = [
  keyCase("number", Schema.Number, oneOf(special, Arbitrary.schema(Schema.Number))),
  keyCase("nullable-number", Schema.NullOr(Schema.Number), oneOf<number | null>(special, pick([null]))),
  keyCase("string", Schema.String, oneOf(braces, Arbitrary.schema(Schema.String))),
  // on effect 4 a plain tuple or struct is Equal by value: these keys are shared across processes
  keyCase("tuple", Schema.Tuple([Schema.Number, Schema.String]), Arbitrary.all([special, braces])),
  keyCase(
    "struct",
    Schema.Struct({ id: Schema.Number, tag: Schema.optionalKey(Schema.String) }),
    Arbitrary.map(
      Arbitrary.all([special, braces, pick([true, false])]),
      ([id, tag, tagged]): { readonly id: number; readonly tag?: string } => tagged ? { id, tag } : { id }
    )
  ),
  keyCase("set", Schema.ReadonlySet(Schema.String), Arbitrary.map(members(pick(["a", "b"])), (xs) => new Set(xs))),
  keyCase("hash-set", Schema.HashSet(Schema.Number), Arbitrary.map(members(pick([1, 2, 3])), HashSet.fromIterable)),
  keyCase(
    "map",
    Schema.ReadonlyMap(Schema.String, Schema.Number),
    Arbitrary.map(members(Arbitrary.all([pick(["a", "b"]), pick([1, 2])])), (entries) => new Map(entries))
  ),
  keyCase(
    "option",
    Schema.Option(Schema.Number),
    oneOf(pick([Option.none<number>()]), Arbitrary.map(special, Option.some))
  ),
  keyCase(
    "union",
    Schema.Union([Schema.Number, Schema.String, Schema.Null, Schema.Undefined, Schema.Boolean]),
    // pairs that a JSON encoding could merge: a number and its text, null and undefined, a boolean and its text
    pick<number | string | null | undefined | boolean>([
      ...[Number.NaN, "NaN", Number.POSITIVE_INFINITY, "Infinity", Number.NEGATIVE_INFINITY, "-Infinity", 0, -0, "0"],
      ...[null, "null", undefined, "undefined", true, "true", false]
    ])
  )
]

describe("SingleFlightRedis key identity", () => {
  it.live("keys that JSON would merge (NaN, ±Infinity, null; two sets) never share a flight across instances", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer
      const [a, b] = yield* pairOf(server, "specials", Schema.NullOr(Schema.Number))
      const release = yield* Deferred.make<void>()
      const slow = (value: string) => Deferred.await(release).pipe(Effect.as(value))
      const owner = yield* Effect.forkChild(a.call(Number.POSITIVE_INFINITY, slow("+inf")))
      yield* Effect.sleep("50 millis")
      const others = yield* Effect.forkChild(Effect.all([
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

  it.live("on effect 4, plain structs, tuples, options, sets and NaN are keys shared across instances", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer
      /** Calls an `Equal` copy of `key` on each instance at once: one execution between them. */
      const sharedBetween = <K, KI>(name: string, schema: Schema.Codec<K, KI>, make: () => K) =>
        Effect.gen(function*() {
          const [a, b] = yield* pairOf(server, name, schema)
          let runs = 0
          const work = Effect.sync(() => runs++).pipe(Effect.andThen(Effect.sleep("200 millis")), Effect.as(name))
          const answers = yield* Effect.all([a.call(make(), work), b.call(make(), work)], { concurrency: "unbounded" })
          expect(answers, name).toEqual([name, name])
          expect(runs, name).toBe(1)
          const [statsA, statsB] = [yield* a.redisStats, yield* b.redisStats]
          expect(statsA.followed + statsB.followed, name).toBe(1)
        })
      yield* sharedBetween("struct", Schema.Struct({ id: Schema.Number, region: Schema.String }), () => ({
        id: 1,
        region: "eu"
      }))
      yield* sharedBetween("tuple", Schema.Tuple([Schema.String, Schema.Number]), () => ["customer", 1] as const)
      yield* sharedBetween("option", Schema.Option(Schema.Number), () => Option.some(1))
      yield* sharedBetween("set", Schema.ReadonlySet(Schema.String), () => new Set(["a", "b"]))
      yield* sharedBetween("nan", Schema.Number, () => Number.NaN)
    }))

  it.live("a key that does not decode back to an Equal key runs in memory only, coalesced within its process, warned once", () =>
    Effect.gen(function*() {
      const server = yield* startRedisServer
      const admin = yield* connect(server)
      // A lossy encoding (1.4 goes to Redis as 1): the decoded key is not the caller's, so it cannot be shared.
      const Rounded = Schema.Number.pipe(
        Schema.decodeTo(Schema.Number, SchemaTransformation.transform({ decode: (n) => n, encode: Math.round }))
      )
      const [a, b] = yield* pairOf(server, "local-only", Rounded)
      let runs = 0
      const work = Effect.sync(() => runs++).pipe(Effect.andThen(Effect.sleep("100 millis")), Effect.as("v"))
      const warnings = yield* capturingWarnings((warnings) =>
        Effect.all([a.call(1.4, work), a.call(1.4, work), b.call(1.4, work), b.call(2.4, work)], {
          concurrency: "unbounded"
        }).pipe(Effect.as(warnings))
      )
      // a's two callers of one key share an execution in memory; nothing crosses to b, nothing reaches Redis
      expect(runs).toBe(3)
      expect(yield* admin.send(["KEYS", "sf:*"])).toEqual([])
      expect(yield* a.redisStats).toMatchObject({ owned: 0, ranLocally: 1 })
      expect(yield* b.redisStats).toMatchObject({ owned: 0, ranLocally: 2 })
      expect(warnings.filter((line) => line.includes("cannot be shared across processes"))).toHaveLength(2)
      expect(warnings[0]).toContain("does not decode back to an Equal key")
    }))

  it.live(
    "property: across two instances on one Redis, no caller ever gets a value computed for a key not Equal to its own",
    () =>
      Effect.gen(function*() {
        const server = yield* startRedisServer
        for (const keyCase of cases) yield* keyCase.check(server)
      }),
    60_000
  )
})
