// kubectl's global flags, accepted anywhere on the command line, before or after the verb (as
// kubectl does): --kubeconfig, --context, -n/--namespace, and --debug. They are taken out of
// argv before the verb is chosen, so `chaos-run --kubeconfig K install -p POD` and
// `chaos-run install -p POD --kubeconfig K` mean the same. Everything after `--` is left alone.
import { UsageError } from "../errors.js";

export interface GlobalFlags {
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  readonly namespace: string | undefined;
  readonly debug: boolean;
}

const VALUED: Readonly<Record<string, "kubeconfig" | "context" | "namespace">> = {
  "--kubeconfig": "kubeconfig",
  "--context": "context",
  "--namespace": "namespace",
  "-n": "namespace",
};

/** Splits argv into the global flags (the last one given wins, as with kubectl) and the rest. */
export function extractGlobalFlags(argv: readonly string[]): { globals: GlobalFlags; rest: string[] } {
  const values: { kubeconfig?: string; context?: string; namespace?: string } = {};
  let debug = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--debug") {
      debug = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const key = VALUED[name];
    if (key !== undefined) {
      let value: string | undefined;
      if (name !== arg) value = arg.slice(eq + 1);
      else {
        value = argv[i + 1];
        i++;
      }
      if (value === undefined || value === "" || (value.startsWith("-") && value.length > 1))
        throw new UsageError(`${name} needs a value`, { hint: `e.g. ${name} ${key === "namespace" ? "default" : key === "context" ? "kind-kind" : "~/.kube/config"}` });
      values[key] = value;
      continue;
    }
    // -nNS, as kubectl and node's parseArgs take it
    if (arg.startsWith("-n") && !arg.startsWith("--") && arg.length > 2) {
      values.namespace = arg.slice(2);
      continue;
    }
    rest.push(arg);
  }
  return { globals: { kubeconfig: values.kubeconfig, context: values.context, namespace: values.namespace, debug }, rest };
}
