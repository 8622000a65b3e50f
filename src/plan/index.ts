// Pure planning: scenario + pods + seed → Plan (ARCHITECTURE.md "plan").
export { OFFLINE_RUN_ID, PlanError, abArgv, faultSummary, modeCount, modeText, planOffline, planRun, selectorText } from "./plan.js";
export type { OfflinePlanOptions, PlanErrorCode, PlanOptions } from "./plan.js";
export { choose, mulberry32 } from "./prng.js";
export { formatPlan, planToJson, quoteArg, quoteArgv } from "./format.js";
export type * from "./types.js";
