// IPv4/IPv6 addresses and CIDRs, checked with pure code (no node:net), for `to.cidr`.

export interface Cidr {
  readonly family: 4 | 6;
  /** as written, with `/32` or `/128` added when no prefix was given (what tc/iptables get) */
  readonly text: string;
  readonly address: string;
  readonly prefix: number;
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

const IPV4_OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => IPV4_OCTET.test(p));
}

function isIpv6(text: string): boolean {
  if (text.length === 0 || text.length > 45) return false;
  let head = text;
  let groupsForV4 = 0;
  // an embedded IPv4 tail (::ffff:10.0.0.1) counts as two groups
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.slice(lastColon + 1).includes(".")) {
    if (!isIpv4(text.slice(lastColon + 1))) return false;
    head = `${text.slice(0, lastColon + 1)}0`;
    groupsForV4 = 1;
  }
  const doubleColon = head.indexOf("::");
  if (doubleColon !== head.lastIndexOf("::")) return false;
  const group = /^[0-9A-Fa-f]{1,4}$/;
  if (doubleColon >= 0) {
    const left = head.slice(0, doubleColon);
    const right = head.slice(doubleColon + 2);
    const l = left === "" ? [] : left.split(":");
    const r = right === "" ? [] : right.split(":");
    if (![...l, ...r].every((g) => group.test(g))) return false;
    return l.length + r.length + groupsForV4 <= 7;
  }
  const groups = head.split(":");
  return groups.length + groupsForV4 === 8 && groups.every((g) => group.test(g));
}

/** Parses `10.0.0.0/8`, `10.1.2.3`, `fd00::/64`, `::1`. */
export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf("/");
  const address = slash >= 0 ? text.slice(0, slash) : text;
  const prefixText = slash >= 0 ? text.slice(slash + 1) : undefined;
  let family: 4 | 6;
  if (isIpv4(address)) family = 4;
  else if (isIpv6(address)) family = 6;
  else return { ok: false, reason: `\`${address}\` is not an IPv4 or IPv6 address` };
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      return { ok: false, reason: `the prefix length must be a number from 0 to ${max}` };
    }
    prefix = Number(prefixText);
  }
  return { ok: true, cidr: { family, text: `${address}/${prefix}`, address, prefix } };
}
