/**
 * @since 1.0.0
 * @example
 * ```ts
 * import { HttpSingleFlight } from "@effect-singleflight/platform"
 * ```
 */
export * as HttpSingleFlight from "./HttpSingleFlight.js"
