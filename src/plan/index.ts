// Pure planning: scenario + pods + seed → Plan (docs/architecture.md, "The rooms").
export { OFFLINE_RUN_ID, planOffline, planRun } from "./plan.js";
export type { OfflinePlanOptions, PlanOptions } from "./plan.js";
export { PlanError } from "./plan-error.js";
export type { PlanErrorCode } from "./plan-error.js";
export { abArgv } from "./probe-runs.js";
export { faultSummary } from "./fault-words.js";
export { modeCount, modeText, selectorText } from "./targets.js";
export { choose, mulberry32 } from "./prng.js";
export { formatPlan, planToJson, quoteArg, quoteArgv } from "./format.js";
export type * from "./types.js";
