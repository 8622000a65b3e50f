// API failures → errors a user can act on: what was refused, by whom, and the fix. Pure: the
// adapter hands in the HTTP code and the Status body it got.
import { ChaosRunError, CouldNotRunError, ExitCode } from "../errors.js";

export interface ApiOperation {
  /** e.g. "add the agent to", "exec in", "list pods in" */
  readonly doing: string;
  readonly verb: string;
  readonly resource: string;
  readonly subresource?: string | undefined;
  readonly namespace: string;
  readonly name?: string | undefined;
}

export interface ApiFailure {
  /** HTTP status, or undefined when no response came (network) */
  readonly code: number | undefined;
  /** the request was sent again (its reused connection closed under it): the first may have been carried out, whatever the answer */
  readonly resent?: boolean | undefined;
  /** the Status body's message, or the network error's text */
  readonly message: string;
  readonly server: string;
  readonly context: string;
}

function where(op: ApiOperation): string {
  return op.name === undefined ? `namespace ${op.namespace}` : `pod ${op.namespace}/${op.name}`;
}

/** The Status body of a failed call, as text: its `message` when it is a Status, else the body. */
export function statusMessage(body: unknown): string {
  if (typeof body === "string") {
    try {
      return statusMessage(JSON.parse(body) as unknown);
    } catch {
      return body.trim();
    }
  }
  if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string") return body.message;
  return JSON.stringify(body) ?? "";
}

/**
 * Set on the errors made of an answer of the API server (an HTTP error status), never on those of
 * a request that got none. From the global registry: the client-node adapter is bundled with its
 * own copy of this module.
 */
const REFUSED = Symbol.for("chaos-run.api-refusal");

/**
 * Whether `e` says the API server refused the request: it was not carried out (nothing was added,
 * patched or deleted). Only a 4xx answer to a request sent once says so (408 aside). A request
 * that got no answer, a 5xx (a timeout's 504 leaves the handler running; a proxy's 502 or 503
 * may come after the request was passed on) or any answer to a request sent again may have been
 * carried out.
 */
export function isApiRefusal(e: unknown): boolean {
  return typeof e === "object" && e !== null && REFUSED in e;
}

export function apiError(op: ApiOperation, failure: ApiFailure): ChaosRunError {
  const e = describeFailure(op, failure);
  const code = failure.code;
  if (code !== undefined && code >= 400 && code < 500 && code !== 408 && failure.resent !== true) Object.defineProperty(e, REFUSED, { value: code });
  return e;
}

function describeFailure(op: ApiOperation, failure: ApiFailure): ChaosRunError {
  const resource = op.subresource === undefined ? op.resource : `${op.resource}/${op.subresource}`;
  const msg = failure.message;
  if (failure.code === undefined) {
    return new CouldNotRunError(`cannot reach the cluster at ${failure.server} (context ${failure.context}) to ${op.doing} ${where(op)}: ${msg}`, {
      hint: `is the cluster up and the context right? try: kubectl --context ${failure.context} get --raw /readyz`,
    });
  }
  if (failure.code === 403 && /violates PodSecurity/.test(msg)) {
    const level = /violates PodSecurity "([a-z]+)/.exec(msg)?.[1] ?? "baseline";
    return new CouldNotRunError(`Pod Security in namespace ${op.namespace} refuses the agent (level "${level}"): ${msg}`, {
      hint:
        `the agent needs NET_ADMIN, which only the "privileged" level admits. If that is acceptable for this namespace: ` +
        `kubectl label namespace ${op.namespace} pod-security.kubernetes.io/enforce=privileged --overwrite`,
    });
  }
  if (/ValidatingAdmissionPolicy '[^']*'.* denied|admission webhook "[^"]*" denied/.test(msg)) {
    // a container it adds, or its tools pod; else what it did (a pod's deletion, a ConfigMap)
    const adds = op.resource === "pods" && (op.subresource === "ephemeralcontainers" || op.verb === "create");
    const what = adds ? "containers (chaos-agent-*, chaos-kill-*, chaos-stress-*, and the chaos-tools pod)" : `requests to ${op.verb} ${resource}`;
    return new CouldNotRunError(`an admission policy of the cluster refused to let chaos-run ${op.doing} ${where(op)}: ${msg}`, {
      hint: `the policy named above is the cluster's own, not chaos-run's: its owners can exempt chaos-run's ${what} in namespace ${op.namespace}`,
    });
  }
  if (failure.code === 403) {
    return new CouldNotRunError(`not allowed to ${op.verb} ${resource} in namespace ${op.namespace}: ${msg}`, {
      hint: `grant the ClusterRole in deploy/rbac.yaml: kubectl apply -f deploy/rbac.yaml && kubectl create rolebinding chaos-run --clusterrole chaos-run --user <you> -n ${op.namespace}`,
    });
  }
  if (failure.code === 401) {
    return new CouldNotRunError(`the cluster at ${failure.server} rejected the credentials of context ${failure.context}: ${msg}`, {
      hint: "refresh your credentials (log in again), or pick another context with --context",
    });
  }
  if (failure.code === 404) {
    return new CouldNotRunError(`${where(op)} not found (to ${op.doing} it): ${msg}`, {
      hint: `list what is there: kubectl get pods -n ${op.namespace}`,
    });
  }
  if (failure.code === 422) {
    return new CouldNotRunError(`the API refused to ${op.doing} ${where(op)}: ${msg}`, {
      hint: "the message above is the API's own; ephemeral containers need Kubernetes ≥ 1.25",
    });
  }
  return new ChaosRunError(ExitCode.CouldNotRun, `could not ${op.doing} ${where(op)}: HTTP ${failure.code}: ${msg}`);
}
