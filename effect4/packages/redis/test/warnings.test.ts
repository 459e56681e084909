import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Warnings } from "../src/internal/warnings.js"
import { capturingWarnings as capturing } from "./utils/instances.js"

describe("rate-limited warnings", () => {
  it.effect("one line per kind per interval; the next line and the group's close report how many were left out", () =>
    capturing((lines) =>
      Effect.gen(function*() {
        const warnings = new Warnings("g")
        for (let i = 0; i < 5; i++) yield* warnings.warn("Redis is unavailable", `refused ${i}`)
        yield* warnings.warn("renewing a lease failed", "timeout")
        expect(lines).toEqual([
          "SingleFlightRedis \"g\": Redis is unavailable (refused 0)",
          "SingleFlightRedis \"g\": renewing a lease failed (timeout)"
        ])
        yield* TestClock.adjust("9999 millis")
        yield* warnings.warn("Redis is unavailable", "refused 5")
        expect(lines).toHaveLength(2)
        yield* TestClock.adjust("1 millis")
        yield* warnings.warn("Redis is unavailable", "refused 6")
        expect(lines[2]).toBe(
          "SingleFlightRedis \"g\": Redis is unavailable (refused 6); 5 more like it not logged since the last such " +
            "line (at most one every 10s)"
        )
        yield* warnings.warn("Redis is unavailable", "refused 7")
        yield* warnings.warn("Redis is unavailable", "refused 8")
        yield* warnings.flush
        expect(lines.slice(3)).toEqual([
          "SingleFlightRedis \"g\": Redis is unavailable; 2 more like it not logged since the last such line " +
          "(at most one every 10s)"
        ])
        // nothing left out, nothing to say
        yield* warnings.flush
        expect(lines).toHaveLength(4)
      })
    ))
})
