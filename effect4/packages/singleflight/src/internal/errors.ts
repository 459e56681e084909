/**
 * @internal
 */
import * as Data from "effect/Data"

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
