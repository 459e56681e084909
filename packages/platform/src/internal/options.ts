/**
 * @internal
 */
import * as HttpMethod from "@effect/platform/HttpMethod"
import { SingleFlight } from "effect-singleflight"
import * as Effect from "effect/Effect"
import type * as HttpSingleFlight from "../HttpSingleFlight.js"
import * as headers from "./headers.js"

/** @internal */
export interface Resolved {
  readonly name: string
  readonly methods: ReadonlySet<string>
  readonly headers: ReadonlyArray<string>
  readonly headerSet: ReadonlySet<string>
  readonly maxBodySize: number
  readonly whenAbandoned: SingleFlight.AbandonPolicy
}

/** @internal */
export const defaultMaxBodySize = 1024 * 1024

const token = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i

const invalid = (option: string, reason: string) => new SingleFlight.InvalidOptionsError({ option, reason })

const resolveMethods = (methods: ReadonlyArray<string> | undefined): ReadonlySet<string> => {
  if (methods === undefined) return new Set(["GET", "HEAD"])
  for (const method of methods) {
    if (!HttpMethod.isHttpMethod(method)) {
      throw invalid("methods", `expected HTTP methods such as "GET", got ${JSON.stringify(method)}`)
    }
  }
  return new Set(methods)
}

const resolveHeaders = (names: ReadonlyArray<string> | undefined): ReadonlyArray<string> => {
  if (names === undefined) return headers.defaultKeyHeaders
  for (const name of names) {
    if (typeof name !== "string" || !token.test(name)) {
      throw invalid("headers", `expected header names, got ${JSON.stringify(name)}`)
    }
  }
  // Sorted and deduplicated, so that the key does not depend on how the list was written.
  return Array.from(new Set(names.map((name) => name.toLowerCase()))).sort()
}

const resolveSize = (input: bigint | number | undefined): number => {
  if (input === undefined) return defaultMaxBodySize
  const bytes = typeof input === "bigint" ? Number(input) : input
  if (!(Number.isSafeInteger(bytes) && bytes >= 0)) {
    throw invalid("maxBodySize", `expected a whole, non-negative number of bytes, got ${String(input)}`)
  }
  return bytes
}

const resolveName = (name: string | undefined, defaultName: string): string => {
  if (name === undefined) return defaultName
  if (typeof name !== "string" || name === "") throw invalid("name", `expected a non-empty string, got ${String(name)}`)
  return name
}

const resolvePolicy = (policy: SingleFlight.AbandonPolicy | undefined): SingleFlight.AbandonPolicy => {
  if (policy === undefined) return "interrupt"
  if (policy === "interrupt" || policy === "interruptInBackground" || policy === "runToCompletion") return policy
  throw invalid("whenAbandoned", `expected "interrupt", "interruptInBackground" or "runToCompletion", got ${policy}`)
}

/** @internal */
export const resolveCommon = (
  options: Pick<HttpSingleFlight.Options, "name" | "methods" | "headers" | "maxBodySize" | "whenAbandoned"> | undefined,
  defaultName: string
): Resolved => {
  const names = resolveHeaders(options?.headers)
  return {
    name: resolveName(options?.name, defaultName),
    methods: resolveMethods(options?.methods),
    headers: names,
    headerSet: new Set(names),
    maxBodySize: resolveSize(options?.maxBodySize),
    whenAbandoned: resolvePolicy(options?.whenAbandoned)
  }
}

/** @internal */
export const resolveResponseHeader = (name: string | undefined): string | undefined => {
  if (name === undefined) return undefined
  if (typeof name !== "string" || !token.test(name)) {
    throw invalid("responseHeader", `expected a header name, got ${JSON.stringify(name)}`)
  }
  return name.toLowerCase()
}

/**
 * Options are checked when the middleware or client is made: a mistake is a
 * defect there, not a surprise on the first request.
 *
 * @internal
 */
export const validate = <A>(resolve: () => A): Effect.Effect<A> =>
  Effect.try({ try: resolve, catch: (error) => error }).pipe(Effect.orDie)
