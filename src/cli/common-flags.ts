// The flags several verbs share, declared once with their line of help: the target pods, the
// agent's image and pull policy, a fault's duration, --detach, the window a recovery is watched.
import { PULL_POLICIES } from "../scenario/types.js";
import { boolean, choice, duration, pods, required, text } from "./flags.js";

export const POD_FLAG = { pod: pods() };
export const POD_HELP = "  -p, --pod POD          target pod (repeat, or comma-separate, for several)";

export const PULL_POLICY_FLAG = { "pull-policy": choice(PULL_POLICIES) };
export const PULL_POLICY_HELP = `  --pull-policy P        imagePullPolicy of the agent (and tools pod): IfNotPresent (default:
                         an image loaded into the nodes is used as it is), Always or Never`;

/** --agent-image and --pull-policy */
export const AGENT_FLAGS = { "agent-image": text(), ...PULL_POLICY_FLAG };
export const AGENT_HELP = `  --agent-image IMAGE    agent image (default: $CHAOS_RUN_AGENT_IMAGE, else docker.io/library/chaos-agent:latest)
${PULL_POLICY_HELP}`;

/** `-r 30` (seconds, as the verbs always took it), `-r 30s`, `-r 1.5m`; in milliseconds */
export const DURATION_FLAG = { duration: required(duration({ short: "r", plain: "seconds", min: 1, max: 24 * 3600, whole: true }), "needs a duration: -r SECONDS") };
export const DURATION_HELP = "  -r, --duration S       how long: seconds (30), or a duration (30s, 1.5m)";

export const DETACH_FLAG = { detach: boolean() };

/** How long a kill or a pod deletion is watched for the recovery, in milliseconds. */
export const WINDOW_FLAG = { window: duration({ short: "w", plain: "seconds", min: 1, max: 3600, whole: true }) };

export const HELP_HELP = "  -h, --help             this help";
