import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Tracer } from "effect"
import { SingleFlight } from "effect-singleflight"
import { TestClock } from "effect/testing"

/** A tracer that records every span it makes, on top of Effect's own. */
const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = native.span(...args)
      spans.push(span)
      return span
    },
    context: native.context
  })
  return { spans, tracer } as const
})

const named = (spans: ReadonlyArray<Tracer.Span>, name: string) => spans.filter((span) => span.name === name)
const parentOf = (span: Tracer.Span) => Option.getOrUndefined(span.parent)

describe("SingleFlight tracing", () => {
  it.effect("a burst of N callers makes one execution span and N call spans, the joiners linked to it", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const group = yield* SingleFlight.make<string, number>({ name: "customers" })
      const work = Effect.as(Effect.sleep("1 second"), 1).pipe(Effect.withSpan("database.query"))
      const fibers = yield* Effect.forEach(
        Array.from({ length: 5 }),
        () => Effect.forkChild(group.call("customer-1", work).pipe(Effect.withTracer(tracer)))
      )
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.join)

      const [execution, ...otherExecutions] = named(spans, "SingleFlight.execute")
      expect(otherExecutions).toHaveLength(0)
      const calls = named(spans, "SingleFlight.call")
      expect(calls).toHaveLength(5)
      const leaders = calls.filter((span) => span.attributes.get("singleflight.role") === "leader")
      const joiners = calls.filter((span) => span.attributes.get("singleflight.role") === "joiner")
      expect([leaders.length, joiners.length]).toStrictEqual([1, 4])
      for (const joiner of joiners) {
        expect(joiner.links.map((link) => link.span)).toContain(execution)
      }
      // the execution is a child of the call that started it, and the work's spans are children of the execution
      expect(parentOf(execution!)).toBe(leaders[0])
      expect(parentOf(named(spans, "database.query")[0]!)).toBe(execution)
      expect(Object.fromEntries(execution!.attributes)).toStrictEqual({
        "singleflight.group": "customers",
        "singleflight.waiters": 5,
        "singleflight.callers": 5,
        "singleflight.outcome": "success"
      })
      expect(execution!.status._tag).toBe("Ended")
    }))

  it.effect("keys are not rendered into spans unless asked, then as given by the renderer", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const hidden = yield* SingleFlight.make<string, number>()
      const shown = yield* SingleFlight.make<ReturnType<typeof customerKey>, number>({ keyAttribute: true })
      const hashed = yield* SingleFlight.make<string, number>({ keyAttribute: (key) => `len:${key.length}` })
      const customerKey = (id: number) => ({ id })
      yield* Effect.all([
        hidden.call("alice@example.com", Effect.succeed(1)),
        shown.call(customerKey(7), Effect.succeed(1)),
        hashed.call("alice@example.com", Effect.succeed(1))
      ]).pipe(Effect.withTracer(tracer))
      const keys = spans.map((span) => span.attributes.get("singleflight.key"))
      expect(keys).toStrictEqual([undefined, undefined, "{\"id\":7}", "{\"id\":7}", "len:17", "len:17"])
    }))

  it.effect("with only Effect's built-in tracer, or with tracing off, no span is made: nobody could read it", () =>
    Effect.gen(function*() {
      const group = yield* SingleFlight.make<string, string>()
      const spanName = Effect.map(Effect.currentSpan, (span) => span.name).pipe(Effect.orElseSucceed(() => "none"))
      const [name, request] = yield* Effect.all([group.call("key", spanName), Effect.currentSpan]).pipe(
        Effect.withSpan("request")
      )
      expect(name).toBe("request")
      // and the caller's own span is left alone
      expect(request.attributes.has("singleflight.role")).toBe(false)
      const { spans, tracer } = yield* recordingTracer
      yield* group.call("key", spanName).pipe(Effect.withTracer(tracer), Effect.withTracerEnabled(false))
      expect(spans).toHaveLength(0)
      expect(yield* group.call("key", spanName).pipe(Effect.withTracer(tracer))).toBe("SingleFlight.execute")
    }))

  it.effect("a failing execution's span says so", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const group = yield* SingleFlight.make<string, number, string>()
      yield* Effect.exit(group.call("key", Effect.fail("nope")).pipe(Effect.withTracer(tracer)))
      yield* Effect.exit(group.call("key", Effect.die("boom")).pipe(Effect.withTracer(tracer)))
      const outcomes = named(spans, "SingleFlight.execute").map((span) => span.attributes.get("singleflight.outcome"))
      expect(outcomes).toStrictEqual(["failure", "defect"])
    }))
})
