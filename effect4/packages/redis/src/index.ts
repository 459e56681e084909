/**
 * @since 1.0.0
 * @example
 * ```ts
 * import { SingleFlightRedis } from "@effect-singleflight/redis"
 * ```
 */
export * as SingleFlightRedis from "./SingleFlightRedis.js"
