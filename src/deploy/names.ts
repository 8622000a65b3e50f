// Names and schedules of the manifests `chaos-run job` writes, checked before anything is
// written: Kubernetes would refuse them at apply time, far from the command that made them.
import { createHash } from "node:crypto";

/** A CronJob's name leaves 11 characters for its Jobs' suffix: 52 at most, a DNS label. */
export const INSTANCE_NAME = /^(?=.{1,52}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `chaos-run-<scenario>`, shortened with a hash of the whole when the scenario's name is long. */
export function defaultInstanceName(scenario: string): string {
  const whole = `chaos-run-${scenario}`;
  if (whole.length <= 52) return whole;
  const hash = createHash("sha256").update(scenario).digest("hex").slice(0, 5);
  return `${whole.slice(0, 52 - 6).replace(/-+$/, "")}-${hash}`;
}

const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
const FIELD = /^[0-9A-Za-z*?/,-]+$/;

/** What is wrong with a CronJob schedule's shape (five fields, or a macro); undefined: nothing. */
export function scheduleProblem(schedule: string): string | undefined {
  const s = schedule.trim();
  if (MACROS.includes(s)) return undefined;
  if (s.startsWith("TZ=") || s.startsWith("CRON_TZ=")) return "a time zone in the schedule is refused by Kubernetes: the CronJob's spec.timeZone says it";
  const fields = s.split(/\s+/);
  if (fields.length !== 5) return `a schedule has five fields (minute hour day-of-month month day-of-week), not ${fields.length}`;
  const bad = fields.find((f) => !FIELD.test(f));
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not a schedule field`;
}
