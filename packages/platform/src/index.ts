/**
 * @since 0.1.0
 */
export * as HttpSingleFlight from "./HttpSingleFlight.js"
