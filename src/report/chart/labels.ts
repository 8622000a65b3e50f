// The words written inside a chart's plot (a fault's name, the baseline, each expectation),
// laid out so that no two overprint: each wants a place near what it names and moves a row at a
// time until its box is free. The report has no script, so the boxes are estimated here, from
// the widths of DejaVu Sans Bold (the widest of the usual sans-serif faces a system-ui stack
// falls back to): a face no wider than it never makes two estimated-apart labels touch.
// Pure: the layout is a function of the labels and the plot's rectangle.

/** A rectangle in the SVG's coordinates: left, top, right, bottom. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** Where a label's text is anchored: x of its start (anchor start) or of its end (anchor end). */
export interface Anchor {
  readonly x: number;
  readonly anchor: "start" | "end";
}

export interface Label extends Anchor {
  readonly text: string;
  /** other places along x it may take to keep off the data (the other end of its line) */
  readonly orAt?: readonly Anchor[] | undefined;
  /** the baseline it wants: next to what it names */
  readonly y: number;
  /** down only: a name at the top of what it names (a fault's window); either: above or below its line */
  readonly moves: "down" | "either";
  readonly className: string;
  /** its colour where the class does not give one (an expectation's verdict) */
  readonly fill?: string | undefined;
  /** data-* attributes naming what it labels (data-step, data-verdict) */
  readonly data?: Readonly<Record<string, string>> | undefined;
  /** the line it names (an expectation's), which it may touch though other labels keep off it */
  readonly line?: Segment | undefined;
}

export interface PlacedLabel extends Label {
  /** the text as drawn: cut with an ellipsis when wider than the plot */
  readonly shown: string;
  readonly box: Box;
}

/** The labels' font: 11px (the report's .fault-label, .limit-label, .band-label). */
export const LABEL_PX = 11;
/** Above and below the baseline, in px, of an 11px line of DejaVu Sans as Chromium boxes it (10 and 3). */
const ASCENT = 10.5;
const DESCENT = 3.5;
/** One row further when a label moves: its height and a pixel between. */
export const LABEL_ROW = Math.ceil(ASCENT + DESCENT) + 1;

/** Advance widths in em, rounded up, of DejaVu Sans Bold; any other character counts as 1.12 em. */
const WIDTHS: readonly (readonly [string, number])[] = [
  [" ',.:;|il·", 0.41],
  ["!()[]/\\IJfj-", 0.47],
  ['"*_`t–r', 0.53],
  ["csz?", 0.62],
  ["0123456789$abdeghknopquvxy{}EL", 0.72],
  ["ABCFGKPRSTUVXYZ", 0.83],
  ["DHNOQ&#+<=>^~≥≤×✓✗↑●w", 0.94],
  ["mM%@—…W", 1.12],
];
const EM = new Map<string, number>(WIDTHS.flatMap(([chars, em]) => [...chars].map((c) => [c, em] as const)));

/** The width a text takes at `px`, at least what DejaVu Sans Bold takes. */
export function textWidth(text: string, px = LABEL_PX): number {
  let em = 0;
  for (const c of text) em += EM.get(c) ?? 1.12;
  return em * px;
}

/** The box a label's text takes, by the estimate, with its baseline at `y`. */
export function labelBox(at: Anchor, y: number, text: string): Box {
  const width = textWidth(text);
  const x0 = at.anchor === "start" ? at.x : at.x - width;
  return { x0, y0: y - ASCENT, x1: x0 + width, y1: y + DESCENT };
}

/** Whether two boxes meet, or come within a pixel of each other. */
export const intersects = (a: Box, b: Box): boolean => a.x0 < b.x1 + 1 && b.x0 < a.x1 + 1 && a.y0 < b.y1 + 1 && b.y0 < a.y1 + 1;

/** The text cut to fit `width` px, an ellipsis in place of what was cut. */
function fitted(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  const chars = [...text];
  while (chars.length > 0 && textWidth(`${chars.join("")}…`) > width) chars.pop();
  return `${chars.join("")}…`;
}

/** A line drawn in the plot, from (x0, y0) to (x1, y1). */
export interface Segment {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** What a label had better not cover: the data's marks (points, runs), its lines and the expectations' lines. */
export interface Obstacles {
  readonly boxes: readonly Box[];
  readonly segments: readonly Segment[];
}

/** How many rows a label may move to keep off the data before it settles for covering some. */
const ROWS_TO_KEEP_OFF_DATA = 3;

/** Whether a segment passes through a box (Liang–Barsky: clip the segment to the box). */
function crosses(s: Segment, b: Box): boolean {
  const dx = s.x1 - s.x0;
  const dy = s.y1 - s.y0;
  let t0 = 0;
  let t1 = 1;
  for (const [p, q] of [
    [-dx, s.x0 - b.x0],
    [dx, b.x1 - s.x0],
    [-dy, s.y0 - b.y0],
    [dy, b.y1 - s.y0],
  ] as const) {
    if (p === 0) {
      if (q < 0) return false;
      continue;
    }
    const r = q / p;
    if (p < 0) t0 = Math.max(t0, r);
    else t1 = Math.min(t1, r);
    if (t0 > t1) return false;
  }
  return true;
}

/** The baselines a label may take, best first: where it wants to be, then a row further at a time. */
function* baselines(label: Label, area: Box): Generator<number> {
  const top = area.y0 + ASCENT;
  const bottom = area.y1 - DESCENT;
  const wanted = Math.min(bottom, Math.max(top, label.y));
  yield wanted;
  for (let k = 1; ; k++) {
    const up = wanted - k * LABEL_ROW;
    const down = wanted + k * LABEL_ROW;
    const upFits = label.moves === "either" && up >= top;
    if (upFits) yield up;
    if (down <= bottom) yield down;
    else if (!upFits) return;
  }
}

/** A place a label may take: its baseline and its box. */
interface Place {
  readonly at: Anchor;
  readonly y: number;
  readonly box: Box;
}

/** Every place a label may take at each of its anchors, nearest first, and how far each is from where it wants to be. */
function placesOf(label: Label, text: string, area: Box): (Place & { readonly rows: number })[][] {
  const width = textWidth(text);
  return [label, ...(label.orAt ?? [])].map((at) => {
    // inside the plot, left to right: a label near an edge is moved in rather than cut by it
    const wantedX0 = at.anchor === "start" ? at.x : at.x - width;
    const x0 = Math.max(area.x0 + 2, Math.min(area.x1 - 2 - width, wantedX0));
    const ys = [...baselines(label, area)];
    const anchored = { x: at.anchor === "start" ? x0 : x0 + width, anchor: at.anchor };
    return ys.map((y) => ({ at: anchored, y, box: labelBox(anchored, y, text), rows: Math.round(Math.abs(y - (ys[0] ?? y)) / LABEL_ROW) }));
  });
}

/**
 * Places each label, in the order given (the first ones keep their places), inside `area` where
 * its box meets no other's — and, within a few rows of where it wants to be, at any of its
 * anchors, where it covers no data either; a label with no free place is left out of `placed`
 * and counted in `unplaced` (the chart then grows taller and lays out again).
 */
export function layoutLabels(labels: readonly Label[], area: Box, data: Obstacles = { boxes: [], segments: [] }): { placed: PlacedLabel[]; unplaced: number } {
  const placed: PlacedLabel[] = [];
  let unplaced = 0;
  const onData = (box: Box, own: Segment | undefined): boolean => data.boxes.some((b) => intersects(b, box)) || data.segments.some((s) => s !== own && crosses(s, box));
  for (const label of labels) {
    const shown = fitted(label.text, area.x1 - area.x0 - 4);
    const free = placesOf(label, shown, area).map((places) => places.filter((c) => !placed.some((p) => intersects(p.box, c.box))));
    // the nearest place off the data, its first anchor first; else the nearest free place, on the data
    const clear = free.flatMap((places) => places.filter((c) => c.rows <= ROWS_TO_KEEP_OFF_DATA && !onData(c.box, label.line))).sort((a, b) => a.rows - b.rows);
    const best = clear[0] ?? free.flat().sort((a, b) => a.rows - b.rows)[0];
    if (best === undefined) unplaced++;
    else placed.push({ ...label, x: best.at.x, anchor: best.at.anchor, y: best.y, shown, box: best.box });
  }
  return { placed, unplaced };
}
