// The CLI in-process, through runCli with recording I/O (main.ts only wires it to the process).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VERBS, runCli } from "../../src/cli/cli.js";
import type { CliIO } from "../../src/cli/io.js";

async function cli(args: string[], env: Record<string, string> = {}, tty = false) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: {
      write: (s) => {
        stdout += s;
      },
    },
    stderr: {
      write: (s) => {
        stderr += s;
      },
    },
    stdoutIsTTY: tty,
    stderrIsTTY: tty,
    env,
    cwd: process.cwd(),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describe("chaos-run", () => {
  it("--help and help list the verbs", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    for (const verb of Object.keys(VERBS)) expect(r.stdout).toContain(verb);
    expect((await cli(["help", "validate"])).stdout).toContain("Usage: chaos-run validate");
    expect((await cli(["plan", "--help"])).stdout).toContain("Usage: chaos-run plan");
  });
  it("no arguments: usage on stderr, exit 2", async () => {
    const r = await cli([]);
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toContain("Usage:");
  });
  it("--version", async () => {
    expect((await cli(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
  it("unknown verb, unknown flag: exit 2 with a hint", async () => {
    const r = await cli(["valdate", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('chaos-run: error: unknown verb "valdate"\n  hint: did you mean validate? (chaos-run --help)\n');
    const f = await cli(["validate", "--frmat", "json", "scenarios"]);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain("chaos-run: error: Unknown option '--frmat'");
    expect(f.stderr).toContain("hint: see: chaos-run validate --help");
    expect((await cli(["--nope"])).code).toBe(2);
  });
  it("a scenario file as first argument means run", async () => {
    const r = await cli(["scenarios/nginx-latency.yaml", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: chaos-run run FILE/);
  });
});

describe("validate", () => {
  it("the catalog: exit 0", async () => {
    const r = await cli(["validate", "scenarios/"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^\d+ files valid\n$/);
  });
  it("every file's problems at once, exit 2", async () => {
    const r = await cli(["validate", "test/fixtures/invalid/", "scenarios/nginx-latency.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("test/fixtures/invalid/unknown-key.yaml:18:5: error[unknown-key]: unknown key `duraton` in step 2\n  hint: did you mean `duration`?");
    expect(r.stderr).toContain("test/fixtures/invalid/yaml-syntax.yaml:7:9: error[yaml-syntax]:");
    const broken = readdirSync("test/fixtures/invalid").filter((f) => f.endsWith(".yaml")).length;
    expect(r.stderr).toMatch(new RegExp(`${broken} files of ${broken + 1} invalid: \\d+ errors\n$`));
    expect(r.stderr).not.toContain("\u001b[");
  });
  it("--format json: the same diagnostics as data", async () => {
    const r = await cli(["validate", "--format", "json", "test/fixtures/invalid/bad-enum.yaml"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        file: "test/fixtures/invalid/bad-enum.yaml",
        line: 17,
        col: 57,
        endLine: 17,
        endCol: 64,
        severity: "error",
        code: "bad-enum",
        message: "`normall` is not one of `uniform`, `normal`, `pareto` or `paretonormal`",
        hint: "did you mean `normal`? allowed: uniform, normal, pareto, paretonormal",
        path: "/steps/1/fault/netem/distribution",
      },
    ]);
  });
  it("colour and a code frame only on a TTY without NO_COLOR", async () => {
    const tty = await cli(["validate", "test/fixtures/invalid/bad-enum.yaml"], {}, true);
    expect(tty.stderr).toContain("\u001b[");
    expect(tty.stderr).toContain("17 |");
    expect(tty.stderr).toContain("^^^^^^^");
    const noColor = await cli(["validate", "test/fixtures/invalid/bad-enum.yaml"], { NO_COLOR: "1" }, true);
    expect(noColor.stderr).not.toContain("\u001b[");
    expect(noColor.stderr).not.toContain("17 |");
  });
  it("a missing file is a located diagnostic; an empty directory a usage error", async () => {
    const r = await cli(["validate", "no/such.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no/such.yaml:1:1: error[unreadable-file]: cannot read the file: no such file");
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-empty-"));
    try {
      expect((await cli(["validate", dir])).code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("walks directories in sorted order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-run-walk-"));
    try {
      for (const name of ["b.yaml", "a.yml", "c.txt"]) writeFileSync(join(dir, name), "kind: nope\n");
      const r = await cli(["validate", "--format", "json", dir]);
      const files = [...new Set((JSON.parse(r.stdout) as { file: string }[]).map((d) => d.file))];
      expect(files).toEqual([join(dir, "a.yml"), join(dir, "b.yaml")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** UPDATE_GOLDEN=1 rewrites the golden plans in test/fixtures/plan/. */
function checkGolden(name: string, actual: string): void {
  const path = join("test/fixtures/plan", name);
  if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("plan", () => {
  it("prints the same plan twice, byte for byte: the faults' exact requests, and where the commands come from", async () => {
    const a = await cli(["plan", "scenarios/nginx-latency.yaml", "--offline"]);
    const b = await cli(["plan", "scenarios/nginx-latency.yaml", "--offline"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain(
      `apply (one exec per pod): chaos-agent request '{"protocol":1,"op":"apply","runId":"offline","fault":{"id":"offline-s2","leaseMs":15000,"spec":{"kind":"netem","scope":{"port":80},"netem":{"delayMs":100,"jitterMs":5}}}}'\n`,
    );
    expect(a.stdout).toContain(`revert: chaos-agent request '{"protocol":1,"op":"revert","runId":"offline","faultId":"offline-s2"}'\n`);
    checkGolden("nginx-latency.txt", a.stdout);
  });
  it("--format json with --pods and --seed", async () => {
    const r = await cli(["plan", "scenarios/half-the-fleet.yaml", "--offline", "--pods", "p3,p1,p2,p4", "--seed", "7", "--format", "json"]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { seed: number; target: { candidates: string[]; pods: { name: string }[] }; steps: { fault?: { apply: { op: string } } }[] };
    expect(plan.seed).toBe(7);
    expect(plan.target.candidates).toEqual(["p1", "p2", "p3", "p4"]);
    expect(plan.target.pods).toHaveLength(2);
    expect(plan.steps[1]?.fault?.apply.op).toBe("apply");
    checkGolden("half-the-fleet.json", r.stdout);
  });
  it("a partition scoped to a CIDR and a port, named pods: the golden plan", async () => {
    const r = await cli(["plan", "scenarios/db-partition.yaml", "--offline", "--pods", "api-1,api-0"]);
    expect(r.code).toBe(0);
    checkGolden("db-partition.txt", r.stdout);
  });
  it("a system namespace: refused offline too, located, exit 3", async () => {
    const r = await cli(["plan", "scenarios/half-the-fleet.yaml", "--offline", "-n", "kube-system"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^scenarios\/half-the-fleet\.yaml:\d+:\d+: error\[system-namespace\]: namespace `kube-system` holds the cluster's own components/);
    expect(r.stderr).toContain("hint: if the experiment is meant for the cluster's own components, say so in the scenario: target.allowSystemNamespaces: true");
  });
  it("refusals are located, exit 3", async () => {
    const r = await cli(["plan", "scenarios/db-partition.yaml", "--offline", "--pods", "a"]);
    expect(r.code).toBe(0);
    const over = await cli(["plan", "scenarios/jitter-correlation.yaml", "--offline", "--pods", "a,b,c"]);
    expect(over.code).toBe(3);
    expect(over.stderr).toMatch(/^scenarios\/jitter-correlation\.yaml:\d+:\d+: error\[blast-radius\]: mode all would hit 3 pods, above maxPods 2/);
  });
  it("needs --offline for now; an invalid file gives its diagnostics", async () => {
    expect((await cli(["plan", "scenarios/nginx-latency.yaml"])).stderr).toContain("add --offline");
    const bad = await cli(["plan", "test/fixtures/invalid/bad-enum.yaml", "--offline"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("error[bad-enum]");
  });
});

describe("global flags, before or after the verb (kubectl's)", () => {
  it("-n/--namespace anywhere reaches the verb", async () => {
    const before = await cli(["-n", "web", "plan", "scenarios/half-the-fleet.yaml", "--offline", "--format", "json"]);
    const after = await cli(["plan", "scenarios/half-the-fleet.yaml", "--offline", "--format", "json", "--namespace=web"]);
    const short = await cli(["plan", "-nweb", "scenarios/half-the-fleet.yaml", "--offline", "--format", "json"]);
    for (const r of [before, after, short]) {
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { namespace: string }).namespace).toBe("web");
    }
  });
  it("--kubeconfig and --context before the verb are not 'unknown options'", async () => {
    const r = await cli(["--kubeconfig", "/no/such/kubeconfig", "--context", "lab", "install", "-p", "nginx"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot read the kubeconfig /no/such/kubeconfig");
    expect(r.stderr).not.toContain("nknown option");
    const after = await cli(["install", "-p", "nginx", "--kubeconfig=/no/such/kubeconfig"]);
    expect(after.stderr).toContain("cannot read the kubeconfig /no/such/kubeconfig");
  });
  it("a scenario file after global flags still means run; a flag without its value is a usage error", async () => {
    const r = await cli(["--context", "lab", "scenarios/nginx-latency.yaml", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: chaos-run run FILE/);
    const missing = await cli(["plan", "scenarios/nginx-latency.yaml", "--offline", "-n"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("chaos-run: error: -n needs a value");
  });
});

describe("disrupt", () => {
  it("holds in the foreground by default; --detach hands off; --wait stays accepted, but not with --detach", async () => {
    const help = await cli(["disrupt", "--help"]);
    expect(help.stdout).toContain("--detach               return once the fault is in effect; the agent ends it after DURATION_S");
    expect(help.stdout).toContain("-w, --wait             hold the fault in the foreground (the default; kept for scripts)");
    const both = await cli(["disrupt", "-p", "nginx", "-d", "100", "-r", "30", "--detach", "--wait"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--detach and --wait contradict each other");
    const policy = await cli(["disrupt", "-p", "nginx", "-d", "100", "-r", "30", "--pull-policy", "Sometimes"]);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain("--pull-policy must be one of Always, IfNotPresent, Never");
  });
});

describe("http", () => {
  it("says how to use it", async () => {
    const help = await cli(["http", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chaos-run http -p POD --port PORT \[--delay MS\] \[--error-rate PERCENT\] -r DURATION_S/);
    expect(help.stdout).toContain("HTTP/1.x and h2c (HTTP/2 without TLS) requests are faulted, gRPC calls excepted");
  });
  it("refuses what the agent would refuse, before touching a cluster (exit 2)", async () => {
    for (const [args, message] of [
      [["-p", "web", "-r", "30", "--delay", "100"], "http needs the port the pod serves: --port PORT"],
      [["-p", "web", "--port", "80", "-r", "30"], "http needs a delay (--delay MS) or an error rate (--error-rate PERCENT)"],
      [["-p", "web", "--port", "80", "--delay", "100"], "http needs a duration: -r SECONDS"],
      [["-p", "web", "--port", "0", "--delay", "100", "-r", "30"], '--port takes a port number from 1 to 65535, or the name of one of the Service\'s ports, not "0"'],
      [["-p", "web", "--port", "80", "--error-rate", "120", "-r", "30"], "--error-rate takes a number of percent from 0 to 100"],
      [["-p", "web", "--port", "80", "--error-rate", "10", "--error-code", "200", "-r", "30"], "--error-code must be a whole number from 400 to 599"],
      [["-p", "web", "--port", "80", "--delay", "10", "--error-code", "503", "-r", "30"], "--error-code needs --error-rate"],
      [["-p", "web", "--port", "80", "--jitter", "10", "--error-rate", "5", "-r", "30"], "--jitter needs --delay"],
      [["-p", "web", "--port", "80", "--delay", "10", "--exclude", "healthz", "-r", "30"], "--exclude takes a request path starting with /"],
      [["-p", "web", "--port", "80", "--delay", "10", "--method", "get", "-r", "30"], "--method takes an upper-case HTTP method"],
      [["--port", "80", "--delay", "10", "-r", "30"], "http needs a pod: -p POD"],
    ] as const) {
      const r = await cli(["http", ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
    }
  });
  it("the flags become the fault's parameters, the error code defaulting to 500", async () => {
    const { HTTP_FAULT_FLAGS, httpParams } = await import("../../src/cli/http.js");
    const { readVerbArgs } = await import("../../src/cli/verb.js");
    const params = (...args: string[]) => {
      const read = readVerbArgs({ name: "http", help: "", flags: HTTP_FAULT_FLAGS, positionals: "none" }, args);
      if (read === "help") throw new Error("help");
      return httpParams(read.values);
    };
    expect(params("--port", "8080", "--error-rate", "20", "--exclude", "/healthz", "--exclude", "/healthz", "--method", "GET")).toEqual({
      port: 8080,
      delayMs: undefined,
      jitterMs: undefined,
      errorRate: 20,
      errorCode: 500,
      errorBody: undefined,
      exclude: ["/healthz"],
      methods: ["GET"],
    });
    expect(params("--port", "80", "--delay", "200", "--jitter", "20")).toMatchObject({ delayMs: 200, jitterMs: 20, errorRate: undefined, errorCode: undefined });
    // what the scenario file takes: errorRate: "20%", delay: 1.5s
    expect(params("--port", "80", "--error-rate", "20%", "--delay", "1.5s", "--jitter", "20ms")).toMatchObject({ errorRate: 20, delayMs: 1500, jitterMs: 20 });
  });
});

describe("a flag takes what the scenario file takes", () => {
  it("50 and 50%, 30 and 30s, 1.5m: accepted by every verb, which then goes on to the cluster", async () => {
    for (const args of [
      ["http", "-p", "web", "--port", "80", "--error-rate", "50%", "--delay", "1.5s", "--jitter", "20ms", "-r", "30s"],
      ["http", "-p", "web", "--port", "80", "--error-rate", "50", "--delay", "100", "-r", "30"],
      ["disrupt", "-p", "web", "-d", "100ms", "-l", "5%", "-r", "1.5m"],
      ["disrupt", "-p", "web", "-d", "100", "-j", "10", "-l", "5", "-r", "30"],
      ["stress", "-p", "web", "--cpu", "1", "--load", "50%", "--memory", "64Mi", "-r", "30s"],
      ["disconnect", "-p", "web", "-r", "1m"],
      ["kill", "-p", "web", "-w", "2m"],
      ["kill-pod", "-p", "web", "--grace", "30s", "-w", "5m"],
      ["install", "-p", "web", "--ttl", "2h"],
    ]) {
      const r = await cli([...args, "--kubeconfig", "/nonexistent/kubeconfig"]);
      expect({ args, stderr: r.stderr }).toEqual({ args, stderr: expect.stringContaining("cannot read the kubeconfig /nonexistent/kubeconfig") });
    }
  });
  it("refuses the rest, saying what the flag takes (exit 2)", async () => {
    for (const [args, message] of [
      [["http", "-p", "web", "--port", "80", "--error-rate", "50 %", "-r", "30"], '--error-rate takes a number of percent from 0 to 100 (5 or 5%), not "50 %"'],
      [["disrupt", "-p", "web", "-d", "100", "-r", "1.5"], '-r/--duration takes a whole number of seconds from 1 to 86400 or a duration (30s, 1.5m), not "1.5"'],
      [["disrupt", "-p", "web", "-d", "2m", "-r", "30"], '-d/--delay takes a number of milliseconds from 0 to 60000 or a duration (100ms, 1.5s), not "2m"'],
      [["kill-pod", "-p", "web", "--grace", "2h"], '--grace takes a whole number of seconds from 0 to 3600 or a duration (30s, 1.5m), not "2h"'],
    ] as const) {
      const r = await cli([...args, "--kubeconfig", "/nonexistent/kubeconfig"]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toBe(`chaos-run: error: ${message}\n`);
    }
  });
});

describe("the agent image a run uses", () => {
  it("is --agent-image, else $CHAOS_RUN_AGENT_IMAGE, else the scenario's (undefined)", async () => {
    const { agentImageOverride } = await import("../../src/cli/cluster.js");
    const io = (env: Record<string, string | undefined>) => ({ stdout: { write: () => undefined }, stderr: { write: () => undefined }, stdoutIsTTY: false, stderrIsTTY: false, env, cwd: "/" });
    expect(agentImageOverride(io({ CHAOS_RUN_AGENT_IMAGE: "mirror.example/chaos-agent:1" }), "flag/agent:2")).toBe("flag/agent:2");
    expect(agentImageOverride(io({ CHAOS_RUN_AGENT_IMAGE: "mirror.example/chaos-agent:1" }), undefined)).toBe("mirror.example/chaos-agent:1");
    expect(agentImageOverride(io({ CHAOS_RUN_AGENT_IMAGE: "" }), undefined)).toBeUndefined();
    expect(agentImageOverride(io({}), undefined)).toBeUndefined();
  });
});
