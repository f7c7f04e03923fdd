// A plot of the job and the candidates by location, drawn locally as SVG (no map tiles):
// equirectangular around the job, north up, with a distance scale.

import { s } from "./dom";

export interface PlotPoint {
  lat: number;
  lon: number;
  label: string;
  kind: "job" | "candidate" | "assigned" | "other";
  rank?: number;
}

const W = 420;
const H = 300;
const PAD = 28;
const KM_PER_DEG = 111.32;

export function locationPlot(points: PlotPoint[], caption: string): SVGElement {
  const job = points.find((p) => p.kind === "job");
  const lat0 = job?.lat ?? points[0]?.lat ?? 0;
  const lon0 = job?.lon ?? points[0]?.lon ?? 0;
  const k = Math.cos((lat0 * Math.PI) / 180);
  // km east / north of the job
  const xy = points.map((p) => ({ p, x: (p.lon - lon0) * KM_PER_DEG * k, y: (p.lat - lat0) * KM_PER_DEG }));
  const focus = xy.filter(({ p }) => p.kind !== "other");
  const extent = Math.max(2, ...focus.map(({ x, y }) => Math.max(Math.abs(x), Math.abs(y)))) * 1.15;
  const scale = Math.min((W - 2 * PAD) / (2 * extent), (H - 2 * PAD) / (2 * extent));
  const cx = W / 2;
  const cy = H / 2;
  const px = (x: number) => cx + x * scale;
  const py = (y: number) => cy - y * scale;
  const inside = (x: number, y: number) => Math.abs(px(x) - cx) < W / 2 - 4 && Math.abs(py(y) - cy) < H / 2 - 4;

  const scaleKm = niceKm(extent / 2);
  const children: SVGElement[] = [
    s("title", {}, caption),
    s("rect", { x: 0, y: 0, width: W, height: H, class: "plot-bg" }),
    // rings every scaleKm around the job
    ...[1, 2, 3].map((i) => s("circle", { cx, cy, r: i * scaleKm * scale, class: "plot-ring" })),
  ];
  for (const { p, x, y } of xy.filter(({ p }) => p.kind === "other")) {
    if (inside(x, y)) children.push(s("circle", { cx: px(x), cy: py(y), r: 2.5, class: "plot-other" }, s("title", {}, p.label)));
  }
  const ranked = xy.filter(({ p }) => p.kind === "candidate" || p.kind === "assigned").sort((a, b) => (b.p.rank ?? 99) - (a.p.rank ?? 99));
  for (const { p, x, y } of ranked) {
    children.push(s("line", { x1: cx, y1: cy, x2: px(x), y2: py(y), class: p.kind === "assigned" ? "plot-link plot-link-assigned" : "plot-link" }));
  }
  for (const { p, x, y } of ranked) {
    children.push(
      s(
        "g",
        { class: `plot-point plot-${p.kind}`, transform: `translate(${px(x).toFixed(1)},${py(y).toFixed(1)})` },
        s("title", {}, p.label),
        s("circle", { r: 9 }),
        s("text", { "text-anchor": "middle", dy: "0.35em" }, p.rank === undefined ? "•" : String(p.rank)),
      ),
    );
  }
  if (job) {
    children.push(
      s(
        "g",
        { class: "plot-job", transform: `translate(${cx},${cy})` },
        s("title", {}, job.label),
        s("rect", { x: -8, y: -8, width: 16, height: 16, transform: "rotate(45)" }),
      ),
    );
  }
  // scale bar and north arrow
  const bar = scaleKm * scale;
  children.push(
    s("line", { x1: PAD, y1: H - 12, x2: PAD + bar, y2: H - 12, class: "plot-scale" }),
    s("text", { x: PAD + bar + 6, y: H - 8, class: "plot-caption" }, `${scaleKm} km`),
    s("text", { x: W - 16, y: 20, class: "plot-caption", "text-anchor": "middle" }, "N ↑"),
  );
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", "aria-label": caption }, ...children);
}

function niceKm(km: number): number {
  for (const step of [0.5, 1, 2, 5, 10, 20, 25, 50, 100]) if (km <= step) return step;
  return 200;
}
