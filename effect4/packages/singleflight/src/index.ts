/**
 * @since 1.0.0
 */
export * as SingleFlight from "./SingleFlight.js"

/**
 * @since 1.0.0
 */
export * as SingleFlightMetrics from "./SingleFlightMetrics.js"
