/**
 * @since 0.1.0
 */
export * as SingleFlight from "./SingleFlight.js"

/**
 * @since 0.1.0
 */
export * as SingleFlightMetrics from "./SingleFlightMetrics.js"
