/**
 * The key of the call whose work the current fiber runs (`group.key`,
 * `SingleFlight.currentKey`), and re-entry detection.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Equal from "effect/Equal"
import * as Scope from "effect/Scope"

/**
 * One frame per call the current fiber is running the work of, innermost
 * first. A linked list rather than a single key so that nested calls of
 * other groups keep each group's own key readable, and re-entry can be
 * detected anywhere up the chain.
 *
 * The frame lives in the work's context, next to its `Scope`: both are added
 * to the caller's context when the work's fiber is made, and fibers forked
 * from the work inherit them with the rest of the context.
 *
 * @internal
 */
export interface Frame {
  /** The group, compared by identity. */
  readonly group: object
  readonly key: unknown
  readonly parent: Frame | undefined
}

const CurrentFrame = Context.Reference<Frame | undefined>("effect-singleflight/SingleFlight/currentFrame", {
  defaultValue: () => undefined
})

/** @internal */
export const frameOf = (context: Context.Context<never>): Frame | undefined => Context.get(context, CurrentFrame)

/** The work's context: the caller's, with the work's own scope and this call's frame. */
export const workContext = (
  caller: Context.Context<never>,
  scope: Scope.Scope,
  frame: Frame
): Context.Context<never> => Context.add(Context.add(caller, Scope.Scope, scope), CurrentFrame, frame)

/** @internal */
export const isReentrant = (frame: Frame | undefined, group: object, key: unknown): boolean => {
  for (let current = frame; current !== undefined; current = current.parent) {
    if (current.group === group && Equal.equals(current.key, key)) return true
  }
  return false
}
