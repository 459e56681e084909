/**
 * @internal
 */
import { SingleFlight } from "effect-singleflight"
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as HttpMethod from "effect/http/HttpMethod"
import * as Option from "effect/Option"
import type * as HttpSingleFlight from "../HttpSingleFlight.js"
import * as headers from "./headers.js"

/**
 * The options this package owns, checked. `name` and `whenAbandoned` are the
 * core's: they go to `SingleFlight.make` as given, and it checks them.
 *
 * @internal
 */
export interface Resolved {
  readonly methods: ReadonlySet<string>
  /** The request headers of the default key. */
  readonly headers: ReadonlyArray<string>
  /** The request headers known to be in the key, which a shared response may `Vary` on. */
  readonly headerSet: ReadonlySet<string>
  readonly maxBodySize: number
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

const resolveSize = (input: ByteSize.Input | undefined): number => {
  if (input === undefined) return defaultMaxBodySize
  const size = ByteSize.fromInput(input)
  const bytes = Option.isSome(size) ? Number(size.value) : Number.NaN
  if (!(Number.isSafeInteger(bytes) && bytes >= 0)) {
    throw invalid("maxBodySize", `expected a whole, non-negative number of bytes, got ${String(input)}`)
  }
  return bytes
}

/**
 * `headerSet` is what the `Vary` rule trusts to be in the key. With a custom
 * `key` the package cannot see which headers it covers: only the headers
 * listed explicitly are trusted then, and none by default.
 *
 * @internal
 */
export const resolveCommon = (
  options:
    | Pick<HttpSingleFlight.ClientOptions, "methods" | "headers" | "maxBodySize"> & { readonly key?: unknown }
    | undefined
): Resolved => {
  const names = resolveHeaders(options?.headers)
  const trusted = options?.key !== undefined && options.headers === undefined ? [] : names
  return {
    methods: resolveMethods(options?.methods),
    headers: names,
    headerSet: new Set(trusted),
    maxBodySize: resolveSize(options?.maxBodySize)
  }
}

/**
 * The group of a middleware or client. Keys hold credentials (`Authorization`,
 * `Cookie`): they are never rendered into spans.
 *
 * @internal
 */
export const makeGroup = <A, E>(
  options: Pick<HttpSingleFlight.ClientOptions, "name" | "whenAbandoned"> | undefined,
  defaultName: string
) =>
  SingleFlight.make<unknown, A, E>({
    name: options?.name ?? defaultName,
    whenAbandoned: options?.whenAbandoned,
    keyAttribute: false
  })

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
  // a throw inside `sync` is a defect
  Effect.sync(resolve)
