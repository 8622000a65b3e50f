// Expectations and the small safe expression language over saved results (docs/architecture.md).
export * from "./expectation.js";
export * from "./expression.js";
export * from "./format.js";
export * from "./metrics.js";
