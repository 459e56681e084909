/**
 * The options of a group and of a call, validated once, here.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Formatter from "effect/Formatter"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type * as SingleFlight from "../SingleFlight.js"
import { InvalidOptionsError } from "./errors.js"

/** @internal */
export interface ResolvedOptions<K> {
  readonly name: string
  readonly metrics: boolean
  readonly renderKey: ((key: K) => string) | undefined
  readonly whenAbandoned: SingleFlight.AbandonPolicy
  /** Milliseconds; 0 when successes are not reused. */
  readonly reuseSuccessMillis: number
  readonly reuseSuccessFor: Duration.Duration
}

const abandonPolicies: ReadonlyArray<SingleFlight.AbandonPolicy> = [
  "interrupt",
  "interruptInBackground",
  "runToCompletion"
]

/** @internal */
export const validatePolicy = (option: string, value: unknown): SingleFlight.AbandonPolicy => {
  if (abandonPolicies.includes(value as SingleFlight.AbandonPolicy)) return value as SingleFlight.AbandonPolicy
  throw new InvalidOptionsError({
    option,
    reason: `expected one of ${abandonPolicies.map((policy) => `"${policy}"`).join(", ")}, got ${String(value)}`
  })
}

/**
 * `Duration` accepts negative and infinite inputs (and turns `NaN` into zero,
 * which would silently make a typo mean "off"): only a finite, non-negative
 * duration is a window.
 *
 * @internal
 */
export const validateWindow = (option: string, input: Duration.Input): Duration.Duration => {
  const invalid = (reason: string) => new InvalidOptionsError({ option, reason })
  if (typeof input === "number" && !(Number.isFinite(input) && input >= 0)) {
    throw invalid(`expected a finite, non-negative number of milliseconds, got ${input}`)
  }
  if (Array.isArray(input) && !input.every((part) => Number.isFinite(part) && part >= 0)) {
    throw invalid(`expected a non-negative [seconds, nanos] tuple, got [${input.join(", ")}]`)
  }
  const decoded = Duration.fromInput(input)
  if (Option.isNone(decoded)) throw invalid(`expected a Duration input such as "5 seconds", got ${String(input)}`)
  if (!Duration.isFinite(decoded.value)) throw invalid("expected a finite duration")
  if (Duration.isNegative(decoded.value)) throw invalid(`expected a non-negative duration, got ${String(input)}`)
  return decoded.value
}

const validateName = (name: unknown): string => {
  if (typeof name === "string" && name.length > 0) return name
  throw new InvalidOptionsError({ option: "name", reason: `expected a non-empty string, got ${String(name)}` })
}

const validateFlag = (option: string, value: unknown): boolean => {
  if (typeof value === "boolean") return value
  throw new InvalidOptionsError({ option, reason: `expected a boolean, got ${String(value)}` })
}

const renderAnyKey = (key: unknown): string =>
  typeof key === "string" ? key : Formatter.formatJson(Inspectable.toJson(key))

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

/**
 * Throws an `InvalidOptionsError` on the first invalid option; `make` turns
 * it into a defect.
 *
 * @internal
 */
export const resolveOptions = <K>(options: SingleFlight.Options<K> | undefined): ResolvedOptions<K> => {
  const reuseSuccessFor = options?.reuseSuccessFor === undefined
    ? Duration.zero
    : validateWindow("reuseSuccessFor", options.reuseSuccessFor)
  return {
    name: options?.name === undefined ? "default" : validateName(options.name),
    metrics: options?.metrics === undefined ? true : validateFlag("metrics", options.metrics),
    renderKey: validateKeyAttribute(options?.keyAttribute),
    whenAbandoned: options?.whenAbandoned === undefined
      ? "interrupt"
      : validatePolicy("whenAbandoned", options.whenAbandoned),
    reuseSuccessMillis: Duration.toMillis(reuseSuccessFor),
    reuseSuccessFor
  }
}

/**
 * The policy of one call: the group's unless the call sets its own. A bad
 * per-call option is a programming mistake: thrown inside the call's first
 * step, it becomes a defect.
 *
 * @internal
 */
export const policyOf = <K>(
  options: ResolvedOptions<K>,
  call: SingleFlight.CallOptions | undefined
): SingleFlight.AbandonPolicy =>
  call?.whenAbandoned === undefined ? options.whenAbandoned : validatePolicy("whenAbandoned", call.whenAbandoned)
