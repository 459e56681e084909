/**
 * The seed's customer service, for the demo and the benchmark: start it with
 * `CustomerServer.layer({ port: 0 })` and read `CustomerServer.CustomerServer`
 * for its URL and database query count.
 */
export * as Chart from "./Chart.js"
export * as Customers from "./Customers.js"
export * as CustomerServer from "./CustomerServer.js"
export * as Database from "./Database.js"
export * as Load from "./Load.js"
