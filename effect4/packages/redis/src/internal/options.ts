/**
 * @internal
 */
import { SingleFlight } from "effect-singleflight"
import * as Duration from "effect/Duration"
import type * as SingleFlightRedis from "../SingleFlightRedis.js"

const invalid = (option: string, reason: string) => new SingleFlight.InvalidOptionsError({ option, reason })

const positive = (option: string, input: Duration.Input): Duration.Duration => {
  const duration = SingleFlight.validateDuration(option, input)
  // Redis expiries are whole milliseconds; below one, PX would be rejected.
  if (Duration.toMillis(duration) < 1) throw invalid(option, "expected at least 1 millisecond")
  return duration
}

/** @internal */
export interface ResolvedOptions {
  readonly name: string
  readonly leaseMillis: number
  readonly renewEvery: Duration.Duration
  readonly pollEvery: Duration.Duration
  readonly resultTtlMillis: number
  readonly followerTimeout: Duration.Duration
  readonly onFollowerTimeout: "runLocally" | "fail"
  readonly whenAbandoned: SingleFlight.AbandonPolicy | undefined
  readonly reuseSuccessFor: Duration.Input | undefined
}

/** @internal */
export const defaults = {
  lease: Duration.seconds(5),
  pollEvery: Duration.millis(500),
  resultTtl: Duration.seconds(10)
} as const

const toWholeMillis = (duration: Duration.Duration): number => Math.ceil(Duration.toMillis(duration))

/**
 * Checks the protocol's timing against itself: a renewal must come before
 * the lease runs out, and a stored result must outlive a poll interval, or a
 * follower that missed the publication would find nothing and run the work
 * again.
 *
 * @internal
 */
export const resolve = <K, KI, A, AI, E, EI>(
  options: SingleFlightRedis.Options<K, KI, A, AI, E, EI>
): ResolvedOptions => {
  const name: unknown = options.name
  if (typeof name !== "string" || name.length === 0) throw invalid("name", "expected a non-empty string")
  // The key hash is the hash tag; braces in the name would move it.
  if (/[{}\s]/.test(name)) throw invalid("name", `expected no braces or whitespace, got "${name}"`)

  const lease = options.lease === undefined ? defaults.lease : positive("lease", options.lease)
  const leaseMillis = toWholeMillis(lease)
  const renewEvery = options.renewEvery === undefined
    ? Duration.millis(leaseMillis / 3)
    : positive("renewEvery", options.renewEvery)
  if (Duration.toMillis(renewEvery) >= leaseMillis) {
    throw invalid("renewEvery", `expected less than the lease (${leaseMillis} ms), got ${Duration.format(renewEvery)}`)
  }
  const pollEvery = options.pollEvery === undefined ? defaults.pollEvery : positive("pollEvery", options.pollEvery)
  const resultTtl = options.resultTtl === undefined ? defaults.resultTtl : positive("resultTtl", options.resultTtl)
  if (Duration.toMillis(resultTtl) <= Duration.toMillis(pollEvery)) {
    throw invalid(
      "resultTtl",
      `expected more than pollEvery (${Duration.format(pollEvery)}), got ${Duration.format(resultTtl)}`
    )
  }
  // Finite by default, so that no follower waits forever (an owner whose work
  // hangs while it renews its lease, say): time for a dead owner to be
  // replaced (lease + poll), and one more lease for its successor's work.
  const followerTimeout = options.followerTimeout === undefined
    ? Duration.millis(2 * leaseMillis + Duration.toMillis(pollEvery))
    : SingleFlight.validateDuration("followerTimeout", options.followerTimeout)
  const onFollowerTimeout = options.onFollowerTimeout ?? "runLocally"
  if (onFollowerTimeout !== "runLocally" && onFollowerTimeout !== "fail") {
    throw invalid("onFollowerTimeout", `expected "runLocally" or "fail", got ${String(onFollowerTimeout)}`)
  }
  return {
    name,
    leaseMillis,
    renewEvery,
    pollEvery,
    resultTtlMillis: toWholeMillis(resultTtl),
    followerTimeout,
    onFollowerTimeout,
    whenAbandoned: options.whenAbandoned,
    reuseSuccessFor: options.reuseSuccessFor
  }
}
