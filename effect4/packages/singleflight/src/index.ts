/**
 * @since 1.0.0
 * @example
 * ```ts
 * import { SingleFlight } from "effect-singleflight"
 * ```
 */
export * as SingleFlight from "./SingleFlight.js"

/**
 * @since 1.0.0
 * @example
 * ```ts
 * import { SingleFlightMetrics } from "effect-singleflight"
 * ```
 */
export * as SingleFlightMetrics from "./SingleFlightMetrics.js"
