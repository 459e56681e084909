/**
 * @since 1.0.0
 */
export * as HttpSingleFlight from "./HttpSingleFlight.js"
