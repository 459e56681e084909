/**
 * The `Scope` each execution's work gets, made in the caller's synchronous
 * step (which cannot run `Scope.make`) and given to the work's fiber in its
 * context at fork. Most work never adds a finalizer: the map of finalizers is
 * made on first use, and closing an empty scope costs a check.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import type * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"

type Open = { readonly _tag: "Open"; readonly finalizers: Map<object, Scope.Scope.Finalizer> }
type Closed = { readonly _tag: "Closed"; readonly exit: Exit.Exit<unknown, unknown> }

/**
 * Shaped like effect's own scope, whose methods `Scope.addFinalizer`,
 * `Scope.fork` and `Scope.close` call: `Effect.forkIn` and `forkScoped` also
 * read and write `state.finalizers` directly, so `state` is that very shape.
 *
 * @internal
 */
export class WorkScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  private current: Open | Closed | undefined = undefined

  get state(): Open | Closed {
    return this.current ??= { _tag: "Open", finalizers: new Map() }
  }

  pipe() {
    return pipeArguments(this, arguments)
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.suspend(() => {
      const state = this.state
      if (state._tag === "Closed") return finalizer(state.exit)
      state.finalizers.set({}, finalizer)
      return Effect.void
    })
  }

  /** A child scope, closed with this one, that forgets its finalizer here when it closes first. */
  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.flatMap(Scope.make(strategy), (child) => {
      const state = this.state
      if (state._tag === "Closed") return Effect.as(Scope.close(child, state.exit), child)
      const key = {}
      state.finalizers.set(key, (exit) => Scope.close(child, exit))
      return Effect.as(Scope.addFinalizer(child, Effect.sync(() => state.finalizers.delete(key))), child)
    })
  }

  /** Runs the finalizers with effect's own scope, so that their order and exits are exactly `Scope.close`'s. */
  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const state = this.current
      this.current = { _tag: "Closed", exit }
      if (state === undefined || state._tag === "Closed" || state.finalizers.size === 0) return Effect.void
      return Effect.flatMap(Scope.make(this.strategy), (scope) =>
        Effect.zipRight(
          Effect.forEach(state.finalizers.values(), (finalizer) => Scope.addFinalizerExit(scope, finalizer), {
            discard: true
          }),
          Scope.close(scope, exit)
        ))
    })
  }
}
