/**
 * What the server middleware and the client share: the snapshot that every
 * request of a flight may receive, and the hand-over of a response that only
 * the leader may receive.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"

/**
 * An immutable copy of a response that may be handed to every request of a
 * flight; each request builds a response of its own from it.
 *
 * @internal
 */
export interface Snapshot {
  readonly status: number
  readonly statusText?: string | undefined
  readonly headers: Headers.Headers
  /** Kept apart from `headers` on the server, where the body carries it. */
  readonly contentType?: string | undefined
  /**
   * `null` for no body. Typed on `ArrayBuffer`, not `ArrayBufferLike`,
   * because TypeScript's DOM `BodyInit` (a user's default `lib`) only takes
   * the former.
   */
  readonly body: Uint8Array<ArrayBuffer> | null
}

/**
 * The value of a flight:
 *
 * - `Shared`: every request builds its own response from the snapshot;
 * - `Unshared`: the result may reach one request only. It was offered to
 *   `leader`, the hand-over of the request whose effect the flight ran, or
 *   not at all (a body that outgrew the limit while being read); every other
 *   request runs on its own.
 *
 * @internal
 */
export type Outcome<A> =
  | { readonly _tag: "Shared"; readonly leader: Handover<A>; readonly snapshot: Snapshot }
  | { readonly _tag: "Unshared"; readonly leader: Handover<A> }

/**
 * What a request does with the outcome of its flight.
 *
 * @internal
 */
export type Receipt<A> =
  | { readonly _tag: "Shared"; readonly isLeader: boolean; readonly snapshot: Snapshot }
  | { readonly _tag: "Taken"; readonly value: A; readonly release: Effect.Effect<void> }
  | { readonly _tag: "Alone" }

type State<A> =
  | { readonly _tag: "Waiting" }
  | { readonly _tag: "Offered"; readonly value: A; readonly release: Effect.Effect<void> }
  | { readonly _tag: "Closed" }

const waiting: State<never> = { _tag: "Waiting" }
const closed: State<never> = { _tag: "Closed" }

/**
 * The hand-over of a result that must reach one request only (an unshareable
 * response, with what releases it: the handler's scope, an abort) from the
 * execution to the request it was made for.
 *
 * Every request makes one; only the leader's is ever offered something.
 *
 * @internal
 */
export class Handover<A> {
  /**
   * Moved by `offer` (in the execution) and by `take` or `abandon` (in the
   * request), each synchronous: whichever of "offered" and "the request went
   * away" comes second runs `release`, so it runs exactly once unless the
   * request takes the value, and with it the duty to release.
   */
  private state: State<A> = waiting

  /** In the execution: hands `value` over, or releases it at once if the request has gone. */
  offer(value: A, release: Effect.Effect<void>): Effect.Effect<void> {
    if (this.state._tag !== "Waiting") return release
    this.state = { _tag: "Offered", value, release }
    return Effect.void
  }

  /** In the request, when it leaves without taking: releases what was offered. */
  get abandon(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const state = this.state
      this.state = closed
      return state._tag === "Offered" ? state.release : Effect.void
    })
  }

  /** In the request, once the flight is over. Only the leader's hand-over can have been offered something. */
  receive(outcome: Outcome<A>): Receipt<A> {
    const state = this.state
    if (outcome._tag === "Shared") {
      return { _tag: "Shared", isLeader: outcome.leader === this, snapshot: outcome.snapshot }
    }
    this.state = closed
    return state._tag === "Offered" ? { _tag: "Taken", value: state.value, release: state.release } : alone
  }
}

const alone: Receipt<never> = { _tag: "Alone" }

/**
 * Takes part in a flight with a hand-over of its own, then answers from the
 * receipt. Waiting is interruptible even where the caller is not (the outer
 * layers of a served app run uninterruptibly, and a client that disconnects
 * must still be able to leave); from the end of the flight to `onReceipt`
 * nothing is, so that an offered value is either taken or released.
 *
 * @internal
 */
export const join = <A, E, R, B, E2, R2>(
  flight: (own: Handover<A>) => Effect.Effect<Outcome<A>, E, R>,
  onReceipt: (
    receipt: Receipt<A>,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2> =>
  Effect.uninterruptibleMask((restore) => {
    const own = new Handover<A>()
    return Effect.interruptible(flight(own)).pipe(
      Effect.onError(() => own.abandon),
      Effect.flatMap((outcome) => onReceipt(own.receive(outcome), restore))
    )
  })
