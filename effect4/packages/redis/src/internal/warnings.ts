/**
 * Rate-limited warnings: during a Redis outage under load every call fails
 * the same way, and one log line per call would flood the log.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Milliseconds on the monotonic clock (`currentTimeMillis` follows the wall
 * clock, which may jump): deadlines, poll times and warning intervals are
 * intervals.
 *
 * @internal
 */
export const monotonicMillis: Effect.Effect<number> = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos) / 1e6)

/**
 * How often a group logs each kind of failure at most.
 *
 * @internal
 */
export const warningInterval = Duration.seconds(10)

interface Kind {
  /** When a line of this kind was last logged. */
  loggedAt: number
  /** Warnings of this kind since that line, not logged: the next line reports the count. */
  suppressed: number
}

/**
 * One warning line per group and kind of failure per interval; the next line
 * of a kind says how many were left out, and closing the group logs what is
 * still left out. State is touched in one synchronous step per warning, so
 * concurrent fibers cannot interleave inside it.
 *
 * @internal
 */
export class Warnings {
  readonly kinds = new Map<string, Kind>()
  readonly intervalMillis: number

  constructor(readonly group: string, interval: Duration.Duration = warningInterval) {
    this.intervalMillis = Duration.toMillis(interval)
  }

  /** Logs `kind` (a fixed sentence: the same failure, whatever its cause) with `detail`, or counts it. */
  warn(kind: string, detail: string): Effect.Effect<void> {
    return Effect.flatMap(monotonicMillis, (now) => {
      const entry = this.kinds.get(kind)
      if (entry !== undefined && now - entry.loggedAt < this.intervalMillis) {
        entry.suppressed++
        return Effect.void
      }
      const suppressed = entry?.suppressed ?? 0
      this.kinds.set(kind, { loggedAt: now, suppressed: 0 })
      return Effect.logWarning(`SingleFlightRedis "${this.group}": ${kind} (${detail})${this.leftOut(suppressed)}`)
    })
  }

  /** Logs the count of every kind with warnings left out since its last line. */
  get flush(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const lines = Array.from(this.kinds, ([kind, entry]) => ({ kind, suppressed: entry.suppressed }))
        .filter(({ suppressed }) => suppressed > 0)
      this.kinds.clear()
      return Effect.forEach(
        lines,
        ({ kind, suppressed }) =>
          Effect.logWarning(`SingleFlightRedis "${this.group}": ${kind}${this.leftOut(suppressed)}`),
        { discard: true }
      )
    })
  }

  leftOut(suppressed: number): string {
    return suppressed === 0
      ? ""
      : `; ${suppressed} more like it not logged since the last such line (at most one every ${
        Duration.format(Duration.millis(this.intervalMillis))
      })`
  }
}
