/**
 * @since 0.1.0
 */
export * as SingleFlightRedis from "./SingleFlightRedis.js"
