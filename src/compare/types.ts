// compare's types: the Comparison it produces is declared in the report room
// (report/compare/comparison.ts), where its views read it; here what a caller passes in.
export * from "../report/compare/comparison.js";

export interface CompareOptions {
  /** the rank test's level: a change in samples is significant when p < alpha (default 0.01) */
  readonly alpha?: number | undefined;
  /** the smallest change that matters, relative to the base run's value (default 0.2: 20%) */
  readonly threshold?: number | undefined;
  /** the smallest effect on samples that matters, as |Cliff's delta| (default 0.33: at least a medium effect) */
  readonly minEffect?: number | undefined;
  /** the smallest change of a duration that matters, ms, whatever the threshold says (default 0: none) */
  readonly minChangeMs?: number | undefined;
}
