import type { FaultIds } from "./types.js";

const ID = /^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/;

/** Throws when ids cannot name kernel objects safely (a programming error, not user input). */
export function checkIds(ids: FaultIds): void {
  if (!ID.test(ids.id)) throw new RangeError(`fault id ${JSON.stringify(ids.id)} must match ${ID.source}`);
  if (!Number.isInteger(ids.handle) || ids.handle < 1 || ids.handle > 0xfffe) {
    throw new RangeError(`tc handle ${ids.handle} must be an integer in 1..0xfffe`);
  }
}

/** tc's `major:` syntax (hex, no 0x). */
export function tcHandle(major: number): string {
  return `${major.toString(16)}:`;
}

/** The fault's iptables chain: `CHAOS-<id>`, at most 28 characters. */
export function chainName(id: string): string {
  return `CHAOS-${id}`;
}
