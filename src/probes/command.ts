// The commands of the ab and http probes, built from the probe and its templates filled in.
// Pure. One builder for the plan (templates as written) and for the run (each template
// filled in): every template is filled wherever it stands — URL host, port, path and query,
// header values, the body — and the command is a pair, what runs and what is shown (an
// environment variable's value never is; its template is).
import { unfilledTemplate, type Filled, type Secret } from "../scenario/template.js";
import type { Probe } from "../scenario/types.js";

/** How a template becomes text: filled in for a run, or left as written for the plan. */
export type Fill = (template: string) => Filled;

export interface ToolCommand {
  /** the argv that runs (every value filled in) */
  readonly real: readonly string[];
  /** the argv shown and recorded: an environment variable's template instead of its value */
  readonly shown: readonly string[];
  /** the environment variables filled in */
  readonly secrets: readonly Secret[];
}

/** ab's socket timeout when the probe sets none (ab's own is 30 s: too long for a probe). */
export const DEFAULT_AB_TIMEOUT_S = 10;

/** curl's per-request line (-w): status, time in seconds, curl's exit code for that request, its error. */
export const CURL_WRITE_OUT = "%{http_code} %{time_total} %{exitcode} %{errormsg}\\n";

class Builder {
  readonly real: string[] = [];
  readonly shown: string[] = [];
  readonly secrets: Secret[] = [];

  /** arguments written by chaos-run itself */
  push(...args: string[]): this {
    this.real.push(...args);
    this.shown.push(...args);
    return this;
  }

  /** one argument from a filled template (the prefix is chaos-run's own) */
  filled(f: Filled, prefix = ""): this {
    this.real.push(prefix + f.real);
    this.shown.push(prefix + f.shown);
    this.secrets.push(...f.secrets);
    return this;
  }

  /** one argument of several pieces, each already a (real, shown) pair */
  pair(real: string, shown: string, secrets: readonly Secret[]): this {
    this.real.push(real);
    this.shown.push(shown);
    this.secrets.push(...secrets);
    return this;
  }

  done(): ToolCommand {
    return { real: this.real, shown: this.shown, secrets: this.secrets };
  }
}

/**
 * The ab command of a probe: -r keeps going past receive errors (a fault's effect is measured,
 * not fatal), -s bounds each request, and -e /dev/stderr writes ab's percentiles with
 * microsecond precision (its report table rounds them to whole milliseconds).
 */
export function abCommand(probe: Extract<Probe, { kind: "ab" }>, fill: Fill = unfilledTemplate): ToolCommand {
  const ab = probe.ab;
  const b = new Builder().push("ab", "-r");
  if (ab.keepAlive) b.push("-k");
  b.push("-n", String(ab.requests), "-c", String(ab.concurrency));
  b.push("-s", String(ab.timeoutMs !== undefined ? Math.max(1, Math.ceil(ab.timeoutMs / 1000)) : DEFAULT_AB_TIMEOUT_S));
  return b.push("-e", "/dev/stderr").filled(fill(ab.url)).done();
}

/** A URL's scheme, userinfo and an IPv6 host in brackets: curl leaves those brackets alone. */
const CURL_HOST = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(?:\[[0-9A-Fa-f:.]+(?:%[^\]]*)?\])?/;

/**
 * A filled URL as curl reads it literally: its glob characters ([ ] { }) backslash-escaped once
 * every template is in (a value may hold them too), except the brackets of an IPv6 host. What
 * is shown escapes what was written the same way and shows an environment variable's template
 * as written.
 */
export function curlUrl(url: Filled): { real: string; shown: string } {
  const keep = CURL_HOST.exec(url.real)?.[0].length ?? 0;
  let real = "";
  let shown = "";
  let at = 0;
  for (const part of url.parts) {
    const from = at;
    const escaped = part.text.replace(/[[\]{}]/g, (c: string, i: number) => (from + i < keep ? c : `\\${c}`));
    real += escaped;
    // a filled-in value is shown as it is: a target's name or address holds no glob character
    // outside an IPv6 host, and an environment variable shows its template
    shown += part.literal ? escaped : part.shown;
    at += part.text.length;
  }
  return { real, shown };
}

/**
 * The curl command of an http probe: one transfer per request, written out one line each
 * (CURL_WRITE_OUT), bodies dropped; the requests are the same URL repeated through a glob in
 * its fragment (`#[1-N]`), which curl never sends. Connections are reused; --parallel-max
 * bounds the requests in flight.
 */
export function curlCommand(probe: Extract<Probe, { kind: "http" }>, fill: Fill = unfilledTemplate): ToolCommand {
  const h = probe.http;
  const b = new Builder().push("curl", "--silent", "--output", "/dev/null", "--write-out", CURL_WRITE_OUT, "--max-time", String(h.timeoutMs / 1000));
  if (h.method === "HEAD") b.push("--head");
  else if (h.method !== "GET" || h.body !== undefined) b.push("--request", h.method);
  for (const [name, value] of Object.entries(h.headers)) {
    const f = fill(value);
    // a line break would end the header and start another (the schema forbids it in what is written)
    if (/[\r\n]/.test(f.real)) throw new RangeError(`header ${name}: ${f.shown} holds a line break once filled in`);
    b.push("--header").filled(f, `${name}: `);
  }
  if (h.body !== undefined) b.push("--data-raw").filled(fill(h.body));
  if (h.concurrency > 1) b.push("--parallel", "--parallel-immediate", "--parallel-max", String(h.concurrency));
  const url = fill(h.url);
  const glob = `#[1-${h.requests}]`;
  const { real, shown } = curlUrl(url);
  return b.pair(real + glob, shown + glob, url.secrets).done();
}

/** The command of an ab or http probe. */
export function toolCommand(probe: Extract<Probe, { kind: "ab" | "http" }>, fill: Fill = unfilledTemplate): ToolCommand {
  return probe.kind === "ab" ? abCommand(probe, fill) : curlCommand(probe, fill);
}
