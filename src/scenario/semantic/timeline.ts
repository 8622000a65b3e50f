// The timeline: steadyState, then the steps in order. Step names are unique and each fault step
// is checked (faults.ts); where each probe runs, and each fault step's expectations, are
// collected in timeline order for the checks of saved results and expectations.
import { joinPointer } from "../document.js";
import { checkFault, faultKind } from "./faults.js";
import type { FaultExpectations } from "./faults.js";
import type { Findings } from "./findings.js";
import { arr, obj, str } from "./read.js";
import type { Obj } from "./read.js";

/** A probe run somewhere in the scenario, in timeline order. */
export interface RunSite {
  readonly path: string;
  readonly probe: unknown;
  readonly save: unknown;
  readonly expect: unknown;
  /** results saved by steps before this index are available; steadyState: -1 */
  readonly stepIndex: number;
  readonly label: string;
  /** `every:` as written */
  readonly every: unknown;
}

export interface Timeline {
  readonly runs: readonly RunSite[];
  readonly faultExpectations: readonly FaultExpectations[];
}

export function checkTimeline(findings: Findings, root: Obj): Timeline {
  const runs: RunSite[] = [];
  arr(root["steadyState"]).forEach((raw, i) => {
    const c = obj(raw);
    if (c !== undefined)
      runs.push({ path: joinPointer("/steadyState", i), probe: c["probe"], save: undefined, expect: c["expect"], stepIndex: -1, label: `steadyState entry ${i + 1}`, every: c["every"] });
  });
  const faultExpectations: FaultExpectations[] = [];
  const stepNames = new Map<string, number>();
  /** the label of the podDelete step met, if any */
  let deletedAt: string | undefined;
  arr(root["steps"]).forEach((raw, i) => {
    const step = obj(raw);
    if (step === undefined) return;
    const path = joinPointer("/steps", i);
    const name = str(step["name"]);
    if (name !== undefined) {
      const first = stepNames.get(name);
      if (first !== undefined) findings.add("duplicate-step", { name }, findings.locate(joinPointer(path, "name")), `step ${first + 1} has this name already`);
      else stepNames.set(name, i);
    }
    const label = `step ${i + 1}${name !== undefined ? ` (${name})` : ""}`;
    const fault = obj(step["fault"]);
    if (fault !== undefined) {
      const kind = faultKind(fault);
      checkFault(findings, fault, path, label, deletedAt);
      if (kind === "podDelete") deletedAt = label;
      const expect = obj(step["expect"]);
      if (expect !== undefined) faultExpectations.push({ path, kind, expect, stepIndex: i, label });
      arr(step["during"]).forEach((d, j) => {
        const dp = obj(d);
        if (dp !== undefined) runs.push({ path: joinPointer(path, "during", j), probe: dp["probe"], save: dp["save"], expect: dp["expect"], stepIndex: i, label, every: dp["every"] });
      });
    } else if (step["probe"] !== undefined) {
      runs.push({ path, probe: step["probe"], save: step["save"], expect: step["expect"], stepIndex: i, label, every: undefined });
    }
  });
  return { runs, faultExpectations };
}
