/**
 * The key of the call whose work the current fiber runs (`group.key`,
 * `SingleFlight.currentKey`), and re-entry detection.
 *
 * @internal
 */
import * as Equal from "effect/Equal"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"

/**
 * One frame per call the current fiber is running the work of, innermost
 * first. A linked list rather than a single key so that nested calls of
 * other groups keep each group's own key readable, and re-entry can be
 * detected anywhere up the chain.
 */
export interface Frame {
  /** The group, compared by identity. */
  readonly group: object
  readonly key: unknown
  readonly parent: Frame | undefined
}

/** @internal */
export const currentFrame: FiberRef.FiberRef<Frame | undefined> = globalValue(
  Symbol.for("effect-singleflight/SingleFlight/currentFrame"),
  () => FiberRef.unsafeMake<Frame | undefined>(undefined)
)

/** @internal */
export const isReentrant = (frame: Frame | undefined, group: object, key: unknown): boolean => {
  for (let current = frame; current !== undefined; current = current.parent) {
    if (current.group === group && Equal.equals(current.key, key)) return true
  }
  return false
}
