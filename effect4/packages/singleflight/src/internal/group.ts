/**
 * The engine: a group's data, and the steps of a call as small functions
 * over it (enter, start, join, leave, settle, close).
 *
 * All of the registry's changes happen in synchronous blocks, which a fiber
 * cannot yield inside: "look up, then register and start" is one atomic
 * step. A `Ref<HashMap>` could not hold the fork in the same step, see
 * docs/semantics.md.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"
import type * as SingleFlight from "../SingleFlight.js"
import { frameOf, isReentrant, workContext } from "./currentKey.js"
import type { Frame } from "./currentKey.js"
import { NoCurrentKeyError, ReentrantCallError } from "./errors.js"
import { Flight, observe, Registry, settle, unobserve } from "./flight.js"
import * as observability from "./observability.js"
import type { Observer } from "./observability.js"
import { policyOf } from "./options.js"
import type { ResolvedOptions } from "./options.js"

/** @internal */
export const TypeId: SingleFlight.TypeId = Symbol.for("effect-singleflight/SingleFlight") as SingleFlight.TypeId

type AnyFiber = Fiber.Fiber<unknown, unknown>
type Work = Effect.Effect<unknown, unknown>

// -----------------------------------------------------------------------------
// the group
// -----------------------------------------------------------------------------

/**
 * The implementation behind both `Group<K, A, E>` and the app-wide
 * `SingleFlight` service: the value and error types are only fixed by the
 * public interfaces.
 *
 * @internal
 */
export class GroupImpl<K> {
  readonly [TypeId] = variance
  readonly registry = new Registry()
  /** Executions whose fiber runs, forgotten ones included: closing interrupts them all. */
  readonly running = new Set<Flight>()
  closed = false
  calls = 0
  executions = 0
  joined = 0
  reused = 0
  abandoned = 0

  constructor(
    readonly options: ResolvedOptions<K>,
    readonly scope: Scope.Scope,
    /** The group's metrics, or nothing when they are off. */
    readonly events: Observer
  ) {}

  pipe() {
    return pipeArguments(this, arguments)
  }

  call<A, E, R>(
    key: K,
    effect: Effect.Effect<A, E, R>,
    options?: SingleFlight.CallOptions
  ): Effect.Effect<A, E, Exclude<R, Scope.Scope>> {
    return call(this as GroupImpl<unknown>, key, effect as Work, options) as Effect.Effect<
      A,
      E,
      Exclude<R, Scope.Scope>
    >
  }

  forget(key: K): Effect.Effect<void> {
    return Effect.sync(() => this.registry.delete(key))
  }

  get key(): Effect.Effect<K> {
    return Effect.withFiber((fiber) => {
      for (let current = frameOf(fiber.context); current !== undefined; current = current.parent) {
        if (current.group === (this as GroupImpl<unknown>)) return Effect.succeed(current.key as K)
      }
      return Effect.die(new NoCurrentKeyError())
    })
  }

  get size(): Effect.Effect<number> {
    return Effect.sync(() => this.registry.size)
  }

  waiters(key: K): Effect.Effect<number> {
    return Effect.sync(() => {
      const flight = this.registry.get(key)
      return flight !== undefined && flight.state._tag === "Running" ? flight.waiters : 0
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

  get close(): Effect.Effect<void> {
    return close(this as GroupImpl<unknown>)
  }
}

const variance = {
  _K: (_: unknown) => _,
  _A: (_: unknown) => _,
  _E: (_: unknown) => _
}

// -----------------------------------------------------------------------------
// a call
// -----------------------------------------------------------------------------

/**
 * The call's decision is one synchronous step, made inside the register
 * function of an `Effect.callback`: an interruption lands either before it
 * (nothing happened) or once the callback is suspended, when the canceler
 * that un-counts the waiter is installed. So a caller can neither be
 * interrupted between becoming a waiter and installing that canceler, nor
 * leave a registered flight without a fiber, and no uninterruptible mask
 * (with its frames and closures) is needed on the hot path. Only the wait
 * itself is interruptible, as interruptible as the caller.
 */
const call = (
  group: GroupImpl<unknown>,
  key: unknown,
  work: Work,
  options: SingleFlight.CallOptions | undefined
): Effect.Effect<unknown, unknown> =>
  Effect.withFiber((caller) => {
    const policy = policyOf(group.options, options)
    if (!observability.isTraced(caller)) return enter({ group, key, work, policy, events: group.events }, caller, true)
    // traced, the call runs in its span
    return observability.traced(group.events, attributesOf(group, key), (events) =>
      Effect.withFiber((caller) =>
        enter({ group, key, work, policy, events }, caller, true)
      ))
  })

const attributesOf = (group: GroupImpl<unknown>, key: unknown): Record<string, unknown> => {
  const attributes: Record<string, unknown> = { "singleflight.group": group.options.name }
  if (group.options.renderKey !== undefined) attributes["singleflight.key"] = group.options.renderKey(key)
  return attributes
}

/** What one call asks, as its steps see it. */
interface Request {
  readonly group: GroupImpl<unknown>
  readonly key: unknown
  readonly work: Work
  /** The call's abandonment policy: the call that starts an execution decides. */
  readonly policy: SingleFlight.AbandonPolicy
  /** The group's metrics, plus the spans when the call is traced. */
  readonly events: Observer
}

type Resume = (effect: Effect.Effect<unknown, unknown>) => void

/**
 * Answers a call from the registry, or starts a flight. `arrived` is false
 * when a newcomer tries again after a cancelled run: the call is counted
 * once.
 */
const enter = (request: Request, caller: AnyFiber, arrived: boolean): Effect.Effect<unknown, unknown> =>
  Effect.callback<unknown, unknown>((resume) => decide(request, caller, arrived, resume))

/**
 * The synchronous step of a call: answers at once through `resume`, or
 * returns the canceler of a waiter (run on the caller's interruption).
 */
const decide = (
  request: Request,
  caller: AnyFiber,
  arrived: boolean,
  resume: Resume
): Effect.Effect<void> | void => {
  const { events, group, key } = request
  if (arrived) {
    group.calls++
    group.events.called(caller)
  }
  const frame = frameOf(caller.context)
  if (isReentrant(frame, group, key)) return resume(Effect.die(new ReentrantCallError({ key })))
  if (group.closed) return resume(Effect.interrupt)
  const flight = group.registry.get(key)
  if (flight === undefined) return start(request, caller, frame, resume)
  switch (flight.state._tag) {
    case "Settled": {
      group.reused++
      events.answered(caller, "reused", flight)
      return resume(flight.state.exit)
    }
    case "Cancelling": {
      // At most one execution per key at any instant: wait for the cancelled
      // run's finalizers, then try again from the start. A newcomer
      // interrupted meanwhile just leaves.
      return resume(Effect.andThen(awaitSettled(flight), enter(request, caller, false)))
    }
    case "Starting":
    case "Running": {
      flight.callers++
      group.joined++
      events.answered(caller, "joiner", flight)
      return wait(group, caller, flight, resume)
    }
  }
}

/** Registers a flight and starts its fiber. */
const start = (
  request: Request,
  caller: AnyFiber,
  /** The caller's own frame: the work's frame is pushed on it. */
  frame: Frame | undefined,
  resume: Resume
): Effect.Effect<void> | void => {
  const { events, group, key } = request
  const flight = new Flight(key, request.policy, events, events.now(caller))
  group.registry.set(key, flight)
  group.running.add(flight)
  group.executions++
  events.answered(caller, "leader", flight)
  events.started(caller, group.running.size)
  // The fiber starts at once, in this very step (`runForkWith` runs it until
  // its first asynchronous boundary), with the caller's context, the work's
  // own scope and this key's frame. It starts uninterruptible, so that
  // `finish` is installed before any interruption can land; the work itself
  // is interruptible. `Scope.makeUnsafe` allocates nothing until a finalizer
  // is added.
  const scope = Scope.makeUnsafe()
  const context = workContext(caller.context, scope, { group, key, parent: frame })
  const fiber = Effect.runForkWith(context)(events.execution(flight, execute(group, flight, request.work, scope)), {
    uninterruptible: true
  })
  // the work may have ended already, synchronously, inside `runForkWith`
  if (flight.state._tag === "Settled") return resume(flight.state.exit)
  flight.state = { _tag: "Running", fiber }
  // closed by the work itself while it ran inside `runForkWith`, before its fiber was known
  if (group.closed) fiber.interruptUnsafe(caller.id)
  return wait(group, caller, flight, resume)
}

/**
 * The body of the work's fiber. The work's scope is closed when it ends,
 * never the first caller's: the caller's scope would release the shared
 * resources under the other waiters.
 */
const execute = (
  group: GroupImpl<unknown>,
  flight: Flight,
  work: Work,
  scope: Scope.Closeable
): Effect.Effect<unknown, unknown> =>
  Effect.withFiber((fiber) =>
    Effect.flatMap(Effect.exit(Effect.interruptible(work)), (exit) => {
      // A scope that no finalizer was added to (most work's) closes at once, with no effect to run.
      const closing = Scope.closeUnsafe(scope, exit)
      return closing === undefined
        ? finish(group, fiber, flight, exit)
        : Effect.andThen(closing, Effect.suspend(() => finish(group, fiber, flight, exit)))
    })
  )

/**
 * Runs in the work's fiber once the work and its scope ended, before its
 * waiters resume: the flight leaves the registry first, so that a waiter that
 * calls again starts a new execution instead of re-joining this one.
 */
const finish = (
  group: GroupImpl<unknown>,
  fiber: AnyFiber,
  flight: Flight,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<unknown, unknown> => {
  group.running.delete(flight)
  const reuse = group.options.reuseSuccessMillis > 0 && Exit.isSuccess(exit) &&
    group.registry.get(flight.key) === flight
  if (!reuse) group.registry.deleteIfCurrent(flight)
  settle(flight, exit)
  flight.events.settled(fiber, flight, exit, group.running.size)
  return reuse ? Effect.andThen(evictLater(group, flight), exit) : exit
}

const evictLater = (group: GroupImpl<unknown>, flight: Flight): Effect.Effect<void> =>
  Effect.sleep(group.options.reuseSuccessFor).pipe(
    Effect.andThen(Effect.sync(() => group.registry.deleteIfCurrent(flight))),
    Effect.forkIn(group.scope),
    Effect.asVoid
  )

// -----------------------------------------------------------------------------
// waiting and leaving
// -----------------------------------------------------------------------------

/**
 * Makes the caller a waiter: `resume` is told the flight's exit. The
 * returned canceler runs only if the caller is interrupted while it waits
 * (effect 4 installs it as the suspended callback's finalizer, uninterruptible,
 * and ignores a resume that comes later); it is shared by the flight's
 * waiters, each of which leaves as the fiber that runs it.
 */
const wait = (group: GroupImpl<unknown>, caller: AnyFiber, flight: Flight, resume: Resume): Effect.Effect<void> => {
  flight.waiters++
  observe(flight, caller, resume)
  return flight.leave ??= Effect.withFiber((waiter) => leave(group, waiter, flight))
}

/** Resumes once the flight settles, whatever its exit; fails only if the caller is interrupted. */
const awaitSettled = (flight: Flight): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const observer = () => resume(Effect.void)
    const key = {}
    observe(flight, key, observer)
    return Effect.sync(() => unobserve(flight, key))
  })

/**
 * A waiter was interrupted. Only the last one to leave decides the fate of
 * the work; the others just stop waiting.
 */
const leave = (group: GroupImpl<unknown>, caller: AnyFiber, flight: Flight): Effect.Effect<void> => {
  // The work ended at the same instant: nothing to leave.
  if (flight.state._tag !== "Running") return Effect.void
  unobserve(flight, caller)
  flight.waiters--
  if (flight.waiters > 0 || flight.whenAbandoned === "runToCompletion") return Effect.void
  group.abandoned++
  group.events.abandoned(caller)
  const fiber = flight.state.fiber
  if (flight.whenAbandoned === "interruptInBackground") {
    group.registry.deleteIfCurrent(flight)
    fiber.interruptUnsafe(caller.id)
    return Effect.void
  }
  // Stays registered while it finalizes, so that newcomers wait for it.
  flight.state = { _tag: "Cancelling", fiber }
  return Fiber.interrupt(fiber)
}

/**
 * Every execution is interrupted, forgotten ones included, and close waits
 * for their finalizers. Their waiters end with the interruption; callers
 * that arrive later are interrupted at once.
 */
const close = (group: GroupImpl<unknown>): Effect.Effect<void> =>
  Effect.suspend(() => {
    group.closed = true
    group.registry.clear()
    const fibers: Array<AnyFiber> = []
    // a flight is still `Starting` only while its work runs synchronously inside `runForkWith`: `start` interrupts it
    for (const flight of group.running) {
      if (flight.state._tag === "Running" || flight.state._tag === "Cancelling") fibers.push(flight.state.fiber)
    }
    return Fiber.interruptAll(fibers)
  })
