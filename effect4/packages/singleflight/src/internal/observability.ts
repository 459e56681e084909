/**
 * What a group tells the world: metrics per group, spans per traced call,
 * behind one small interface called once per event. A group without metrics
 * and a call without a tracer get observers whose methods do nothing.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import type { Flight } from "./flight.js"
import * as metrics from "./metrics.js"

type AnyFiber = Fiber.Fiber<unknown, unknown>

/** How a call was answered. */
export type Role = "leader" | "joiner" | "reused"

/**
 * The events of a group. `running` is the number of executions running once
 * the event happened. Each event gets the fiber it happens on: metrics go to
 * the `MetricRegistry` of that fiber's context.
 *
 * @internal
 */
export interface Observer {
  /** A call arrived (before it is answered, re-entrant and late calls included). */
  readonly called: (caller: AnyFiber) => void
  /** How the call was answered: it started `flight`, joined it, or reused its success. */
  readonly answered: (caller: AnyFiber, role: Role, flight: Flight) => void
  /** The time the flight starts, as the duration metric will read it; 0 when nobody reads it. */
  readonly now: (caller: AnyFiber) => number
  readonly started: (caller: AnyFiber, running: number) => void
  /** The work, as the flight's fiber runs it (in the execution span when traced). */
  readonly execution: <R>(
    flight: Flight,
    work: Effect.Effect<unknown, unknown, R>
  ) => Effect.Effect<unknown, unknown, R>
  readonly settled: (fiber: AnyFiber, flight: Flight, exit: Exit.Exit<unknown, unknown>, running: number) => void
  readonly abandoned: (caller: AnyFiber) => void
}

const ignore = () => {}

/** @internal */
export const silent: Observer = {
  called: ignore,
  answered: ignore,
  now: () => 0,
  started: ignore,
  execution: (_, work) => work,
  settled: ignore,
  abandoned: ignore
}

/** The time on the fiber's own `Clock`, so that the `TestClock` drives durations too. */
const nowMillis = (fiber: AnyFiber): number => fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()

/**
 * The metrics of the group named `name`, made with the group's attribute
 * (once per name) so that an update computes no attributes.
 *
 * @internal
 */
export const withMetrics = (name: string): Observer => {
  const group = metrics.ofGroup(name)
  return {
    called: (caller) => group.calls.updateUnsafe(1, caller.context),
    answered: (caller, role) => {
      const metric = role === "joiner" ? group.joined : role === "reused" ? group.reused : group.executions
      metric.updateUnsafe(1, caller.context)
    },
    now: nowMillis,
    started: (caller, running) => group.running.updateUnsafe(running, caller.context),
    execution: (_, work) => work,
    settled: (fiber, flight, _, running) => {
      group.running.updateUnsafe(running, fiber.context)
      group.callersPerExecution.updateUnsafe(flight.callers, fiber.context)
      group.executionDuration.updateUnsafe(nowMillis(fiber) - flight.startedAt, fiber.context)
    },
    abandoned: (caller) => group.abandoned.updateUnsafe(1, caller.context)
  }
}

/**
 * Spans are made only when someone can see them, that is when tracing is on
 * and a tracer other than Effect's built-in one is installed
 * (OpenTelemetry's, a test's, DevTools'): a span costs ids, clock reads and an
 * attribute map per call, which nobody would read.
 *
 * @internal
 */
export const isTraced = (fiber: AnyFiber): boolean =>
  // the tracer first: without one installed (the common case) that is the only read
  fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer && fiber.getRef(References.TracerEnabled)

/** The span of the call being made on `fiber`: the one `traced` opened around it. */
const currentSpan = (fiber: AnyFiber): Tracer.Span | undefined => {
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  return span !== undefined && span._tag === "Span" ? span : undefined
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.hasInterruptsOnly(exit.cause)
    ? "interrupted"
    : Cause.hasFails(exit.cause)
    ? "failure"
    : "defect"

const spanOptions = (attributes: Record<string, unknown>): Tracer.SpanOptions => ({
  attributes,
  kind: "internal",
  captureStackTrace: false
})

/**
 * A traced call: `call` runs in the `SingleFlight.call` span, and `observer`
 * (the group's metrics) is told every event, plus the spans'. The execution
 * it starts runs in the `SingleFlight.execute` span, a child of this call's
 * and the parent of the work's; a joiner's span links to it, so that a trace
 * shows who waited on whom.
 *
 * @internal
 */
export const traced = <A, E, R>(
  observer: Observer,
  attributes: Record<string, unknown>,
  call: (observer: Observer) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const spans: Observer = {
    ...observer,
    answered: (caller, role, flight) => {
      observer.answered(caller, role, flight)
      const span = currentSpan(caller)
      if (span === undefined) return
      span.attribute("singleflight.role", role)
      if (role === "joiner" && flight.span !== undefined) {
        span.addLinks([{ span: flight.span, attributes: { "singleflight.link": "joined" } }])
      }
    },
    execution: (flight, work) =>
      Effect.useSpan("SingleFlight.execute", spanOptions(attributes), (span) => {
        flight.span = span
        return observer.execution(flight, Effect.withParentSpan(work, span))
      }),
    settled: (fiber, flight, exit, running) => {
      observer.settled(fiber, flight, exit, running)
      if (flight.span === undefined) return
      flight.span.attribute("singleflight.waiters", flight.waiters)
      flight.span.attribute("singleflight.callers", flight.callers)
      flight.span.attribute("singleflight.outcome", outcomeOf(exit))
    }
  }
  return Effect.withSpan(call(spans), "SingleFlight.call", spanOptions(attributes))
}
