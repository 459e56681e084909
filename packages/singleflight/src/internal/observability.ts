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
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { Flight } from "./flight.js"
import * as metrics from "./metrics.js"

type AnyFiber = Fiber.RuntimeFiber<unknown, unknown>

/** How a call was answered. */
export type Role = "leader" | "joiner" | "reused"

/**
 * The events of a group. `running` is the number of executions running once
 * the event happened.
 *
 * @internal
 */
export interface Observer {
  /** A call arrived (before it is answered, re-entrant and late calls included). */
  readonly called: () => void
  /** How the call was answered: it started `flight`, joined it, or reused its success. */
  readonly answered: (caller: AnyFiber, role: Role, flight: Flight) => void
  /** The time the flight starts, as the duration metric will read it; 0 when nobody reads it. */
  readonly now: (caller: AnyFiber) => number
  readonly started: (running: number) => void
  /** The work, as the flight's fiber runs it (in the execution span when traced). */
  readonly execution: <R>(
    flight: Flight,
    work: Effect.Effect<unknown, unknown, R>
  ) => Effect.Effect<unknown, unknown, R>
  readonly settled: (fiber: AnyFiber, flight: Flight, exit: Exit.Exit<unknown, unknown>, running: number) => void
  readonly abandoned: () => void
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
const nowMillis = (fiber: AnyFiber): number =>
  Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock).unsafeCurrentTimeMillis()

/**
 * The metrics of the group named `name`. Every update passes the same label
 * array: metrics cache their hook by its identity (see `metrics.labelsFor`).
 *
 * @internal
 */
export const withMetrics = (name: string): Observer => {
  const labels = metrics.labelsFor(name)
  const update = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, input: In) => metric.unsafeUpdate(input, labels)
  return {
    called: () => update(metrics.calls, 1),
    answered: (_, role) => {
      if (role === "joiner") update(metrics.joined, 1)
      else if (role === "reused") update(metrics.reused, 1)
      else update(metrics.executions, 1)
    },
    now: nowMillis,
    started: (running) => update(metrics.running, running),
    execution: (_, work) => work,
    settled: (fiber, flight, _, running) => {
      update(metrics.running, running)
      update(metrics.callersPerExecution, flight.callers)
      update(metrics.executionDuration, nowMillis(fiber) - flight.startedAt)
    },
    abandoned: () => update(metrics.abandoned, 1)
  }
}

const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * Spans cost several microseconds each in effect 3 (ids, a clock read, an
 * attribute map), several times the rest of a call: they are made only when
 * someone can see them, that is when tracing is on and a tracer other than
 * Effect's built-in one is installed (OpenTelemetry's, a test's, DevTools').
 *
 * @internal
 */
export const isTraced = (fiber: AnyFiber): boolean =>
  fiber.getFiberRef(FiberRef.currentTracerEnabled) &&
  Context.get(fiber.getFiberRef(DefaultServices.currentServices), Tracer.Tracer) !== nativeTracer

/** The span of the call being made on `fiber`: the one `traced` opened around it. */
const currentSpan = (fiber: AnyFiber): Tracer.Span | undefined => {
  const span = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
  return Option.isSome(span) && span.value._tag === "Span" ? span.value : undefined
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.isInterruptedOnly(exit.cause)
    ? "interrupted"
    : Cause.isFailure(exit.cause)
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
        span.addLinks([{ _tag: "SpanLink", span: flight.span, attributes: { "singleflight.link": "joined" } }])
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
