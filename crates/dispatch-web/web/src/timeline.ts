// Day timelines: one row per contractor (console) or per day (contractor view), bars for
// assignments, a ghost bar for a proposed slot with the travel before it, shaded working hours.
// Plain positioned elements, so every bar is readable by a screen reader too (its aria-label).

import { h } from "./dom";
import { range, time } from "./format";

export type BarKind = "booked" | "proposed" | "new" | "travel";

export interface Bar {
  start: Date;
  end: Date;
  kind: BarKind;
  label: string;
}

export interface Row {
  key: string;
  label: Node | string;
  /** UTC instant of the row's local midnight. */
  dayStart: Date;
  bars: Bar[];
  /** Working stretches, local minutes since midnight. */
  working: Array<[number, number]>;
  highlight?: boolean;
}

export interface TimelineOptions {
  caption: string;
  zone: string;
  /** First and last local hour shown. */
  fromHour: number;
  toHour: number;
  rows: Row[];
  empty?: string;
}

export function timeline(options: TimelineOptions): HTMLElement {
  const span = (options.toHour - options.fromHour) * 60;
  const pct = (minutesFromMidnight: number) =>
    `${Math.max(0, Math.min(100, ((minutesFromMidnight - options.fromHour * 60) / span) * 100)).toFixed(3)}%`;
  const width = (from: number, to: number) => {
    const a = Math.max(from, options.fromHour * 60);
    const b = Math.min(to, options.toHour * 60);
    return `${Math.max(0, ((b - a) / span) * 100).toFixed(3)}%`;
  };
  const hours: number[] = [];
  for (let hour = options.fromHour; hour <= options.toHour; hour += 2) hours.push(hour);
  const axis = h(
    "div",
    { class: "tl-row tl-axis", "aria-hidden": "true" },
    h("div", { class: "tl-label" }),
    h(
      "div",
      { class: "tl-track" },
      hours.map((hour) => h("span", { class: "tl-tick", style: `left:${pct(hour * 60)}` }, `${String(hour).padStart(2, "0")}:00`)),
    ),
  );
  const rows = options.rows.map((row) => {
    const minutesOf = (at: Date) => (at.getTime() - row.dayStart.getTime()) / 60000;
    const track = h(
      "div",
      { class: "tl-track" },
      row.working.map(([from, to]) =>
        h("span", { class: "tl-work", style: `left:${pct(from)};width:${width(from, to)}`, title: "working hours" }),
      ),
      row.bars.map((bar) => {
        const from = minutesOf(bar.start);
        const to = minutesOf(bar.end);
        const text = `${bar.label}, ${range(bar.start.toISOString(), bar.end.toISOString(), options.zone, false)}`;
        return h(
          "span",
          {
            class: `tl-bar tl-${bar.kind}`,
            style: `left:${pct(from)};width:${width(from, to)}`,
            title: text,
            role: "img",
            "aria-label": text,
          },
          bar.kind === "travel" ? "" : h("span", { class: "tl-bar-text" }, bar.kind === "proposed" ? bar.label : time(bar.start, options.zone)),
        );
      }),
    );
    return h(
      "div",
      { class: `tl-row${row.highlight ? " tl-highlight" : ""}`, role: "listitem", "data-key": row.key },
      h("div", { class: "tl-label" }, row.label),
      track,
    );
  });
  return h(
    "figure",
    { class: "timeline" },
    h("figcaption", {}, options.caption),
    axis,
    h("div", { role: "list", "aria-label": options.caption }, rows.length ? rows : h("p", { class: "muted" }, options.empty ?? "Nothing to show.")),
    h(
      "div",
      { class: "tl-legend", "aria-hidden": "true" },
      h("span", { class: "tl-key tl-work" }), "working hours ",
      h("span", { class: "tl-key tl-booked" }), "booked ",
      h("span", { class: "tl-key tl-travel" }), "travel ",
      h("span", { class: "tl-key tl-proposed" }), "proposed ",
      h("span", { class: "tl-key tl-new" }), "just assigned",
    ),
  );
}
