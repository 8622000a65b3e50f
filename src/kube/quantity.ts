// Kubernetes resource quantities (resource.Quantity's text form) as numbers: CPU in millicores,
// memory in bytes. Pure.

const QUANTITY = /^([+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;

const SUFFIX: Readonly<Record<string, number>> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/** A quantity's value (`500m` → 0.5, `64Mi` → 67108864, `1e3` → 1000); undefined when it is not one. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text.trim());
  if (m === null || m[1] === undefined) return undefined;
  const suffix = m[2] ?? "";
  if (/^[eE]/.test(suffix)) return Number(m[1]) * 10 ** Number(suffix.slice(1));
  const factor = SUFFIX[suffix];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

/** A CPU quantity in whole millicores (`500m` → 500, `1.5` → 1500), rounded up as Kubernetes does. */
export function cpuMilli(text: string): number | undefined {
  const v = parseQuantity(text);
  return v === undefined ? undefined : Math.ceil(Math.round(v * 1e6) / 1e3);
}

/** A memory quantity in bytes (`64Mi` → 67108864). */
export function memoryBytes(text: string): number | undefined {
  const v = parseQuantity(text);
  return v === undefined ? undefined : Math.ceil(v);
}

/** The pod's limit of one resource: the sum of its containers' limits, when every container sets one (else the pod has none). */
export function podLimit(limits: readonly (string | undefined)[], parse: (text: string) => number | undefined): number | undefined {
  if (limits.length === 0) return undefined;
  let sum = 0;
  for (const l of limits) {
    const v = l === undefined ? undefined : parse(l);
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}
