/**
 * @internal
 */
import { SingleFlight } from "effect-singleflight"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type * as SingleFlightRedis from "../SingleFlightRedis.js"
import { RedisError, tag as connectionTag } from "./connection.js"
import { resolve, type ResolvedOptions } from "./options.js"
import * as protocol from "./protocol.js"
import { monotonicMillis, Warnings } from "./warnings.js"

/** @internal */
export class FollowerTimeoutError extends Data.TaggedError("FollowerTimeoutError")<{
  readonly group: string
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `SingleFlightRedis: group "${this.group}" waited ${
      Duration.format(this.timeout)
    } for another process to finish the work. ` +
      "Raise `followerTimeout`, or set `onFollowerTimeout: \"runLocally\"` to run the work in this process instead."
  }
}

// -----------------------------------------------------------------------------
// the outcome of one coordination
// -----------------------------------------------------------------------------

/** How a call is answered once the processes have agreed. */
type Plan<A, E> =
  | { readonly _tag: "Answered"; readonly exit: Exit.Exit<A, E> }
  | { readonly _tag: "RunLocally"; readonly reason: string; readonly cause: unknown }
  | { readonly _tag: "TimedOut" }

/**
 * One turn of the negotiation: a plan, or `Vacant` when the owner we followed
 * went away without a result (its lease expired, or it gave it back), so the
 * lease is up for grabs again.
 */
type Turn<A, E> = Plan<A, E> | { readonly _tag: "Vacant" }

/** What a follower heard while waiting for the next poll. */
type Heard =
  | { readonly _tag: "Published"; readonly payload: string }
  | { readonly _tag: "Vacant" }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "PollDue" }

const vacant = { _tag: "Vacant" } as const
const timedOut = { _tag: "TimedOut" } as const
const pollDue = { _tag: "PollDue" } as const

const runLocally = (reason: string, cause: unknown) => ({ _tag: "RunLocally", reason, cause }) as const

/** A short reason for a log line: a Redis error's own cause, a parse error's message. */
const reasonOf = (cause: unknown): string => {
  if (cause instanceof RedisError) return `${cause.operation}: ${reasonOf(cause.cause)}`
  return cause instanceof Error ? cause.message : String(cause)
}

// -----------------------------------------------------------------------------
// the coordinator: the cross-process protocol run inside the in-memory flight
// -----------------------------------------------------------------------------

interface MutableRedisStats {
  owned: number
  followed: number
  takeovers: number
  ranLocally: number
  timedOut: number
}

class Coordinator<K, A, E> {
  readonly stats: MutableRedisStats = { owned: 0, followed: 0, takeovers: 0, ranLocally: 0, timedOut: 0 }
  readonly encodeKey: (key: K) => Result.Result<unknown, unknown>
  readonly decodeKey: (encoded: unknown) => Result.Result<K, unknown>
  /** Set by the first key that cannot be shared across processes: the warning is logged once per group. */
  warnedLocalOnly = false
  readonly warnings: Warnings
  readonly encodeExit: (exit: Exit.Exit<A, E>) => Result.Result<string, unknown>
  readonly decodeExit: (payload: string) => Result.Result<Exit.Exit<A, E>, unknown>
  readonly pollEvery: number
  readonly followerTimeout: number

  constructor(
    readonly options: ResolvedOptions,
    readonly connection: SingleFlightRedis.RedisConnection,
    /** The group's scope: clean-up forked into it is bounded by it. */
    readonly scope: Scope.Scope,
    keySchema: Schema.Codec<K, unknown>,
    exitSchema: Schema.Codec<Exit.Exit<A, E>, string>
  ) {
    this.warnings = new Warnings(options.name)
    this.encodeKey = Schema.encodeResult(keySchema)
    this.decodeKey = Schema.decodeUnknownResult(keySchema)
    this.encodeExit = Schema.encodeResult(exitSchema)
    this.decodeExit = Schema.decodeResult(exitSchema)
    this.pollEvery = Duration.toMillis(options.pollEvery)
    this.followerTimeout = Duration.toMillis(options.followerTimeout)
  }

  /**
   * Runs `work` for `key` across processes. Called at most once per key and
   * in-memory flight, inside the flight's own fiber: every local waiter of the
   * flight shares the answer.
   */
  run<R>(key: K, work: Effect.Effect<A, E, R>): Effect.Effect<A, E | FollowerTimeoutError, R> {
    return Effect.suspend(() => {
      const identity = this.identify(key)
      if (Result.isFailure(identity)) return this.runLocalOnly(identity.failure, work)
      const keys = protocol.flightKeys(this.options.name, identity.success)
      return Effect.flatMap(this.negotiate(keys, work), (plan): Effect.Effect<A, E | FollowerTimeoutError, R> => {
        switch (plan._tag) {
          case "Answered":
            return plan.exit
          case "RunLocally":
            return this.runLocally(work, plan)
          case "TimedOut": {
            this.stats.timedOut++
            return this.options.onFollowerTimeout === "fail"
              ? Effect.fail(
                new FollowerTimeoutError({ group: this.options.name, timeout: this.options.followerTimeout })
              )
              : this.runLocally(work, runLocally("timed out waiting for the owner's result", "followerTimeout"))
          }
        }
      })
    })
  }

  /**
   * The hash a key's Redis names derive from, or why the key cannot be
   * shared across processes. Two processes share a flight only when their
   * keys have the same canonical encoding (see `protocol.canonicalKey`) and
   * each key is `Equal` to what its encoding decodes to: by transitivity the
   * two keys are then `Equal` too. A schema whose encoding loses something
   * (a lossy transformation, a class instance that is only equal to itself)
   * fails the second check.
   */
  identify(key: K): Result.Result<string, string> {
    const encoded = this.encodeKey(key)
    if (Result.isFailure(encoded)) return Result.fail(`it could not be encoded (${reasonOf(encoded.failure)})`)
    const canonical = protocol.canonicalKey(encoded.success)
    if (Result.isFailure(canonical)) return canonical
    const decoded = this.decodeKey(encoded.success)
    if (Result.isSuccess(decoded) && Equal.equals(decoded.success, key)) {
      return Result.succeed(protocol.hashCanonicalKey(canonical.success))
    }
    return Result.fail("it does not decode back to an Equal key")
  }

  /**
   * A key that cannot be shared runs without Redis; the in-memory group still
   * coalesces it within this process. Warned once per group, not per call:
   * such keys tend to come from the group's key schema, so every call would.
   */
  runLocalOnly<R>(reason: string, work: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      this.stats.ranLocally++
      if (this.warnedLocalOnly) return work
      this.warnedLocalOnly = true
      return Effect.logWarning(
        `SingleFlightRedis "${this.options.name}": a key cannot be shared across processes ` +
          `because ${reason}; such keys are coalesced within each process only. Keys that are Equal by value ` +
          "(strings, numbers, structs, tuples, options) are shared. This is logged once per group."
      ).pipe(Effect.andThen(work))
    })
  }

  runLocally<R>(
    work: Effect.Effect<A, E, R>,
    plan: { readonly reason: string; readonly cause: unknown }
  ): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      this.stats.ranLocally++
      return this.warnings.warn(
        `${plan.reason}; running the work in this process, without a lease`,
        reasonOf(plan.cause)
      )
        .pipe(Effect.andThen(work))
    })
  }

  /**
   * Takes the lease or follows its holder, until the call has an answer. The
   * subscription to the key's channel is made the first time this process
   * follows, and kept until the end (a follower may follow several owners in
   * turn when they go away). A Redis error anywhere here means "run locally":
   * the work's own failures never reach this error channel, they are in the
   * owner's `Exit`.
   */
  negotiate<R>(keys: protocol.FlightKeys, work: Effect.Effect<A, E, R>): Effect.Effect<Plan<A, E>, never, R> {
    return Effect.gen({ self: this }, function*() {
      const deadline = (yield* monotonicMillis) + this.followerTimeout
      // Made by the first follow: an owner needs neither.
      let mailbox: Queue.Queue<string> | undefined
      let followedBefore = false

      const follow = (holder: string | null): Effect.Effect<Turn<A, E>, RedisError, Scope.Scope> =>
        Effect.gen({ self: this }, function*() {
          if (holder === null) return runLocally("the lease holder could not be read", "empty reply")
          followedBefore = true
          if (mailbox === undefined) {
            const messages = yield* Queue.unbounded<string>()
            yield* this.connection.subscribe(keys.channel, (message) => Queue.offerUnsafe(messages, message))
            mailbox = messages
          }
          return yield* this.awaitOwner(keys, holder, mailbox, deadline)
        })

      for (;;) {
        const token = yield* protocol.newToken
        // The lease is taken uninterruptibly and released whatever happens to
        // the work, so that an interrupted owner gives it back at once rather
        // than leaving followers waiting for it to expire.
        const turn = yield* Effect.acquireUseRelease(
          protocol.acquire(this.connection, keys, token, this.options.leaseMillis),
          (holder): Effect.Effect<Turn<A, E>, RedisError, R | Scope.Scope> =>
            holder === token ? this.own(keys, token, work, followedBefore) : follow(holder),
          // Settling (publishing, or giving the lease back) is one round trip the
          // local callers need not wait for: with a frozen Redis it would cost
          // them a whole command timeout.
          (holder, exit) => holder === token ? this.inBackground(this.settle(keys, token, exit)) : Effect.void
        )
        if (turn._tag !== "Vacant") return turn
      }
    }).pipe(
      (negotiation) => this.withBackgroundScope(negotiation),
      Effect.catchTag("RedisError", (error) => Effect.succeed(runLocally("Redis is unavailable", error)))
    )
  }

  /**
   * `Effect.scoped`, except that the scope (the follower's subscription) is
   * closed in the background: unsubscribing from a Redis that stopped
   * answering takes a whole command timeout, and the caller has its answer
   * (or its fallback) already.
   */
  withBackgroundScope<X, Y, R>(
    effect: Effect.Effect<X, Y, R | Scope.Scope>
  ): Effect.Effect<X, Y, Exclude<R, Scope.Scope>> {
    return Effect.acquireUseRelease(
      Scope.make(),
      (scope) => Scope.provide(effect, scope),
      (scope, exit) => this.inBackground(Scope.close(scope, exit))
    )
  }

  /**
   * Runs clean-up in a fiber of the group's scope, so that no caller waits for
   * it. Uninterruptible (effect 4 forks interruptible fibers by default, even
   * from a finalizer), so that closing the group waits for a result to be
   * published rather than cutting it off; each step is bounded by
   * `commandTimeout`.
   */
  inBackground(cleanUp: Effect.Effect<void>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(cleanUp, this.scope, { uninterruptible: true }))
  }

  own<R>(
    keys: protocol.FlightKeys,
    token: string,
    work: Effect.Effect<A, E, R>,
    takeover: boolean
  ): Effect.Effect<Turn<A, E>, never, R> {
    return Effect.gen({ self: this }, function*() {
      this.stats.owned++
      if (takeover) this.stats.takeovers++
      const renewal = yield* Effect.forkChild(this.renewLease(keys, token))
      // The renewal stops before the lease is settled, or it would find the
      // lease gone and warn. Not awaited: a renewal cut short changes nothing
      // (the scripts compare tokens), and the callers need not wait for it.
      const exit = yield* Effect.exit(work).pipe(
        Effect.ensuring(Effect.flatMap(Effect.fiberId, (id) => Effect.sync(() => renewal.interruptUnsafe(id))))
      )
      return { _tag: "Answered", exit } as const
    })
  }

  /**
   * Keeps the lease alive while the work runs. A lost lease (a pause longer
   * than the lease, say) cannot be won back safely: another process may
   * already run the work, so renewal stops and the work carries on.
   */
  renewLease(keys: protocol.FlightKeys, token: string): Effect.Effect<void> {
    const renewOnce = protocol.renew(this.connection, keys, token, this.options.leaseMillis).pipe(
      Effect.catch((error) => Effect.as(this.warnings.warn("renewing a lease failed", reasonOf(error)), true))
    )
    return Effect.sleep(this.options.renewEvery).pipe(
      Effect.andThen(renewOnce),
      Effect.repeat({ while: (held) => held }),
      Effect.andThen(this.warnings.warn(
        "the lease was lost while the work ran; another process may be running the same work",
        "a renewal found another holder"
      ))
    )
  }

  /**
   * After the owner's turn: publish the `Exit`, or give the lease back when
   * there is nothing to share (the work was interrupted) so that a follower
   * takes over at once. A result that cannot be encoded is published as a
   * marker: its followers then run the work at once, side by side, instead of
   * taking the lease one after another and failing to encode it in turn.
   * Never fails: the local callers have their answer whatever Redis does now.
   */
  settle(
    keys: protocol.FlightKeys,
    token: string,
    exit: Exit.Exit<Turn<A, E>, unknown>
  ): Effect.Effect<void> {
    const warn = (what: string) => (error: unknown) => this.warnings.warn(what, reasonOf(error))
    const giveBack = protocol.release(this.connection, keys, token).pipe(
      Effect.catch(warn("giving a lease back failed; followers take over when it expires"))
    )
    if (Exit.isFailure(exit) || exit.value._tag !== "Answered") return giveBack
    const workExit = exit.value.exit
    if (Exit.isFailure(workExit) && Cause.hasInterruptsOnly(workExit.cause)) return giveBack
    const encoded = this.encodeExit(workExit)
    const publish = (payload: string) =>
      protocol.complete(this.connection, keys, token, payload, this.options.resultTtlMillis).pipe(
        Effect.catch(warn("publishing a result failed; followers take over when the lease expires"))
      )
    if (Result.isSuccess(encoded)) return publish(encoded.success)
    return warn("the result could not be encoded; its followers run the work themselves")(encoded.failure).pipe(
      Effect.andThen(publish(protocol.unencodableResult))
    )
  }

  /**
   * Waits for the flight of `token`. The subscription is already in place, so
   * reading the stored result first closes the race with an owner that
   * finished between our acquire attempt and the subscription. The lease is
   * re-read at every poll: pub/sub is at-most-once, and only polling notices
   * an owner that died.
   */
  awaitOwner(
    keys: protocol.FlightKeys,
    token: string,
    mailbox: Queue.Dequeue<string>,
    deadline: number
  ): Effect.Effect<Turn<A, E>, RedisError> {
    return Effect.gen({ self: this }, function*() {
      for (;;) {
        const { holder, result } = yield* protocol.peek(this.connection, keys, token)
        if (result !== null) return this.decode(result)
        if (holder !== token) return vacant
        const heard = yield* this.listen(token, mailbox, deadline)
        switch (heard._tag) {
          case "Published":
            return this.decode(heard.payload)
          case "Vacant":
          case "TimedOut":
            return heard
          case "PollDue":
            continue
        }
      }
    })
  }

  /** Takes messages until one is about `token`, or until the next poll or the deadline. */
  listen(token: string, mailbox: Queue.Dequeue<string>, deadline: number): Effect.Effect<Heard> {
    return Effect.gen({ self: this }, function*() {
      const wakeAt = Math.min((yield* monotonicMillis) + this.pollEvery, deadline)
      for (;;) {
        const remaining = wakeAt - (yield* monotonicMillis)
        if (remaining <= 0) return wakeAt >= deadline ? timedOut : pollDue
        const raw = yield* Effect.timeoutOption(Queue.take(mailbox), Duration.millis(remaining))
        if (raw._tag === "None") continue
        const message = protocol.parseMessage(raw.value)
        // Another flight of the same key (an older owner's late words).
        if (message.token !== token) continue
        return message.payload === undefined ? vacant : { _tag: "Published", payload: message.payload } as const
      }
    })
  }

  decode(payload: string): Turn<A, E> {
    if (payload === protocol.unencodableResult) {
      return runLocally("the owner's result could not be encoded", "it published no value")
    }
    const exit = this.decodeExit(payload)
    if (Result.isFailure(exit)) return runLocally("another process's result could not be decoded", exit.failure)
    this.stats.followed++
    return { _tag: "Answered", exit: exit.success }
  }
}

// -----------------------------------------------------------------------------
// the group
// -----------------------------------------------------------------------------

const variance = {
  _K: (_: unknown) => _,
  _A: (_: unknown) => _,
  _E: (_: unknown) => _
}

/**
 * The implementation behind both overloads of the public `make`: the group's
 * error type `E` includes `FollowerTimeoutError` exactly when
 * `onFollowerTimeout` is `"fail"`, the only case that produces one.
 *
 * @internal
 */
export const make = <K, KI, A, AI, E, EI>(
  options: SingleFlightRedis.Options<K, KI, A, AI, E, EI>
): Effect.Effect<SingleFlightRedis.Group<K, A, E>, never, Scope.Scope | SingleFlightRedis.RedisConnection> =>
  Effect.gen(function*() {
    // An invalid option is thrown here and so becomes a defect.
    const resolved = yield* Effect.sync(() => resolve(options))
    const connection = yield* connectionTag
    const scope = yield* Effect.scope
    const failure: Schema.Codec<E, unknown> = options.failure ?? (Schema.Never as Schema.Codec<E, unknown>)
    // What crosses Redis is each schema's JSON form: effect 4's `Schema.Exit`,
    // `Schema.Option` and the like encode to themselves, not to JSON.
    const exitSchema = Schema.fromJsonString(
      Schema.toCodecJson(Schema.Exit(options.success, failure, Schema.Defect()))
    )
    const coordinator = new Coordinator<K, A, E>(
      resolved,
      connection,
      scope,
      Schema.toCodecJson(options.key),
      exitSchema
    )
    // Added before any flight or background clean-up uses the scope: finalizers
    // run in reverse order, so the last counts are logged after those ended.
    yield* Effect.addFinalizer(() => coordinator.warnings.flush)
    // In-memory coalescing first: at most one coordination per key and flight
    // in this process, shared by all of its local callers.
    const local = yield* SingleFlight.make<K, A, E>({
      name: resolved.name,
      keyAttribute: options.keyAttribute,
      whenAbandoned: resolved.whenAbandoned,
      reuseSuccessFor: resolved.reuseSuccessFor
    })
    const group: SingleFlightRedis.Group<K, A, E> = {
      [SingleFlight.TypeId]: variance as SingleFlight.Group.Variance<K, A, E>,
      name: resolved.name,
      call<R>(key: K, effect: Effect.Effect<A, E, R>, callOptions?: SingleFlight.CallOptions) {
        const shared = coordinator.run(key, Effect.scoped(effect)) as Effect.Effect<A, E, Exclude<R, Scope.Scope>>
        return local.call(key, shared, callOptions)
      },
      forget: (key) => local.forget(key),
      key: local.key,
      size: local.size,
      waiters: (key) => local.waiters(key),
      stats: local.stats,
      redisStats: Effect.sync(() => ({ ...coordinator.stats })),
      pipe() {
        return pipeArguments(this, arguments)
      }
    }
    return group
  })
