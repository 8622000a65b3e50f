// The lab's container runtime: each container is a real process tree in its pod's
// network namespace, with a mount and UTS namespace of its own. Exit codes,
// restarts and start/finish times are the processes' own.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabImage } from "./images.js";

export type ContainerState =
  | { kind: "waiting"; reason: string; message?: string }
  | { kind: "running"; startedAt: string }
  | { kind: "terminated"; exitCode: number; signal?: number; reason: string; startedAt: string; finishedAt: string };

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[] | undefined;
  args?: string[] | undefined;
  ephemeral: boolean;
  restartPolicy: "Always" | "OnFailure" | "Never";
}

export interface RuntimeEnv {
  /** directories searched for programs, first the lab's own bin (chaos-agent) */
  path: string;
  containerInit: string;
  /** test/lab: an image's `$LAB` argument stands for it */
  labDir: string;
}

const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGUSR1: 10, SIGUSR2: 12, SIGPIPE: 13, SIGABRT: 6 };

export class Container {
  state: ContainerState = { kind: "waiting", reason: "ContainerCreating" };
  lastState: ContainerState | undefined;
  restartCount = 0;
  /** set once the container can be exec'd into (its Exec target is served) */
  ready = false;
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly dir: string;

  constructor(
    readonly spec: ContainerSpec,
    readonly image: LabImage | undefined,
    podDir: string,
    private readonly netns: string,
    private readonly hostname: string,
    private readonly env: RuntimeEnv,
    private readonly onChange: () => void,
  ) {
    this.dir = join(podDir, spec.name);
    mkdirSync(this.dir, { recursive: true });
    if (image === undefined) {
      this.state = {
        kind: "waiting",
        reason: "ErrImagePull",
        message: `lab: image "${spec.image}" is not one the lab can run`,
      };
      return;
    }
    writeFileSync(join(this.dir, "commands"), image.commands.join("\n") + "\n");
    writeFileSync(join(this.dir, "private-dirs"), image.privateDirs.join("\n") + "\n");
    writeFileSync(join(this.dir, "path"), env.path);
  }

  get argv(): string[] {
    const image = this.image;
    if (image === undefined) return [];
    if (this.spec.command !== undefined && this.spec.command.length > 0) return [...this.spec.command, ...(this.spec.args ?? [])];
    const own = (a: string): string => a.replace("$LAB", this.env.labDir);
    return [...image.entrypoint.map(own), ...(this.spec.args ?? image.cmd.map(own))];
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.image === undefined || this.stopping) return;
    const argv = this.argv;
    const log = openSync(join(this.dir, "log"), "a");
    const child = spawn(
      "unshare",
      ["--mount", "--uts", "--propagation", "private", "--", "nsenter", `--net=/run/netns/${this.netns}`, "--", this.env.containerInit, this.dir, this.hostname, "--", ...argv],
      { stdio: ["ignore", log, log], detached: true },
    );
    closeSync(log);
    this.child = child;
    const startedAt = new Date().toISOString();
    child.on("error", (err) => {
      this.state = { kind: "waiting", reason: "RunContainerError", message: err.message };
      this.onChange();
    });
    if (child.pid === undefined) return;
    writeFileSync(join(this.dir, "pid"), String(child.pid));
    this.state = { kind: "running", startedAt };
    child.on("exit", (code, signal) => {
      rmSync(join(this.dir, "pid"), { force: true });
      this.child = undefined;
      this.ready = false;
      const signum = signal === null ? undefined : signals[signal];
      const exitCode = code ?? (signum === undefined ? 255 : 128 + signum);
      this.state = {
        kind: "terminated",
        exitCode,
        ...(signum === undefined ? {} : { signal: signum }),
        reason: exitCode === 0 ? "Completed" : "Error",
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      if (!this.stopping && this.shouldRestart(exitCode)) this.scheduleRestart();
      this.onChange();
    });
  }

  /**
   * Resolves once the container's own program runs: container-init has made its mounts and
   * exec'd it (a kubelet reports a container running only once its runtime started it; an exec
   * that entered the mount namespace earlier could find /tmp or /run not set up yet).
   */
  async programStarted(timeoutMs = 10_000): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    const deadline = Date.now() + timeoutMs;
    // until then the process is unshare, nsenter or container-init, each with it in its argv
    while (Date.now() < deadline) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        return; // gone: its exit is reported
      }
      if (cmdline === "" || !cmdline.includes(this.env.containerInit)) return;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private shouldRestart(exitCode: number): boolean {
    if (this.spec.ephemeral) return false; // ephemeral containers are never restarted
    if (this.spec.restartPolicy === "Always") return true;
    return this.spec.restartPolicy === "OnFailure" && exitCode !== 0;
  }

  private scheduleRestart(): void {
    // The kubelet backs off 10 s doubling to 5 min; the lab keeps the shape, shorter.
    const delay = Math.min(1000 * 2 ** this.restartCount, 30_000);
    this.lastState = this.state;
    this.state = { kind: "waiting", reason: "CrashLoopBackOff", message: `back-off ${delay / 1000}s restarting failed container=${this.spec.name}` };
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restartCount += 1;
      this.start();
      this.onChange();
    }, delay);
  }

  /** SIGTERM to the container's process group, SIGKILL after the grace period. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    killGroup(child.pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
