/**
 * The registry of a group and the life of one execution in it.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type * as SingleFlight from "../SingleFlight.js"
import type { Observer as Events } from "./observability.js"

/**
 * Where one execution stands. Each state carries exactly its own fields.
 *
 * - `Starting`: the work's fiber runs synchronously inside `runForkWith`,
 *   which has not returned it yet; nobody waits yet.
 * - `Running`: callers join it.
 * - `Cancelling`: every waiter left and the fiber is being interrupted;
 *   newcomers wait for its finalizers, then start afresh.
 * - `Settled`: the work ended with `exit`. The flight stays in the registry
 *   only while its success is reused (`reuseSuccessFor`).
 *
 * @internal
 */
export type State = State.Starting | State.Running | State.Cancelling | State.Settled

/** @internal */
export declare namespace State {
  /** @internal */
  export interface Starting {
    readonly _tag: "Starting"
  }
  /** @internal */
  export interface Running {
    readonly _tag: "Running"
    readonly fiber: Fiber.Fiber<unknown, unknown>
  }
  /** @internal */
  export interface Cancelling {
    readonly _tag: "Cancelling"
    readonly fiber: Fiber.Fiber<unknown, unknown>
  }
  /** @internal */
  export interface Settled {
    readonly _tag: "Settled"
    readonly exit: Exit.Exit<unknown, unknown>
  }
}

const starting: State.Starting = { _tag: "Starting" }

/** Told the work's exit once the flight settles: a waiter's `resume`, or a newcomer waiting out a cancellation. */
export type Observer = (exit: Exit.Exit<unknown, unknown>) => void

/**
 * One execution of the shared work for one key.
 *
 * Waiters register an observer on the flight rather than on the fiber: the
 * flight settles inside its fiber, after it left the registry and before a
 * reused success's eviction is scheduled, which is the instant waiters must
 * resume at; a `Deferred` would cost an allocation per flight for the same.
 *
 * @internal
 */
export class Flight {
  state: State = starting
  /**
   * Callers waiting now. Changed only under the waiter's uninterruptible
   * mask: a waiter counted here always runs the step that uncounts it.
   */
  waiters = 0
  /** Callers that shared this execution, the one that started it included. */
  callers = 1
  /**
   * Keyed by the waiting fiber (a fiber waits on one flight at a time), so
   * that a waiter that leaves removes its own observer without a canceler.
   * The first observer is held in two fields, and the map made only for a
   * second one: most flights have a single waiter (distinct keys, sequential
   * calls), and a `Map` per flight was a large share of their garbage.
   * Work that ends inside `runForkWith` has no observer at all.
   */
  firstKey: unknown = undefined
  first: Observer | undefined = undefined
  observers: Map<unknown, Observer> | undefined = undefined
  /** Its waiters' canceler, made by the first waiter: one per flight rather than one per waiter. */
  leave: Effect.Effect<void> | undefined = undefined
  /** The `SingleFlight.execute` span, when the call that started it is traced; joiners link to it. */
  span: Tracer.Span | undefined = undefined
  constructor(
    readonly key: unknown,
    readonly whenAbandoned: SingleFlight.AbandonPolicy,
    /** Told of the flight's events: the group's metrics, plus the spans when the starting call is traced. */
    readonly events: Events,
    /** The time it started, for the duration metric; 0 when metrics are off. */
    readonly startedAt: number
  ) {}
}

/**
 * Tells every observer the exit. Called once, by the flight's own fiber,
 * after the flight left the registry: an observer that calls again never
 * re-joins a finished flight.
 *
 * @internal
 */
export const settle = (flight: Flight, exit: Exit.Exit<unknown, unknown>): void => {
  flight.state = { _tag: "Settled", exit }
  const { first, observers } = flight
  flight.first = flight.firstKey = flight.observers = undefined
  // `first` is older than every observer of the map (see `observe`): waiters resume in the order they came
  if (first !== undefined) first(exit)
  if (observers !== undefined) { for (const observer of observers.values()) observer(exit) }
}

/**
 * A new observer takes the first slot only when nobody else observes, so
 * that the slot's observer is always older than the map's.
 *
 * @internal
 */
export const observe = (flight: Flight, key: unknown, observer: Observer): void => {
  if (flight.first === undefined && (flight.observers === undefined || flight.observers.size === 0)) {
    flight.firstKey = key
    flight.first = observer
  } else {
    ;(flight.observers ??= new Map()).set(key, observer)
  }
}

/** @internal */
export const unobserve = (flight: Flight, key: unknown): void => {
  if (flight.first !== undefined && flight.firstKey === key) flight.first = flight.firstKey = undefined
  else flight.observers?.delete(key)
}

/**
 * Strings, numbers and the other primitives are `Equal` exactly when they
 * are `===` (`NaN` aside, which a `Map` matches with itself), so they go to a
 * native `Map`; everything else compares with `Equal`/`Hash`. A primitive is
 * never `Equal` to an object, so the two halves never hold equal keys.
 *
 * @internal
 */
export class Registry {
  private readonly primitives = new Map<unknown, Flight>()
  private readonly structural = MutableHashMap.empty<unknown, Flight>()

  get(key: unknown): Flight | undefined {
    if (isPrimitive(key)) return this.primitives.get(key)
    const found = MutableHashMap.get(this.structural, key)
    return Option.isSome(found) ? found.value : undefined
  }

  set(key: unknown, flight: Flight): void {
    if (isPrimitive(key)) this.primitives.set(key, flight)
    else MutableHashMap.set(this.structural, key, flight)
  }

  delete(key: unknown): void {
    if (isPrimitive(key)) this.primitives.delete(key)
    else MutableHashMap.remove(this.structural, key)
  }

  /**
   * The identity check keeps a flight that was forgotten from evicting its
   * successor under the same key.
   */
  deleteIfCurrent(flight: Flight): void {
    if (this.get(flight.key) === flight) this.delete(flight.key)
  }

  clear(): void {
    this.primitives.clear()
    MutableHashMap.clear(this.structural)
  }

  /** Executions in flight (settled ones kept for reuse are not). */
  get size(): number {
    let count = 0
    for (const flight of this.primitives.values()) if (flight.state._tag !== "Settled") count++
    for (const [, flight] of this.structural) if (flight.state._tag !== "Settled") count++
    return count
  }
}

const isPrimitive = (key: unknown): boolean => {
  const type = typeof key
  return type !== "object" && type !== "function" || key === null
}
