/**
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as MetricLabel from "effect/MetricLabel"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type * as SingleFlight from "../SingleFlight.js"
import * as metrics from "./metrics.js"

/** @internal */
export const TypeId: SingleFlight.TypeId = Symbol.for("effect-singleflight/SingleFlight") as SingleFlight.TypeId

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/** @internal */
export class ReentrantCallError extends Data.TaggedError("ReentrantCallError")<{
  readonly key: unknown
}> {
  override get message(): string {
    return "SingleFlight: a call re-entered the key of a flight it is part of, which would wait for itself forever. " +
      "Use a different key for the inner call, or call the inner effect directly. The key is on the error's `key` field."
  }
}

/** @internal */
export class NoCurrentKeyError extends Data.TaggedError("NoCurrentKeyError")<{}> {
  override get message(): string {
    return "SingleFlight: the current key was read outside of any call of this group. " +
      "Read it only inside the effect given to `call` (or to a fiber forked from it)."
  }
}

/** @internal */
export class InvalidOptionsError extends Data.TaggedError("InvalidOptionsError")<{
  readonly option: string
  readonly reason: string
}> {
  override get message(): string {
    return `SingleFlight: invalid option \`${this.option}\`: ${this.reason}`
  }
}

// -----------------------------------------------------------------------------
// the current key
// -----------------------------------------------------------------------------

/**
 * One frame per call the current fiber is running the work of, innermost first.
 * A linked list rather than a single key so that nested calls of other groups
 * keep each group's own key readable, and re-entry can be detected anywhere up
 * the chain.
 */
interface Frame {
  readonly group: GroupImpl<unknown>
  readonly key: unknown
  readonly parent: Frame | undefined
}

/** @internal */
export const currentFrame: FiberRef.FiberRef<Frame | undefined> = globalValue(
  Symbol.for("effect-singleflight/SingleFlight/currentFrame"),
  () => FiberRef.unsafeMake<Frame | undefined>(undefined)
)

const isReentrant = (frame: Frame | undefined, group: GroupImpl<unknown>, key: unknown): boolean => {
  for (let current = frame; current !== undefined; current = current.parent) {
    if (current.group === group && Equal.equals(current.key, key)) return true
  }
  return false
}

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const abandonPolicies: ReadonlyArray<SingleFlight.AbandonPolicy> = [
  "interrupt",
  "interruptInBackground",
  "runToCompletion"
]

const validatePolicy = (option: string, value: unknown): SingleFlight.AbandonPolicy => {
  if (abandonPolicies.includes(value as SingleFlight.AbandonPolicy)) return value as SingleFlight.AbandonPolicy
  throw new InvalidOptionsError({
    option,
    reason: `expected one of ${abandonPolicies.map((policy) => `"${policy}"`).join(", ")}, got ${String(value)}`
  })
}

/**
 * `Duration.decode` clamps negative numbers and `NaN` to zero, which would
 * silently turn a typo into "off": check the raw input first.
 */
export const validateWindow = (option: string, input: Duration.DurationInput): Duration.Duration => {
  const invalid = (reason: string) => new InvalidOptionsError({ option, reason })
  if (typeof input === "number" && !(Number.isFinite(input) && input >= 0)) {
    throw invalid(`expected a finite, non-negative number of milliseconds, got ${input}`)
  }
  if (typeof input === "string" && input.trimStart().startsWith("-")) {
    throw invalid(`expected a non-negative duration, got "${input}"`)
  }
  if (Array.isArray(input) && !input.every((part) => Number.isFinite(part) && part >= 0)) {
    throw invalid(`expected a non-negative [seconds, nanos] tuple, got [${input.join(", ")}]`)
  }
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded)) throw invalid(`expected a Duration input such as "5 seconds", got ${String(input)}`)
  if (!Duration.isFinite(decoded.value)) throw invalid("expected a finite duration")
  return decoded.value
}

interface ResolvedOptions<K> {
  readonly name: string
  readonly metrics: boolean
  readonly renderKey: ((key: K) => string) | undefined
  readonly whenAbandoned: SingleFlight.AbandonPolicy
  readonly reuseSuccessFor: Duration.Duration
}

const renderAnyKey = (key: unknown): string =>
  typeof key === "string" ? key : Inspectable.stringifyCircular(Inspectable.toJSON(key))

const validateName = (name: unknown): string => {
  if (typeof name === "string" && name.length > 0) return name
  throw new InvalidOptionsError({ option: "name", reason: `expected a non-empty string, got ${String(name)}` })
}

const validateFlag = (option: string, value: unknown): boolean => {
  if (typeof value === "boolean") return value
  throw new InvalidOptionsError({ option, reason: `expected a boolean, got ${String(value)}` })
}

const validateKeyAttribute = <K>(
  keyAttribute: SingleFlight.Options<K>["keyAttribute"]
): ((key: K) => string) | undefined => {
  if (keyAttribute === undefined || keyAttribute === false) return undefined
  if (keyAttribute === true) return renderAnyKey
  if (typeof keyAttribute === "function") return keyAttribute
  throw new InvalidOptionsError({
    option: "keyAttribute",
    reason: `expected a boolean or a function from key to string, got ${String(keyAttribute)}`
  })
}

/** @internal */
export const resolveOptions = <K>(options: SingleFlight.Options<K> | undefined): ResolvedOptions<K> => ({
  name: options?.name === undefined ? "default" : validateName(options.name),
  metrics: options?.metrics === undefined ? true : validateFlag("metrics", options.metrics),
  renderKey: validateKeyAttribute(options?.keyAttribute),
  whenAbandoned: options?.whenAbandoned === undefined
    ? "interrupt"
    : validatePolicy("whenAbandoned", options.whenAbandoned),
  reuseSuccessFor: options?.reuseSuccessFor === undefined
    ? Duration.zero
    : validateWindow("reuseSuccessFor", options.reuseSuccessFor)
})

// -----------------------------------------------------------------------------
// observability
// -----------------------------------------------------------------------------

type Role = "leader" | "joiner" | "reused"

const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * Spans cost several microseconds each in effect 3 (ids, a clock read, an
 * attribute map), several times the rest of a call: they are made only when
 * someone can see them, that is when tracing is on and a tracer other than
 * Effect's built-in one is installed (OpenTelemetry's, a test's, DevTools').
 */
const isTraced = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  fiber.getFiberRef(FiberRef.currentTracerEnabled) &&
  Context.get(fiber.getFiberRef(DefaultServices.currentServices), Tracer.Tracer) !== nativeTracer

/** The span of the call being made on `fiber`: the one `call` opened around `enter`. */
const currentSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Tracer.Span | undefined => {
  const span = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
  return Option.isSome(span) && span.value._tag === "Span" ? span.value : undefined
}

/** The time on the fiber's own `Clock`, so that the `TestClock` drives durations too. */
const nowMillis = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
  Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock).unsafeCurrentTimeMillis()

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.isInterruptedOnly(exit.cause)
    ? "interrupted"
    : Cause.isFailure(exit.cause)
    ? "failure"
    : "defect"

// -----------------------------------------------------------------------------
// flights
// -----------------------------------------------------------------------------

/**
 * One execution of the shared work for one key.
 *
 * - `running`: the work's fiber is running; callers join it.
 * - `cancelling`: every waiter left and the fiber is being interrupted;
 *   newcomers wait for its finalizers, then start afresh.
 * - `settled`: the work ended with `exit`; the flight stays in the registry
 *   only while its success is reused (`reuseSuccessFor`).
 *
 * Waiters register an observer with `Effect.async` rather than await a
 * `Deferred` or the fiber: `Deferred.unsafeMake` costs about as much as a fork
 * in effect 3.22 (it copies the Effect prototype into every instance), and
 * `Fiber.await` sends a message to the work's fiber for every waiter, waking
 * it each time; see docs/semantics.md.
 */
class Flight {
  state: "running" | "cancelling" | "settled" = "running"
  /** Callers waiting now. */
  waiters = 1
  /** Callers that shared this execution, the one that started it included. */
  callers = 1
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  span: Tracer.Span | undefined = undefined
  exit: Exit.Exit<unknown, unknown> | undefined = undefined
  readonly observers = new Set<(exit: Exit.Exit<unknown, unknown>) => void>()
  constructor(
    readonly key: unknown,
    readonly whenAbandoned: SingleFlight.AbandonPolicy,
    readonly startedAt: number
  ) {}
}

// -----------------------------------------------------------------------------
// the group
// -----------------------------------------------------------------------------

type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * The implementation behind both `Group<K, A, E>` and the app-wide
 * `SingleFlight` service: the value and error types are only fixed by the
 * public interfaces.
 *
 * All of the registry's state changes happen in synchronous blocks (a fiber
 * cannot yield inside one), so "look up, then register and start" is atomic.
 * A `Ref<HashMap>` could not hold the fork in the same step, see
 * docs/semantics.md.
 */
class GroupImpl<K> {
  readonly [TypeId] = variance
  readonly flights = MutableHashMap.empty<K, Flight>()
  readonly running = new Set<Flight>()
  closed = false
  calls = 0
  executions = 0
  joined = 0
  reused = 0
  abandoned = 0
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>

  constructor(readonly options: ResolvedOptions<K>, readonly scope: Scope.Scope) {
    this.labels = metrics.labelsFor(options.name)
  }

  pipe() {
    return pipeArguments(this, arguments)
  }

  call<A, E, R>(
    key: K,
    effect: Effect.Effect<A, E, R>,
    options?: SingleFlight.CallOptions
  ): Effect.Effect<A, E, Exclude<R, Scope.Scope>> {
    return Effect.withFiberRuntime<unknown, unknown, R>((caller) => {
      // A bad per-call option is a programming mistake: thrown here, it becomes a defect.
      const whenAbandoned = options?.whenAbandoned === undefined
        ? this.options.whenAbandoned
        : validatePolicy("whenAbandoned", options.whenAbandoned)
      this.calls++
      this.update(metrics.calls, 1)
      const traced = isTraced(caller)
      const enter = this.enter(key, effect, whenAbandoned, traced)
      if (!traced) return enter
      return Effect.withSpan(enter, "SingleFlight.call", {
        attributes: this.spanAttributes(key),
        kind: "internal",
        captureStackTrace: false
      })
    }) as Effect.Effect<A, E, Exclude<R, Scope.Scope>>
  }

  spanAttributes(key: K): Record<string, unknown> {
    const attributes: Record<string, unknown> = { "singleflight.group": this.options.name }
    if (this.options.renderKey !== undefined) attributes["singleflight.key"] = this.options.renderKey(key)
    return attributes
  }

  /**
   * Says on the call's span how it was answered; a joiner's span links to the
   * execution it joined, so a trace shows who waited on whom.
   */
  annotateCall(caller: Fiber.RuntimeFiber<unknown, unknown>, role: Role, flight: Flight): void {
    const span = currentSpan(caller)
    if (span === undefined) return
    span.attribute("singleflight.role", role)
    if (role === "joiner" && flight.span !== undefined) {
      span.addLinks([{ _tag: "SpanLink", span: flight.span, attributes: { "singleflight.link": "joined" } }])
    }
  }

  /**
   * Joins the flight of `key`, or registers a new one and starts its fiber, in
   * one synchronous step under an uninterruptible mask: a caller can neither
   * be interrupted between becoming a waiter and installing the code that
   * un-registers it, nor leave a registered flight without a fiber.
   *
   * `traced`: whether `call` opened a call span; untraced, the current span
   * is the caller's own and must be left alone.
   */
  enter<R>(
    key: K,
    work: Effect.Effect<unknown, unknown, R>,
    whenAbandoned: SingleFlight.AbandonPolicy,
    traced: boolean
  ): Effect.Effect<unknown, unknown, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.withFiberRuntime<unknown, unknown, R>((caller, status) => {
        const frame = caller.getFiberRef(currentFrame)
        if (isReentrant(frame, this as GroupImpl<unknown>, key)) return Effect.die(new ReentrantCallError({ key }))
        if (this.closed) return Effect.interrupt

        const existing = MutableHashMap.get(this.flights, key)
        if (Option.isSome(existing)) {
          const flight = existing.value
          switch (flight.state) {
            case "settled": {
              this.reused++
              this.update(metrics.reused, 1)
              if (traced) this.annotateCall(caller, "reused", flight)
              return flight.exit!
            }
            case "cancelling": {
              // At most one execution per key at any instant: wait for the
              // cancelled run's finalizers, then try again from the start.
              // A newcomer interrupted meanwhile just leaves.
              return Effect.zipRight(
                restore(this.awaitSettled(flight)),
                this.enter(key, work, whenAbandoned, traced)
              )
            }
            case "running": {
              flight.waiters++
              flight.callers++
              this.joined++
              this.update(metrics.joined, 1)
              if (traced) this.annotateCall(caller, "joiner", flight)
              return this.wait(flight, restore)
            }
          }
        }

        const flight = new Flight(key, whenAbandoned, this.options.metrics ? nowMillis(caller) : 0)
        MutableHashMap.set(this.flights, key, flight)
        this.running.add(flight)
        this.executions++
        this.update(metrics.executions, 1)
        this.update(metrics.running, this.running.size)
        if (traced) this.annotateCall(caller, "leader", flight)
        // The fiber starts at once, in this very step (`runFork` runs it until
        // its first asynchronous boundary). It inherits the caller's context,
        // FiberRefs and its (uninterruptible) flags, so `settle` is installed
        // before any interruption can land; the work itself is interruptible.
        const runtime = Runtime.make({
          context: caller.currentContext as Context.Context<R>,
          fiberRefs: caller.getFiberRefs(),
          runtimeFlags: status.runtimeFlags
        })
        const innerFrame: Frame = { group: this as GroupImpl<unknown>, key, parent: frame }
        const execute = traced ? this.executeTraced(flight, work) : this.execute(flight, work)
        flight.fiber = Runtime.runFork(runtime)(execute, {
          updateRefs: (refs, fiberId) =>
            FiberRefs.updateAs(refs, { fiberId, fiberRef: currentFrame, value: innerFrame })
        })
        return this.wait(flight, restore)
      })
    )
  }

  /**
   * The body of the work's fiber. The work gets a `Scope` of its own, closed
   * when it ends, never the first caller's: the caller's scope would release
   * the shared resources under the other waiters. (This is `Effect.scoped`
   * without its uninterruptible mask, which the fiber already has. And the
   * scope goes straight into the fiber's context: the fiber is the work's
   * alone, so there is nothing to restore, and `Scope.extend`'s
   * `provideContext` would cost several times the rest of a call.)
   */
  execute<R>(flight: Flight, work: Effect.Effect<unknown, unknown, R>): Effect.Effect<unknown, unknown, R> {
    return Effect.flatMap(
      Scope.make(),
      (scope) =>
        FiberRef.update(FiberRef.currentContext, Context.add(Scope.Scope, scope)).pipe(
          Effect.zipRight(Effect.interruptible(work)),
          Effect.exit,
          Effect.flatMap((exit) => Effect.zipRight(Scope.close(scope, exit), this.settle(flight, exit)))
        )
    )
  }

  /**
   * {@link execute} in the `SingleFlight.execute` span, a child of the first
   * caller's call span and the parent of the work's spans.
   */
  executeTraced<R>(flight: Flight, work: Effect.Effect<unknown, unknown, R>): Effect.Effect<unknown, unknown, R> {
    const spanOptions: Tracer.SpanOptions = {
      attributes: this.spanAttributes(flight.key as K),
      kind: "internal",
      captureStackTrace: false
    }
    return Effect.useSpan("SingleFlight.execute", spanOptions, (span) => {
      flight.span = span
      return this.execute(flight, Effect.withParentSpan(work, span))
    })
  }

  /**
   * Runs in the work's fiber once the work and its scope ended, before the
   * fiber completes and its waiters resume: a waiter that calls again starts a
   * new execution instead of re-joining this one. The identity check keeps a
   * flight that was forgotten from evicting its successor.
   */
  settle(flight: Flight, exit: Exit.Exit<unknown, unknown>): Effect.Effect<unknown, unknown> {
    return Effect.withFiberRuntime((fiber) => {
      this.running.delete(flight)
      flight.state = "settled"
      flight.exit = exit
      this.record(fiber, flight, exit)
      const isCurrent = this.isCurrent(flight)
      const reuse = isCurrent && Exit.isSuccess(exit) && Duration.toMillis(this.options.reuseSuccessFor) > 0
      if (isCurrent && !reuse) MutableHashMap.remove(this.flights, flight.key)
      for (const observer of flight.observers) observer(exit)
      flight.observers.clear()
      return reuse ? Effect.zipRight(this.evictLater(flight), exit) : exit
    })
  }

  /** Updates one of the group's metrics, unless they are off. */
  update<Type, In, Out>(metric: Metric.Metric<Type, In, Out>, input: In): void {
    if (this.options.metrics) metric.unsafeUpdate(input, this.labels)
  }

  record(fiber: Fiber.RuntimeFiber<unknown, unknown>, flight: Flight, exit: Exit.Exit<unknown, unknown>): void {
    if (this.options.metrics) {
      this.update(metrics.running, this.running.size)
      this.update(metrics.callersPerExecution, flight.callers)
      this.update(metrics.executionDuration, nowMillis(fiber) - flight.startedAt)
    }
    if (flight.span !== undefined) {
      flight.span.attribute("singleflight.waiters", flight.waiters)
      flight.span.attribute("singleflight.callers", flight.callers)
      flight.span.attribute("singleflight.outcome", outcomeOf(exit))
    }
  }

  evictLater(flight: Flight): Effect.Effect<void> {
    return Effect.sleep(this.options.reuseSuccessFor).pipe(
      Effect.zipRight(Effect.sync(() => {
        if (this.isCurrent(flight)) MutableHashMap.remove(this.flights, flight.key)
      })),
      // forked from `settle`, which runs uninterruptibly: without this, closing
      // the group would wait for the whole window
      Effect.interruptible,
      Effect.forkIn(this.scope),
      Effect.asVoid
    )
  }

  isCurrent(flight: Flight): boolean {
    const current = MutableHashMap.get(this.flights, flight.key)
    return Option.isSome(current) && current.value === flight
  }

  /**
   * Waits for the flight's exit. Written with `Effect.exit` rather than
   * `onInterrupt`, which costs a second mask on this hot path.
   */
  wait(flight: Flight, restore: Restore): Effect.Effect<unknown, unknown> {
    // the work may have ended already, synchronously, inside `runFork`
    if (flight.state === "settled") return flight.exit!
    return Effect.flatMap(Effect.exit(restore(this.awaitExit(flight))), (exit) =>
      // A failure while the flight still runs is this caller's interruption:
      // leave, then end with it. Otherwise it is the work's own exit.
      Exit.isFailure(exit) && flight.state === "running" ? Effect.zipRight(this.leave(flight), exit) : exit)
  }

  /** Resumes once the flight settles, whatever its exit; fails only if the caller is interrupted. */
  awaitSettled(flight: Flight): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (flight.state === "settled") return resume(Effect.void)
      const observer = () => resume(Effect.void)
      flight.observers.add(observer)
      return Effect.sync(() => {
        flight.observers.delete(observer)
      })
    })
  }

  /** Resumes with the work's exit once the flight settles; interrupting it unregisters the observer. */
  awaitExit(flight: Flight): Effect.Effect<unknown, unknown> {
    return Effect.async<unknown, unknown>((resume) => {
      if (flight.state === "settled") return resume(flight.exit!)
      flight.observers.add(resume)
      return Effect.sync(() => {
        flight.observers.delete(resume)
      })
    })
  }

  /**
   * A waiter was interrupted. Only the last one to leave decides the fate of
   * the work; the others just stop waiting.
   */
  leave(flight: Flight): Effect.Effect<void> {
    return Effect.suspend(() => {
      // The work ended at the same instant: nothing to leave.
      if (flight.state !== "running") return Effect.void
      flight.waiters--
      if (flight.waiters > 0 || flight.whenAbandoned === "runToCompletion") return Effect.void
      this.abandoned++
      this.update(metrics.abandoned, 1)
      const fiber = flight.fiber!
      if (flight.whenAbandoned === "interruptInBackground") {
        if (this.isCurrent(flight)) MutableHashMap.remove(this.flights, flight.key)
        return Fiber.interruptFork(fiber)
      }
      // Stays registered while it finalizes, so that newcomers wait for it.
      flight.state = "cancelling"
      return Fiber.interrupt(fiber)
    })
  }

  forget(key: K): Effect.Effect<void> {
    return Effect.sync(() => {
      MutableHashMap.remove(this.flights, key)
    })
  }

  get key(): Effect.Effect<K> {
    return Effect.flatMap(FiberRef.get(currentFrame), (frame) => {
      for (let current = frame; current !== undefined; current = current.parent) {
        if (current.group === (this as GroupImpl<unknown>)) return Effect.succeed(current.key as K)
      }
      return Effect.die(new NoCurrentKeyError())
    })
  }

  get size(): Effect.Effect<number> {
    return Effect.sync(() => {
      let count = 0
      for (const [, flight] of this.flights) {
        if (flight.state !== "settled") count++
      }
      return count
    })
  }

  waiters(key: K): Effect.Effect<number> {
    return Effect.sync(() => {
      const flight = MutableHashMap.get(this.flights, key)
      return Option.isSome(flight) && flight.value.state === "running" ? flight.value.waiters : 0
    })
  }

  get stats(): Effect.Effect<SingleFlight.Stats> {
    return Effect.sync(() => ({
      calls: this.calls,
      executions: this.executions,
      joined: this.joined,
      reused: this.reused,
      abandoned: this.abandoned,
      running: this.running.size
    }))
  }

  /**
   * Every execution is interrupted, forgotten ones included, and close waits
   * for their finalizers. Their waiters end with the interruption; callers
   * that arrive later are interrupted at once.
   */
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      MutableHashMap.clear(this.flights)
      // a flight has no fiber yet only while its work runs synchronously inside `runFork`
      const fibers = Array.from(this.running, (flight) => flight.fiber).filter(Predicate.isNotUndefined)
      return Fiber.interruptAll(fibers)
    })
  }
}

const variance = {
  _K: (_: unknown) => _,
  _A: (_: unknown) => _,
  _E: (_: unknown) => _
}

// -----------------------------------------------------------------------------
// constructors, tag, accessors
// -----------------------------------------------------------------------------

/** @internal */
export const isGroup = (u: unknown): u is SingleFlight.Group<unknown, unknown, unknown> =>
  Predicate.hasProperty(u, TypeId)

const makeImpl = <K>(options?: SingleFlight.Options<K>): Effect.Effect<GroupImpl<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* Effect.try({
      try: () => resolveOptions(options),
      catch: (error) => error
    }).pipe(Effect.orDie)
    const scope = yield* Effect.scope
    const group = new GroupImpl<K>(resolved, scope)
    yield* Scope.addFinalizer(scope, group.close)
    return group
  })

/** @internal */
export const make = <K, A, E>(
  options?: SingleFlight.Options<NoInfer<K>>
): Effect.Effect<SingleFlight.Group<K, A, E>, never, Scope.Scope> =>
  // The value and error types exist only in the public interface.
  makeImpl<K>(options) as unknown as Effect.Effect<SingleFlight.Group<K, A, E>, never, Scope.Scope>

/** @internal */
export const makeService = (
  options?: SingleFlight.Options
): Effect.Effect<SingleFlight.SingleFlight, never, Scope.Scope> => makeImpl<unknown>(options)

/** @internal */
export const tag = Context.GenericTag<SingleFlight.SingleFlight>("effect-singleflight/SingleFlight")

/** @internal */
export const layerWith = (options?: SingleFlight.Options): Layer.Layer<SingleFlight.SingleFlight> =>
  Layer.scoped(tag, makeService(options))

/** @internal */
export const layer: Layer.Layer<SingleFlight.SingleFlight> = layerWith()

/** @internal */
export const call = <A, E, R>(
  key: unknown,
  effect: Effect.Effect<A, E, R>,
  options?: SingleFlight.CallOptions
): Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight.SingleFlight> =>
  Effect.flatMap(tag, (group) => group.call(key, effect, options))

/** @internal */
export const dedupe: {
  (
    key: unknown,
    options?: SingleFlight.CallOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight.SingleFlight>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: unknown,
    options?: SingleFlight.CallOptions
  ): Effect.Effect<A, E, Exclude<R, Scope.Scope> | SingleFlight.SingleFlight>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(self: Effect.Effect<A, E, R>, key: unknown, options?: SingleFlight.CallOptions) => call(key, self, options)
)

/** @internal */
export const forget = (key: unknown): Effect.Effect<void, never, SingleFlight.SingleFlight> =>
  Effect.flatMap(tag, (group) => group.forget(key))

/** @internal */
export const currentKey: Effect.Effect<unknown, never, SingleFlight.SingleFlight> = Effect.flatMap(
  tag,
  (group) => group.key
)
