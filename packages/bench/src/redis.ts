/**
 * The Redis scale-out scenarios, the same for both lines, next to the
 * in-memory group where it has a counterpart. The line starts a `redis-server`
 * of its own on a free loopback port; its two Redis groups are on separate
 * connections in this process, over loopback TCP: the round-trip cost a real
 * deployment adds to.
 */
import type { Group, Line } from "./line.js"
import { settle } from "./scenarios.js"

/** Milliseconds per call of one Redis scenario. */
export interface RedisSamples {
  readonly scenario: string
  readonly implementation: string
  readonly millis: Array<number>
  readonly note?: string | undefined
}

const signal = () => {
  let fire = () => {}
  const fired = new Promise<void>((resolve) => (fire = resolve))
  return { fire, fired }
}

/** Milliseconds taken by a call of a fresh key whose work returns at once. */
const uncontended = (group: Group) => async (key: string) => {
  const start = performance.now()
  await group(key, { value: 1 }).done
  return performance.now() - start
}

/**
 * Milliseconds from the end of the owner's work to the follower having the value. The follower joins while the
 * work runs (it waits 5 ms after the start of a 20 ms work, enough to be subscribed on loopback); a follower that
 * did not get the owner's value is one of `problems`.
 */
const followerLatency = (owner: Group, follower: Group, problems: Array<string>) => async (key: string) => {
  const started = signal()
  let workEnded = 0
  const owning = owner(key, {
    value: 1,
    after: (resume) => {
      started.fire()
      setTimeout(() => (workEnded = performance.now(), resume()), 20)
    }
  })
  await started.fired
  await settle(5)
  const value = await follower(key, { value: -1 }).done
  const latency = performance.now() - workEnded
  if (value !== 1) problems.push(`the follower of ${key} got ${value}, not the owner's value`)
  await owning.done
  return latency
}

/** Milliseconds from interrupting the owner to the start of the follower's own execution. */
const takeoverLatency = (owner: Group, follower: Group) => async (key: string) => {
  const started = signal()
  const owning = owner(key, { value: 1, after: started.fire })
  await started.fired
  let takenOverAt = 0
  const following = follower(key, { value: 1, after: (resume) => (takenOverAt = performance.now(), resume()) })
  await settle(5)
  const interruptedAt = performance.now()
  await owning.interrupt()
  await following.done
  return takenOverAt - interruptedAt
}

/**
 * `iterations` samples a row, the follower rows half, the takeover row a fifth, and every wrong result a follower got.
 * Fails when redis-server is missing.
 */
export const measureRedis = async (line: Line, iterations: number) => {
  const { a, b, close, local } = await line.redis()
  const problems: Array<string> = []
  /** `count` samples of `one`, one after the other, each on a key of its own. */
  const samples = async (count: number, prefix: string, one: (key: string) => Promise<number>) => {
    const millis: Array<number> = []
    for (let index = 0; index < count; index++) millis.push(await one(`${prefix}-${index}`))
    return millis
  }
  const row = (scenario: string, implementation: string, millis: Array<number>, note?: string) =>
    ({ scenario, implementation, millis, note }) satisfies RedisSamples
  const [inMemory, overRedis] = [
    "effect-singleflight (in-memory)",
    "@effect-singleflight/redis (loopback redis-server)"
  ]
  const [follower, followers] = ["follower latency after the owner finishes", Math.max(20, Math.round(iterations / 2))]
  try {
    await samples(200, "warm-local", uncontended(local))
    await samples(200, "warm-redis", uncontended(a))
    const rows = [
      row("uncontended call", inMemory, await samples(iterations, "local", uncontended(local))),
      row(
        "uncontended call",
        overRedis,
        await samples(iterations, "redis", uncontended(a)),
        "acquire + complete: 2 Redis round trips"
      ),
      row(follower, inMemory, await samples(followers, "f-local", followerLatency(local, local, problems))),
      row(
        follower,
        overRedis,
        await samples(followers, "f-redis", followerLatency(a, b, problems)),
        "owner and follower on separate connections; pub/sub delivery + Schema decode"
      ),
      row(
        "takeover after the owner is interrupted",
        overRedis,
        await samples(Math.max(10, Math.round(iterations / 5)), "t-redis", takeoverLatency(a, b)),
        "the owner gives its lease back and publishes; the follower takes the lease and runs"
      )
    ]
    return { rows, problems }
  } finally {
    await close()
  }
}
