import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Result, Schema } from "effect"
import { SingleFlight } from "effect-singleflight"
import { resolve } from "../src/internal/options.js"
import {
  canonicalKey,
  flightKeys,
  hashCanonicalKey,
  newToken,
  parseMessage,
  scripts
} from "../src/internal/protocol.js"

const canonicalOf = (encoded: unknown): string => {
  const canonical = canonicalKey(encoded)
  assert(Result.isSuccess(canonical), "the value has a canonical form")
  return canonical.success
}

const hashOf = (encoded: unknown): string => hashCanonicalKey(canonicalOf(encoded))

/** The Redis Cluster hash tag of a key name: what lies between the first `{` and the next `}`. */
const hashTag = (name: string): string => name.slice(name.indexOf("{") + 1, name.indexOf("}", name.indexOf("{")))

describe("the Redis protocol", () => {
  it("equal encoded keys hash equally whatever the order of their properties, and different keys differently", () => {
    expect(hashOf({ id: 1, region: "eu" })).toBe(hashOf({ region: "eu", id: 1 }))
    expect(hashOf({ a: { x: 1, y: [1, 2] } })).toBe(hashOf({ a: { y: [1, 2], x: 1 } }))
    expect(hashOf({ id: 1, region: "eu" })).not.toBe(hashOf({ id: 2, region: "eu" }))
    expect(hashOf([1, 2])).not.toBe(hashOf([2, 1]))
    expect(hashOf("1")).not.toBe(hashOf(1))
    expect(hashOf("k")).toMatch(/^[0-9a-f]{64}$/)
  })

  it("the canonical form tells apart every value JSON would merge", () => {
    const values: ReadonlyArray<unknown> = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      0,
      -0,
      null,
      undefined,
      "null",
      BigInt(1),
      1,
      "1",
      true,
      "T",
      [],
      {},
      [undefined],
      [null],
      { a: undefined },
      new Set(),
      new Set(["a"]),
      new Set(["b"]),
      new Map(),
      new Map([["a", 1]]),
      new Map([["a", 2]]),
      [["a", 1]],
      new Date(0),
      new Date(Number.NaN),
      new Uint8Array([1]),
      ["a,b"],
      ["a", "b"],
      "{a}",
      "}"
    ]
    const forms = values.map(canonicalOf)
    expect(new Set(forms).size).toBe(values.length)
    expect(canonicalOf(new Set(["a", "b"]))).toBe(canonicalOf(new Set(["b", "a"])))
    expect(canonicalOf(new Map([["a", 1], ["b", 2]]))).toBe(canonicalOf(new Map([["b", 2], ["a", 1]])))
  })

  it("a value without a canonical form (a class instance, a function, a cycle) is refused with the reason", () => {
    const cycle: Array<unknown> = []
    cycle.push(cycle)
    expect(canonicalKey(new (class Point {})())).toEqual(Result.fail("its encoded form holds an instance of Point"))
    expect(canonicalKey(cycle)).toEqual(Result.fail("its encoded form holds a cycle"))
    expect(Result.isFailure(canonicalKey({ f: () => 1 }))).toBe(true)
    expect(Result.isFailure(canonicalKey({ [Symbol.for("s")]: 1 }))).toBe(true)
    // a value shared by two branches is not a cycle
    const shared = { x: 1 }
    expect(Result.isSuccess(canonicalKey([shared, shared]))).toBe(true)
  })

  it("the lease, results and channel of a key share one hash tag, and the group name is outside it", () => {
    const keys = flightKeys("customers", hashOf("k"))
    const names = [keys.lease, keys.channel, keys.result("t1"), keys.result("t2")]
    expect(new Set(names.map(hashTag))).toEqual(new Set([hashOf("k")]))
    expect(keys.lease).toBe(`sf:customers:{${hashOf("k")}}:lease`)
    expect(keys.result("t1")).not.toBe(keys.result("t2"))
  })

  it("a publication carries its token, and a payload only when the flight completed", () => {
    expect(parseMessage("abc\n{\"_tag\":\"Success\",\"value\":\"x\\ny\"}")).toEqual({
      token: "abc",
      payload: "{\"_tag\":\"Success\",\"value\":\"x\\ny\"}"
    })
    expect(parseMessage("abc\nline one\nline two")).toEqual({ token: "abc", payload: "line one\nline two" })
    expect(parseMessage("abc")).toEqual({ token: "abc", payload: undefined })
  })

  it.effect("tokens are 128 random bits, different each time", () =>
    Effect.gen(function*() {
      const tokens = yield* Effect.replicateEffect(newToken, 100)
      expect(new Set(tokens).size).toBe(100)
      for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{32}$/)
    }))

  it("every script is named by the SHA-1 of its source, as EVALSHA expects", () => {
    for (const script of Object.values(scripts)) expect(script.sha1).toMatch(/^[0-9a-f]{40}$/)
    expect(new Set(Object.values(scripts).map((script) => script.sha1)).size).toBe(4)
  })
})

describe("options", () => {
  const base = { name: "g", key: Schema.String, success: Schema.String }

  it("the defaults are a 5 s lease renewed every third of it, 500 ms polls, 10 s results, a 10.5 s follower timeout", () => {
    const resolved = resolve(base)
    expect(resolved.leaseMillis).toBe(5_000)
    expect(Duration.toMillis(resolved.renewEvery)).toBeCloseTo(5_000 / 3)
    expect(Duration.toMillis(resolved.pollEvery)).toBe(500)
    expect(resolved.resultTtlMillis).toBe(10_000)
    expect(Duration.toMillis(resolved.followerTimeout)).toBe(2 * 5_000 + 500)
    expect(Duration.toMillis(resolve({ ...base, lease: "1 second", pollEvery: 100 }).followerTimeout)).toBe(2_100)
    expect(resolved.onFollowerTimeout).toBe("runLocally")
  })

  it("renewal follows a shorter lease, and durations round up to whole milliseconds for Redis", () => {
    const resolved = resolve({ ...base, lease: Duration.micros(1_500n) })
    expect(resolved.leaseMillis).toBe(2)
    expect(Duration.toMillis(resolve({ ...base, lease: "600 millis" }).renewEvery)).toBe(200)
  })

  it("an invalid option is thrown as an InvalidOptionsError naming it", () => {
    const optionOf = (run: () => unknown): string | undefined => {
      try {
        run()
        return undefined
      } catch (error) {
        return error instanceof SingleFlight.InvalidOptionsError ? error.option : "not an InvalidOptionsError"
      }
    }
    expect(optionOf(() => resolve({ ...base, lease: Number.NaN }))).toBe("lease")
    expect(optionOf(() => resolve({ ...base, lease: "-1 second" }))).toBe("lease")
    expect(optionOf(() => resolve({ ...base, lease: Duration.micros(10n) }))).toBe("lease")
    expect(optionOf(() => resolve({ ...base, lease: "1 second", renewEvery: "2 seconds" }))).toBe("renewEvery")
    expect(optionOf(() => resolve({ ...base, pollEvery: 0 }))).toBe("pollEvery")
    expect(optionOf(() => resolve({ ...base, pollEvery: "1 second", resultTtl: "500 millis" }))).toBe("resultTtl")
    expect(optionOf(() => resolve({ ...base, followerTimeout: Duration.infinity }))).toBe("followerTimeout")
    expect(optionOf(() => resolve({ ...base, name: "with space" }))).toBe("name")
    expect(optionOf(() => resolve({ ...base, name: "x}" }))).toBe("name")
    expect(optionOf(() => resolve({ ...base, onFollowerTimeout: "retry" as "fail" }))).toBe("onFollowerTimeout")
  })
})
