/**
 * @since 0.1.0
 */
export * as SingleFlight from "./SingleFlight.js"
