/**
 * The HTTP rules that decide whether a request may take part in a flight and
 * whether a response may be handed to more than one request. Pure functions
 * over header records (lowercase names, as `effect/http` keeps them).
 *
 * @internal
 */
import type * as Headers from "effect/http/Headers"

/** @internal */
export const defaultKeyHeaders: ReadonlyArray<string> = [
  // who is asking: a response is never shared between different credentials
  "authorization",
  "cookie",
  // content negotiation
  "accept",
  "accept-encoding",
  "accept-language",
  // the virtual host the request is for
  "host",
  // partial and conditional requests: a 206 or a 304 answers one particular request
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since"
]

/**
 * The tokens of a comma-separated header (`Cache-Control` directives, `Vary`
 * names), lowercased, values dropped. A quoted value holding a comma
 * (`private="a, b"`) yields a stray token as well, which is harmless: only
 * known directive names are looked up, and a stray `Vary` token only makes a
 * response unshared.
 */
const tokens = (value: string | undefined): ReadonlySet<string> => {
  const names = new Set<string>()
  if (value === undefined) return names
  for (const part of value.split(",")) {
    const name = part.split("=", 1)[0]!.trim().toLowerCase()
    if (name !== "") names.add(name)
  }
  return names
}

/**
 * A request that asks for a response of its own: `Cache-Control: no-cache`
 * or `no-store` (or HTTP/1.0's `Pragma: no-cache`). A flight that started
 * before such a request arrived may carry older data than it asked for.
 *
 * @internal
 */
export const wantsOwnResponse = (headers: Headers.Headers): boolean => {
  const cacheControl = tokens(headers["cache-control"])
  return cacheControl.has("no-cache") || cacheControl.has("no-store") || tokens(headers["pragma"]).has("no-cache")
}

/**
 * A request that has a body, whatever its method (a GET with a JSON query, as
 * Elasticsearch-style APIs take): its response depends on bytes that are not
 * in the key. A `Content-Length` that is not a number counts as a body.
 */
const hasBody = (headers: Headers.Headers): boolean =>
  headers["transfer-encoding"] !== undefined ||
  (headers["content-length"] !== undefined && Number(headers["content-length"]) !== 0)

/**
 * Whether a request received by the server must run on its own: it asks for
 * a fresh response ({@link wantsOwnResponse}), has a body, or upgrades the
 * connection (a WebSocket is a GET as well, but its "response" is a socket
 * that belongs to one client).
 *
 * @internal
 */
export const runsAlone = (headers: Headers.Headers): boolean =>
  wantsOwnResponse(headers) || hasBody(headers) || headers["upgrade"] !== undefined

/**
 * Whether a response may be handed to every request of its flight:
 *
 * - not `Cache-Control: private` or `no-store`: the origin said the response
 *   is meant for one recipient;
 * - no `Set-Cookie`: handing one session cookie to several clients would join
 *   their sessions;
 * - every header named by `Vary` is part of the key (and no `Vary: *`):
 *   otherwise requests of the same flight may differ in a header the response
 *   depends on.
 *
 * @internal
 */
export const isShareableResponse = (
  headers: Headers.Headers,
  setsCookies: boolean,
  keyHeaders: ReadonlySet<string>
): boolean => {
  if (setsCookies || headers["set-cookie"] !== undefined) return false
  const cacheControl = tokens(headers["cache-control"])
  if (cacheControl.has("private") || cacheControl.has("no-store")) return false
  for (const name of tokens(headers["vary"])) {
    if (name === "*" || !keyHeaders.has(name)) return false
  }
  return true
}
