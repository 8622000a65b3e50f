// A probe run as planned: the command it runs (ab and curl built by src/probes/command.ts, its
// templates as written), whether it runs once per target pod, its expectations as written.
import { expectationText } from "../expect/expectation.js";
import { abCommand, curlCommand } from "../probes/command.js";
import { grpcCommand } from "../probes/grpc.js";
import { usesTarget } from "../scenario/template.js";
import type { Probe, ProbeRun, Scenario } from "../scenario/types.js";
import type { PlannedProbeRun } from "./types.js";

/** The ab command of a probe, its URL as written (src/probes/command.ts builds it, filled in, for the run too). */
export function abArgv(probe: Extract<Probe, { kind: "ab" }>): string[] {
  return [...abCommand(probe).shown];
}

/** The curl command of an http probe, its templates as written (src/probes/command.ts). */
export function curlArgv(probe: Extract<Probe, { kind: "http" }>): string[] {
  return [...curlCommand(probe).shown];
}

/** Whether a probe names its target ({{ target.* }}): then it runs once per target pod. */
export function probeUsesTarget(probe: Probe): boolean {
  switch (probe.kind) {
    case "ab":
      return usesTarget(probe.ab.url);
    case "http":
      return [probe.http.url, ...Object.values(probe.http.headers), probe.http.body ?? ""].some(usesTarget);
    case "grpc":
      return usesTarget(probe.grpc.address);
    case "dns":
      // it resolves from inside each target pod: the pod is its vantage point
      return true;
    case "k8s":
      return probe.k8s.name !== undefined && usesTarget(probe.k8s.name);
    case "prometheus":
      return usesTarget(probe.prometheus.url) || usesTarget(probe.prometheus.query);
    case "cmd":
      return [probe.cmd.pod, ...probe.cmd.argv].some(usesTarget);
  }
}

function probeArgv(probe: Probe): string[] {
  switch (probe.kind) {
    case "ab":
      return abArgv(probe);
    case "http":
      return curlArgv(probe);
    case "grpc":
      return [...grpcCommand(probe).shown];
    case "cmd":
      return [...probe.cmd.argv];
    case "dns":
    case "k8s":
    case "prometheus":
      return [];
  }
}

export function plannedRun(scenario: Scenario, run: ProbeRun): PlannedProbeRun {
  const probe = scenario.probes[run.probe];
  if (probe === undefined) throw new TypeError(`unknown probe ${run.probe} in a validated scenario`);
  return {
    probe: run.probe,
    kind: probe.kind,
    argv: probeArgv(probe),
    perTargetPod: probeUsesTarget(probe),
    toolsImage: probe.kind === "ab" || probe.kind === "http" || probe.kind === "grpc" ? probe.tools.image : undefined,
    spec: probe,
    everyMs: run.everyMs,
    save: run.save,
    expect: run.expect,
    expectText: run.expect.map(expectationText),
  };
}
