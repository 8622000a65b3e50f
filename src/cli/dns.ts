// chaos-run dns -p POD --name PATTERN --answer nxdomain|servfail|refused|timeout|IP[,IP] -r S:
// DNS faults on the queries a pod sends, as a one-fault scenario through the same engine as
// disrupt. Held in the foreground by default (reverted at its end, or at once on Ctrl-C/SIGTERM);
// --detach hands it to the agent's lease.
import { UsageError } from "../errors.js";
import { DNS_ERROR_ANSWERS, DNS_NAME_GLOB, MAX_DNS_DELAY_MS, MAX_DNS_NAMES, dnsAnswerOf, dnsNameOf, type DnsAnswer, type DnsParams } from "../faults/types.js";
import { dnsSummary } from "../plan/fault-words.js";
import { parseCidr } from "../scenario/cidr.js";
import { CLUSTER_HELP } from "./cluster.js";
import { AGENT_FLAGS, AGENT_HELP, DETACH_FLAG, DURATION_FLAG, DURATION_HELP, HELP_HELP, POD_FLAG, POD_HELP, targetSelection } from "./common-flags.js";
import { duration, percent, text, texts } from "./flags.js";
import { faultStep, heldFaultScenario, seconds, sweepCommand } from "./shortcut-scenario.js";
import { runShortcut } from "./shortcut-run.js";
import { defineVerb, type FlagValues } from "./verb.js";

const EXAMPLE = "chaos-run dns -p web-0 --name 'payments.*' --answer nxdomain -r 30";

const HELP = `Usage: chaos-run dns -p POD --name PATTERN [--name PATTERN …] --answer ANSWER -r DURATION_S [options]

DNS faults on the queries the pod sends, for DURATION_S seconds: the agent (added if the pod
has none) answers the pod's DNS queries (to port 53: over TCP to any address, over UDP to the
nameservers of its resolv.conf) from a resolver of its own, in the pod's network namespace only. A query for a name that matches a PATTERN gets ANSWER (to a
share of them with --rate, after --delay with --delay); every other query is forwarded to the
pod's own nameserver untouched. At the end (or at once on Ctrl-C, exit 130, or SIGTERM, 143)
the redirect is removed and the pod's queries reach its nameserver directly again. With
--detach, returns as soon as the fault is in effect and leaves it to the agent, which removes
it by itself when the duration is over (chaos-run sweep ends it sooner).

Not reached: answers the application keeps in its own cache (a JVM's address cache), a
resolver on the pod's loopback (a caching sidecar answers from its cache), /etc/hosts.

Options:
${POD_HELP}
  --name PATTERN         a name whose queries are faulted (repeat for several): a glob where a
                         label that is * stands for one or more labels (*.svc.cluster.local), a
                         * inside a label for any characters of it (api-*.example.com); matched
                         without regard to case, as the resolver asks it (after its search list)
  --answer ANSWER        what those queries get: nxdomain, servfail, refused, timeout (no answer
                         at all), or IP[,IP…] (A queries get the IPv4 ones, AAAA the IPv6 ones)
  -d, --delay MS         delay before the answer (without --answer: before the real answer):
                         milliseconds (200), or a duration (200ms, 1.5s); at most 60s
  -j, --jitter MS        ± variation of the delay, as --delay (with --delay)
  --rate PERCENT         share of the matching queries faulted (default 100): percent (50, or 50%)
${DURATION_HELP}
  --detach               return once the fault is in effect; the agent ends it after DURATION_S
${AGENT_HELP}
${HELP_HELP}
${CLUSTER_HELP}

Example: ${EXAMPLE}
         chaos-run dns --service web --name 'db.shop.svc.cluster.local' --answer 10.0.0.99 -r 60
         chaos-run dns -p web-0 --name '*' --delay 300ms --rate 20% -r 60

Exit status: 0 applied and reverted (with --detach: applied), 2 usage, 3 could not run,
4 a revert could not be confirmed, 130/143 interrupted (after reverting).
`;

/** The flags of the fault itself (the rest are every held fault's). */
export const DNS_FAULT_FLAGS = {
  name: texts(),
  answer: text(),
  delay: duration({ short: "d", plain: "milliseconds", min: 0, max: MAX_DNS_DELAY_MS }),
  jitter: duration({ short: "j", plain: "milliseconds", min: 0, max: MAX_DNS_DELAY_MS }),
  rate: percent({ aboveZero: true, takes: "a number of percent above 0, at most 100 (50 or 50%)" }),
};

/** --name's patterns, each once, as the agent takes them. */
function names(given: readonly string[]): string[] {
  if (given.length === 0) throw new UsageError("dns needs the names whose queries are faulted: --name PATTERN", { hint: EXAMPLE });
  const bad = given.find((n) => n.length > 254 || !DNS_NAME_GLOB.test(n));
  if (bad !== undefined)
    throw new UsageError(`--name takes a DNS name or a glob of one (labels of letters, digits, '-', '_' and *), not ${JSON.stringify(bad)}`, {
      hint: "--name 'db.shop.svc.cluster.local' or --name '*.example.com'",
    });
  const once = [...new Set(given.map(dnsNameOf))];
  if (once.length > MAX_DNS_NAMES) throw new UsageError(`--name: at most ${MAX_DNS_NAMES} patterns`);
  return once;
}

/** --answer: a word, or addresses separated by commas (each an IPv4 or IPv6 address). */
function answer(given: string | undefined): DnsAnswer | undefined {
  if (given === undefined) return undefined;
  const word = dnsAnswerOf(given);
  if (word !== null) return word;
  const addresses = [...new Set(given.split(",").map((a) => a.trim()))];
  const bad = addresses.find((a) => a === "" || a.includes("/") || !parseCidr(a).ok);
  if (bad !== undefined)
    throw new UsageError(`--answer takes ${DNS_ERROR_ANSWERS.join(", ")}, or IP addresses separated by commas, not ${JSON.stringify(bad === "" ? given : bad)}`, {
      hint: "--answer nxdomain, --answer 10.0.0.9,fd00::9",
    });
  if (addresses.length > 16) throw new UsageError("--answer: at most 16 addresses");
  return { kind: "addresses", addresses };
}

/** The flags as a DnsFault's parameters; a usage error for anything the agent would refuse. */
export function dnsParams(values: FlagValues<typeof DNS_FAULT_FLAGS>): DnsParams {
  const { delay: delayMs, jitter: jitterMs, rate } = values;
  const patterns = names(values.name);
  const a = answer(values.answer);
  if (a === undefined && delayMs === undefined) throw new UsageError("dns needs an answer (--answer nxdomain|servfail|refused|timeout|IP[,IP]) or a delay (--delay MS)", { hint: EXAMPLE });
  if (jitterMs !== undefined && delayMs === undefined) throw new UsageError("--jitter needs --delay");
  return { names: patterns, answer: a, delayMs, jitterMs, rate: rate ?? 100 };
}

const FLAGS = {
  ...POD_FLAG,
  ...DNS_FAULT_FLAGS,
  ...DURATION_FLAG,
  ...DETACH_FLAG,
  ...AGENT_FLAGS,
};

export const run = defineVerb({ name: "dns", help: HELP, flags: FLAGS, positionals: "none", example: EXAMPLE }, async ({ ctx, values }) => {
  const selection = targetSelection(values, "dns");
  const params = dnsParams(values);
  const { duration: durationMs, detach } = values;
  const step = faultStep("dns", { kind: "dns", dns: params }, durationMs);
  const namespace = ctx.globals.namespace;
  const over = `${dnsSummary(params).replace(/; every other query.*$/, "")}${selection.kind === "service" ? ` (the pods of service ${selection.name})` : ""}: applied`;
  return runShortcut(ctx, () => ({
    scenario: heldFaultScenario({ name: "dns", selection, namespace, pullPolicy: values["pull-policy"], step, durationMs, detach }),
    agentImage: values["agent-image"],
    detach,
    done: detach ? `${over}; the agent removes it in ${seconds(durationMs)} by itself. To end it early: ${sweepCommand(namespace)}\n` : `${over} for ${seconds(durationMs)} and removed.\n`,
  }));
});
