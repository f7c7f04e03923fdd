// The schedule board of one region: every contractor's day (or three days, or week) as a row,
// the unassigned open jobs beside it, live over SignalR. Jobs are assigned by dragging them onto
// a row (or with the Assign dialog, by keyboard), bookings moved by dragging (or Move…) and
// unassigned; a plan of the visible period is previewed over the rows and applied or discarded.
//
// Rows are virtualised: only the rows in view (plus a margin) exist in the DOM, so a region of
// a thousand contractors scrolls as smoothly as one of ten. All data comes from one bounded
// request per period, `GET /api/v1/regions/{id}/schedule`; every change goes through the same
// API calls as anywhere else, whose refusals are shown where the dispatcher acted.

import { ApiError, api, get, post } from "./api";
import { fill, h } from "./dom";
import { addLocalDays, day, iso, localDate, localToUtc, minutes, range, startOfLocalDay, time } from "./format";
import type {
  Assignment,
  AssignmentRequest,
  Job,
  JobAssigned,
  MoveRequest,
  PlanAccepted,
  PlanApplication,
  PlanRecord,
  PlanRequest,
  Priority,
  Schedule,
  ScheduleRow,
  ScheduledBooking,
} from "./generated/api";
import { Live, linkBadge } from "./hub";
import type { Session } from "./session";
import { frame, mayDispatch, navigate, notice, showError } from "./ui";

/** Row height in px: the virtualisation's unit. */
const ROW_H = 46;
/** Rows rendered beyond the visible ones, above and below. */
const OVERSCAN = 8;
/** Drops snap to this many minutes. */
const SNAP_MIN = 15;
const PRIORITIES: Priority[] = ["emergency", "high", "normal", "low"];
const ZOOMS: Array<[number, string]> = [
  [1, "Day"],
  [3, "3 days"],
  [7, "Week"],
];
type SortKey = "name" | "utilisation" | "free";

/** What a drag carries. */
type Dragged = { kind: "job"; jobId: string } | { kind: "booking"; assignmentId: string; grabMs: number };

/** A row's figures over the period, for sorting and its label. */
interface RowStats {
  workingMin: number;
  busyMin: number;
}

interface PlanView {
  planId: string;
  record: PlanRecord | null;
  error?: string;
}

export function showBoard(session: Session, regionId: string): () => void {
  const badge = linkBadge();
  const consoleLink = h("a", { class: "docs-link", href: `/dispatch/${regionId}`, onclick: link(`/dispatch/${regionId}`) }, "Console");
  const main = frame({ title: `Region ${regionId}`, subtitle: "Schedule board", session, extra: [badge.el, consoleLink] });
  if (!mayDispatch(session, regionId, main)) return () => {};

  // ----- state -----
  const params = new URLSearchParams(location.search);
  let zone = "UTC";
  let schedule: Schedule | null = null;
  let dayCount = Number(params.get("days")) === 3 || Number(params.get("days")) === 7 ? Number(params.get("days")) : 1;
  let anchorDate = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") ?? "") ? params.get("date")! : null;
  let from = new Date();
  let to = new Date();
  let rowFilter = "";
  let skillFilter = "";
  let sortKey: SortKey = "name";
  let rows: ScheduleRow[] = [];
  const stats = new Map<string, RowStats>();
  /** Bookings that arrived live a moment ago (highlighted). */
  const fresh = new Set<string>();
  /** A refusal shown on the row where the drop happened. */
  let refusal: { contractorId: string; text: string } | null = null;
  let plan: PlanView | null = null;
  let planTimer: number | undefined;
  let refetchTimer: number | undefined;
  let loadSeq = 0;
  let disposed = false;
  let dragged: Dragged | null = null;
  let renderAfterDrag = false;
  /** A pointer button is down on the board: a drag may be about to start. */
  let pointerHeld = false;
  /** Rows are not redrawn now: a drag is under way or may be starting. */
  const gesture = () => dragged !== null || pointerHeld;
  let pinned: string | null = null;

  // ----- layout -----
  const periodLabel = h("span", { class: "bd-period", id: "board-period", "aria-live": "polite" });
  const zoomButtons = ZOOMS.map(([days, label]) =>
    h("button", { type: "button", class: "bd-zoom", "data-days": days, "aria-pressed": "false", onclick: () => setZoom(days) }, label),
  );
  const rowFilterInput = h("input", {
    type: "search",
    id: "board-filter",
    placeholder: "Name or skill",
    oninput: () => {
      rowFilter = rowFilterInput.value.trim().toLowerCase();
      layoutRows();
    },
  });
  const sortSelect = h(
    "select",
    {
      id: "board-sort",
      onchange: () => {
        sortKey = sortSelect.value as SortKey;
        layoutRows();
      },
    },
    h("option", { value: "name" }, "Name"),
    h("option", { value: "utilisation" }, "Busiest first"),
    h("option", { value: "free" }, "Most free time"),
  );
  const budgetSelect = h(
    "select",
    { id: "plan-budget", "aria-label": "Plan search time" },
    h("option", { value: "3" }, "3 s"),
    h("option", { value: "10", selected: true }, "10 s"),
    h("option", { value: "30" }, "30 s"),
  );
  const planButton = h("button", { type: "button", class: "button-primary", id: "plan-button", onclick: () => void startPlan() }, "Plan this period");
  const toolbar = h(
    "div",
    { class: "bd-toolbar", role: "group", "aria-label": "Board controls" },
    h("div", { class: "bd-group" },
      h("button", { type: "button", "aria-label": "Previous period", onclick: () => shift(-1) }, "‹"),
      h("button", { type: "button", onclick: () => goToday() }, "Today"),
      h("button", { type: "button", "aria-label": "Next period", onclick: () => shift(1) }, "›"),
      periodLabel,
    ),
    h("div", { class: "bd-group", role: "group", "aria-label": "Zoom" }, zoomButtons),
    h("label", { class: "bd-group" }, "Filter contractors ", rowFilterInput),
    h("label", { class: "bd-group" }, "Sort ", sortSelect),
    h("div", { class: "bd-group" }, budgetSelect, planButton),
  );
  const planPanel = h("section", { class: "card bd-plan", id: "plan-panel", "aria-live": "polite", hidden: true });
  const jobSkillSelect = h("select", {
    id: "unassigned-skill",
    onchange: () => {
      skillFilter = jobSkillSelect.value;
      renderUnassigned();
    },
  });
  const unassignedCount = h("span", { class: "count" });
  const unassignedList = h("ul", { class: "bd-jobs", id: "unassigned", "aria-label": "Unassigned open jobs" });
  const axis = h("div", { class: "bd-axis", "aria-hidden": "true" });
  const canvas = h("div", { class: "bd-canvas", role: "list", "aria-label": "Contractors' schedules" });
  const scroller = h("div", { class: "bd-scroll", id: "board-rows", onscroll: () => scheduleRender() }, canvas);
  const tip = h("div", { class: "bd-tip", id: "board-tip", role: "dialog", "aria-label": "Booking", hidden: true });
  const dialog = h("dialog", { class: "bd-dialog", id: "board-dialog", "aria-labelledby": "board-dialog-title" });
  main.classList.add("board");
  main.append(
    toolbar,
    planPanel,
    h(
      "div",
      { class: "bd-body" },
      h(
        "aside",
        { class: "card bd-side" },
        h("h2", {}, "Unassigned ", unassignedCount),
        h("label", { class: "small" }, "Skill ", jobSkillSelect),
        unassignedList,
      ),
      h("section", { class: "card bd-main", "aria-label": "Schedule" }, axis, scroller, legend()),
    ),
    tip,
    dialog,
  );

  const fail = (context: string) => (error: unknown) => showError(error, context);
  const period = () => to.getTime() - from.getTime();
  // Clamped: what starts before the period (time off, a night shift) begins at its left edge.
  const pct = (at: number) => `${Math.max(0, Math.min(100, ((at - from.getTime()) / period()) * 100)).toFixed(4)}%`;
  const widthPct = (a: number, b: number) => {
    const s = Math.max(a, from.getTime());
    const e = Math.min(b, to.getTime());
    return `${Math.max(0, ((e - s) / period()) * 100).toFixed(4)}%`;
  };
  const allBookings = () => rows.flatMap((r) => r.bookings);
  const nameOf = (id: string) => rows.find((r) => r.contractor.id === id)?.contractor.name ?? `contractor ${id.slice(0, 8)}`;

  function link(path: string): EventListener {
    return (event) => {
      event.preventDefault();
      navigate(path);
    };
  }

  // ----- period -----
  function setPeriod(): void {
    const anchor = anchorDate ? localToUtc(zone, anchorDate, "00:00") : startOfLocalDay(zone, new Date());
    from = startOfLocalDay(zone, new Date(anchor.getTime() + 3_600_000 * 3));
    to = addLocalDays(zone, from, dayCount);
    anchorDate = localDate(zone, from);
    const last = new Date(to.getTime() - 1);
    periodLabel.textContent = dayCount === 1 ? day(from, zone) : `${day(from, zone)} – ${day(last, zone)}`;
    for (const b of zoomButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.days) === dayCount));
    const query = new URLSearchParams({ date: anchorDate, days: String(dayCount) });
    history.replaceState(null, "", `/board/${regionId}?${query}`);
  }

  function shift(direction: number): void {
    anchorDate = localDate(zone, addLocalDays(zone, from, direction * dayCount));
    void reload(true);
  }

  function goToday(): void {
    anchorDate = null;
    void reload(true);
  }

  function setZoom(days: number): void {
    dayCount = days;
    void reload(true);
  }

  // ----- data -----
  /** Fetches the period's schedule; `periodChanged` drops a plan preview of another period. */
  async function reload(periodChanged = false): Promise<void> {
    if (periodChanged) {
      setPeriod();
      if (plan?.record?.status !== "running") clearPlan();
    }
    const seq = ++loadSeq;
    const started = performance.now();
    const query = `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
    let next: Schedule;
    try {
      next = await get<Schedule>(`/regions/${encodeURIComponent(regionId)}/schedule?${query}`);
    } catch (error) {
      showError(error, "Could not load the schedule");
      return;
    }
    // An older answer arriving after a newer request is dropped.
    if (disposed || seq !== loadSeq) return;
    const fetched = performance.now();
    schedule = next;
    rows = next.contractors;
    computeStats();
    // Never re-render under a drag: the element being dragged would vanish mid-gesture.
    if (gesture()) {
      renderAfterDrag = true;
      return;
    }
    renderAll();
    // For the browser tests and the render benchmark (e2e/browser/bench/board.mjs).
    main.dataset.fetchMs = (fetched - started).toFixed(1);
    main.dataset.drawMs = (performance.now() - fetched).toFixed(1);
    main.dataset.loads = String(Number(main.dataset.loads ?? 0) + 1);
    // Layout and paint included: the frame after this one starts once this one is on screen.
    requestAnimationFrame(() => setTimeout(() => (main.dataset.paintMs = (performance.now() - fetched).toFixed(1))));
  }

  /** Re-fetches soon (bursts of events become one request). */
  function refetchSoon(): void {
    if (refetchTimer !== undefined) window.clearTimeout(refetchTimer);
    refetchTimer = window.setTimeout(() => {
      refetchTimer = undefined;
      void reload();
    }, 250);
  }

  function computeStats(): void {
    stats.clear();
    const f = from.getTime();
    const t = to.getTime();
    const clip = (a: number, b: number) => Math.max(0, Math.min(b, t) - Math.max(a, f)) / 60000;
    for (const row of rows) {
      const workingMin = row.working.reduce((sum, w) => sum + clip(Date.parse(w.startUtc), Date.parse(w.endUtc)), 0);
      let busyMin = row.bookings.reduce((sum, b) => {
        const start = Date.parse(b.assignment.startUtc);
        return sum + clip(start - b.travel.minutes * 60000, Date.parse(b.assignment.endUtc));
      }, 0);
      busyMin += row.contractor.timeOff.reduce((sum, off) => sum + clip(Date.parse(off.startUtc), Date.parse(off.endUtc)), 0);
      stats.set(row.contractor.id, { workingMin, busyMin: Math.min(busyMin, workingMin) });
    }
  }

  // ----- rendering -----
  let visible: ScheduleRow[] = [];
  const rendered = new Map<string, HTMLElement>();
  let renderQueued = false;

  function renderAll(): void {
    if (schedule) {
      const title = document.querySelector(".top h1");
      if (title) title.textContent = schedule.region.name;
      document.title = `${schedule.region.name} board · Dispatch`;
    }
    renderUnassigned();
    layoutRows();
    renderPlan();
  }

  function renderAxis(): void {
    const ticks: HTMLElement[] = [];
    const stepH = dayCount === 1 ? 2 : dayCount === 3 ? 6 : 24;
    for (let t = from.getTime(); t <= to.getTime(); t += stepH * 3_600_000) {
      // Ticks at local hours: re-anchor each on the local clock (DST days have 23 or 25 hours).
      const at = new Date(t);
      const label = stepH === 24 ? day(at, zone) : stepH === 6 && time(at, zone) === "00:00" ? day(at, zone) : time(at, zone);
      ticks.push(h("span", { class: "bd-tick", style: `left:${pct(t)}` }, label));
    }
    fill(axis, h("div", { class: "bd-label", title: `${rows.length} contractors; times in ${zone}` }, `${visible.length} of ${rows.length} · ${zone}`), h("div", { class: "bd-track" }, ticks));
  }

  function matches(row: ScheduleRow): boolean {
    if (!rowFilter) return true;
    const c = row.contractor;
    return c.name.toLowerCase().includes(rowFilter) || c.skills.some((s) => s.name.toLowerCase().includes(rowFilter));
  }

  /** Filters and sorts the rows, sizes the canvas, and renders what is in view. */
  function layoutRows(): void {
    visible = rows.filter(matches);
    if (sortKey !== "name") {
      const value = (row: ScheduleRow) => {
        const s = stats.get(row.contractor.id);
        if (!s || s.workingMin === 0) return sortKey === "utilisation" ? -1 : 0;
        return sortKey === "utilisation" ? s.busyMin / s.workingMin : s.workingMin - s.busyMin;
      };
      visible = [...visible].sort((a, b) => value(b) - value(a) || a.contractor.name.localeCompare(b.contractor.name));
    }
    canvas.style.height = `${visible.length * ROW_H}px`;
    canvas.replaceChildren();
    rendered.clear();
    renderAxis();
    renderRows();
  }

  function scheduleRender(): void {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      renderRows();
    });
  }

  /** Adds the rows that came into view and removes those that left it. */
  function renderRows(): void {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_H) + OVERSCAN);
    const wanted = new Set<string>();
    for (let i = first; i < last; i++) {
      const row = visible[i]!;
      const key = `${i}:${row.contractor.id}`;
      wanted.add(key);
      if (!rendered.has(key)) {
        const el = renderRow(row, i);
        rendered.set(key, el);
        canvas.append(el);
      }
    }
    for (const [key, el] of rendered) {
      if (!wanted.has(key)) {
        // Keep a row holding the keyboard focus: removing it would drop the focus to the page.
        if (el.contains(document.activeElement)) continue;
        el.remove();
        rendered.delete(key);
      }
    }
    if (visible.length === 0) {
      canvas.replaceChildren(h("p", { class: "muted bd-empty" }, rows.length ? "No contractor matches the filter." : "This region has no contractors."));
    }
  }

  /** Re-renders one contractor's row in place (after a change to its bookings). */
  function rerenderContractor(contractorId: string): void {
    // Not under a drag (the dragged element would vanish): the whole board is drawn at its end.
    if (gesture()) {
      renderAfterDrag = true;
      return;
    }
    for (const [key, el] of rendered) {
      if (!key.endsWith(`:${contractorId}`)) continue;
      const index = Number(key.split(":")[0]);
      const row = visible[index];
      if (!row) continue;
      const focused = (document.activeElement as HTMLElement | null)?.dataset?.assignmentId;
      const next = renderRow(row, index);
      el.replaceWith(next);
      rendered.set(key, next);
      if (focused) (next.querySelector(`[data-assignment-id="${focused}"]`) as HTMLElement | null)?.focus();
    }
  }

  function renderRow(row: ScheduleRow, index: number): HTMLElement {
    const c = row.contractor;
    const s = stats.get(c.id);
    const util = s && s.workingMin > 0 ? Math.round((s.busyMin / s.workingMin) * 100) : null;
    const free = s ? Math.max(0, Math.round(s.workingMin - s.busyMin)) : 0;
    const track = h("div", {
      class: "bd-track",
      "data-contractor-id": c.id,
      ondragover: (event: Event) => onDragOver(event as DragEvent, track),
      ondragleave: () => track.querySelector(".bd-ghost")?.remove(),
      ondrop: (event: Event) => void onDrop(event as DragEvent, track, c.id),
    });
    for (const w of row.working) {
      track.append(h("span", { class: "bd-work", style: `left:${pct(Date.parse(w.startUtc))};width:${widthPct(Date.parse(w.startUtc), Date.parse(w.endUtc))}` }));
    }
    for (const off of c.timeOff) {
      const a = Date.parse(off.startUtc);
      const b = Date.parse(off.endUtc);
      const label = `Time off${off.reason ? ` (${off.reason})` : ""}, ${range(off.startUtc, off.endUtc, zone)}`;
      track.append(h("span", { class: "bd-off", style: `left:${pct(a)};width:${widthPct(a, b)}`, title: label, role: "img", "aria-label": label }));
    }
    for (const booking of row.bookings) track.append(...bookingBars(booking));
    if (plan?.record?.status === "ready") {
      for (const route of plan.record.routes.filter((r) => r.contractorId === c.id)) {
        for (const visit of route.visits) {
          const job = schedule?.unassigned.find((j) => j.id === visit.jobId) ?? allBookings().find((b) => b.job.id === visit.jobId)?.job;
          const a = Date.parse(visit.startUtc);
          const b = Date.parse(visit.endUtc);
          const label = `Planned: ${job?.title ?? visit.jobId}, ${range(visit.startUtc, visit.endUtc, zone)}, travel ${minutes(visit.travelMinutes)}`;
          track.append(
            h("span", { class: "bd-travel bd-planned-travel", style: `left:${pct(a - visit.travelMinutes * 60000)};width:${widthPct(a - visit.travelMinutes * 60000, a)}`, "aria-hidden": "true" }),
            h("span", { class: `bd-planned bd-${job?.priority ?? "normal"}`, "data-job-id": visit.jobId, style: `left:${pct(a)};width:${widthPct(a, b)}`, role: "img", "aria-label": label, title: label }),
          );
        }
      }
    }
    const now = Date.now();
    if (now >= from.getTime() && now < to.getTime()) track.append(h("span", { class: "bd-now", style: `left:${pct(now)}`, "aria-hidden": "true" }));
    if (refusal?.contractorId === c.id) {
      track.append(
        h(
          "div",
          { class: "bd-refusal", role: "alert", title: refusal.text },
          h("span", {}, refusal.text),
          h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: () => clearRefusal() }, "×"),
        ),
      );
    }
    const skills = c.skills.map((sk) => `${sk.name} ${sk.level}`).join(", ");
    return h(
      "div",
      {
        class: `bd-row${c.active ? "" : " bd-inactive"}`,
        role: "listitem",
        "aria-posinset": index + 1,
        "aria-setsize": visible.length,
        "aria-label": `${c.name}: ${row.bookings.length} booking${row.bookings.length === 1 ? "" : "s"}${util === null ? ", not working" : `, ${util}% busy`}`,
        "data-contractor-id": c.id,
        style: `top:${index * ROW_H}px`,
      },
      h(
        "div",
        { class: "bd-label" },
        h("strong", { class: "bd-name" }, c.name, c.active ? "" : " (inactive)"),
        h("span", { class: "muted small bd-meta", title: skills }, util === null ? "not working" : `${util}% · ${minutes(free)} free`, " · ", skills),
      ),
      track,
    );
  }

  function bookingBars(booking: ScheduledBooking): HTMLElement[] {
    const a = booking.assignment;
    const start = Date.parse(a.startUtc);
    const end = Date.parse(a.endUtc);
    const travelStart = start - booking.travel.minutes * 60000;
    const label = `${booking.job.title}, ${booking.job.priority}, ${range(a.startUtc, a.endUtc, zone)}, travel ${minutes(booking.travel.minutes)} from ${booking.travel.from === "home" ? "home" : "the previous job"}`;
    const bar = h(
      "button",
      {
        type: "button",
        class: `bd-booking bd-${booking.job.priority}${fresh.has(a.id) ? " bd-fresh" : ""}`,
        draggable: "true",
        "data-assignment-id": a.id,
        "data-job-id": a.jobId,
        "data-start": a.startUtc,
        style: `left:${pct(start)};width:${widthPct(start, end)}`,
        "aria-label": label,
        "aria-haspopup": "dialog",
        onmouseenter: () => showTip(booking, bar, false),
        onmouseleave: () => hideTip(false),
        onfocus: () => showTip(booking, bar, false),
        onblur: () => hideTip(false),
        onclick: () => showTip(booking, bar, true),
        ondragstart: (event: Event) => {
          const e = event as DragEvent;
          const rect = bar.getBoundingClientRect();
          const track = bar.parentElement!.getBoundingClientRect();
          const grabMs = ((e.clientX - rect.left) / track.width) * period();
          dragged = { kind: "booking", assignmentId: a.id, grabMs };
          e.dataTransfer?.setData("text/plain", booking.job.title);
          if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
          hideTip(true);
        },
        ondragend: () => endDrag(),
      },
      h("span", { class: "bd-text" }, dayCount === 1 ? `${time(a.startUtc, zone)} ${booking.job.title}` : booking.job.title),
    );
    const parts: HTMLElement[] = [];
    if (booking.travel.minutes > 0) {
      parts.push(h("span", { class: "bd-travel", style: `left:${pct(travelStart)};width:${widthPct(travelStart, start)}`, "aria-hidden": "true" }));
    }
    parts.push(bar);
    return parts;
  }

  function legend(): HTMLElement {
    return h(
      "div",
      { class: "tl-legend bd-legend", "aria-hidden": "true" },
      h("span", { class: "tl-key bd-work" }), "working hours ",
      h("span", { class: "tl-key bd-off" }), "time off ",
      h("span", { class: "tl-key bd-travel" }), "travel ",
      PRIORITIES.map((p) => [h("span", { class: `tl-key bd-${p}` }), `${p} `]),
      h("span", { class: "tl-key bd-planned" }), "planned ",
      h("span", { class: "tl-key bd-now-key" }), "now",
    );
  }

  // ----- unassigned jobs -----
  function renderUnassigned(): void {
    const jobs = schedule?.unassigned ?? [];
    const skills = [...new Set(jobs.flatMap((j) => j.requiredSkills.map((s) => s.name)))].sort();
    if (skillFilter && !skills.includes(skillFilter)) skillFilter = "";
    fill(jobSkillSelect, h("option", { value: "" }, "All skills"), skills.map((s) => h("option", { value: s, selected: s === skillFilter }, s)));
    const shown = skillFilter ? jobs.filter((j) => j.requiredSkills.some((s) => s.name === skillFilter)) : jobs;
    unassignedCount.textContent = `(${shown.length}${schedule?.unassignedTruncated ? "+" : ""})`;
    fill(
      unassignedList,
      shown.length === 0 ? h("li", { class: "muted" }, "No open jobs in this period.") : null,
      shown.map((job) =>
        h(
          "li",
          {
            class: `bd-job bd-job-${job.priority}`,
            draggable: "true",
            "data-job-id": job.id,
            ondragstart: (event: Event) => {
              const e = event as DragEvent;
              dragged = { kind: "job", jobId: job.id };
              e.dataTransfer?.setData("text/plain", job.title);
              if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
            },
            ondragend: () => endDrag(),
          },
          h("span", { class: `bd-prio bd-${job.priority}` }, job.priority),
          h("strong", { class: "bd-job-title" }, job.title),
          h(
            "span",
            { class: "muted small" },
            `${range(job.windowStartUtc, job.windowEndUtc, zone)} · ${minutes(job.durationMinutes)} · ${job.requiredSkills.map((s) => `${s.name} ≥${s.minLevel}`).join(", ")}`,
          ),
          h("button", { type: "button", class: "link-button small", "aria-label": `Assign ${job.title}`, onclick: () => openDialog({ kind: "assign", job }) }, "Assign…"),
        ),
      ),
    );
  }

  // ----- dragging -----
  function timeAt(event: DragEvent, track: HTMLElement): number {
    const rect = track.getBoundingClientRect();
    let at = from.getTime() + ((event.clientX - rect.left) / rect.width) * period();
    if (dragged?.kind === "booking") at -= dragged.grabMs;
    const snap = SNAP_MIN * 60000;
    return Math.round(at / snap) * snap;
  }

  function durationOf(d: Dragged): number {
    if (d.kind === "job") return (schedule?.unassigned.find((j) => j.id === d.jobId)?.durationMinutes ?? 60) * 60000;
    const b = allBookings().find((x) => x.assignment.id === d.assignmentId);
    return b ? Date.parse(b.assignment.endUtc) - Date.parse(b.assignment.startUtc) : 3_600_000;
  }

  function onDragOver(event: DragEvent, track: HTMLElement): void {
    if (!dragged) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "move";
    const start = timeAt(event, track);
    let ghost = track.querySelector<HTMLElement>(".bd-ghost");
    if (!ghost) {
      ghost = h("span", { class: "bd-ghost", "aria-hidden": "true" });
      track.append(ghost);
    }
    ghost.style.left = pct(start);
    ghost.style.width = widthPct(start, start + durationOf(dragged));
    ghost.textContent = time(new Date(start), zone);
  }

  function endDrag(): void {
    dragged = null;
    pointerHeld = false;
    for (const ghost of canvas.querySelectorAll(".bd-ghost")) ghost.remove();
    if (renderAfterDrag) {
      renderAfterDrag = false;
      renderAll();
    }
  }

  async function onDrop(event: DragEvent, track: HTMLElement, contractorId: string): Promise<void> {
    event.preventDefault();
    const d = dragged;
    if (!d) return;
    const start = timeAt(event, track);
    endDrag();
    const end = start + durationOf(d);
    // A refusal is already shown on the row; nothing else to do with it here.
    const done = d.kind === "job" ? assign(d.jobId, contractorId, start, end) : move(d.assignmentId, contractorId, start, end);
    await done.catch(() => {});
  }

  // ----- changes -----
  /** Shows a refusal on the row it concerns; `null` error: clears it. */
  function refuse(contractorId: string, error: unknown): void {
    const text = error instanceof ApiError && error.problem ? `Refused: ${error.problem.detail}` : `Refused: ${String(error instanceof Error ? error.message : error)}`;
    refusal = { contractorId, text };
    rerenderContractor(contractorId);
  }

  function clearRefusal(): void {
    const was = refusal?.contractorId;
    refusal = null;
    if (was) rerenderContractor(was);
  }

  /** `POST /api/v1/assignments`; the board shows the booking at once and re-fetches. */
  async function assign(jobId: string, contractorId: string, start: number, end: number): Promise<void> {
    clearRefusal();
    const body: AssignmentRequest = { jobId, contractorId, startUtc: iso(new Date(start)), endUtc: iso(new Date(end)) };
    try {
      const made = await post<Assignment>("/assignments", body);
      place(made);
      notice(`Assigned ${titleOfJob(jobId)} to ${nameOf(contractorId)}, ${range(made.startUtc, made.endUtc, zone)}.`);
    } catch (error) {
      refuse(contractorId, error);
      throw error;
    }
  }

  /** `POST /api/v1/assignments/{id}/move`: one atomic step; a refusal leaves the booking as it was. */
  async function move(assignmentId: string, contractorId: string, start: number, end: number): Promise<void> {
    clearRefusal();
    const body: MoveRequest = { contractorId, startUtc: iso(new Date(start)), endUtc: iso(new Date(end)) };
    try {
      const moved = await post<Assignment>(`/assignments/${assignmentId}/move`, body);
      place(moved);
      notice(`Moved ${titleOfJob(moved.jobId)} to ${nameOf(contractorId)}, ${range(moved.startUtc, moved.endUtc, zone)}.`);
    } catch (error) {
      refuse(contractorId, error);
      throw error;
    }
  }

  async function unassign(booking: ScheduledBooking): Promise<void> {
    hideTip(true);
    try {
      await api<null>("DELETE", `/assignments/${booking.assignment.id}`);
    } catch (error) {
      showError(error, "Could not unassign");
      return;
    }
    for (const row of rows) row.bookings = row.bookings.filter((b) => b.assignment.id !== booking.assignment.id);
    if (schedule && !schedule.unassigned.some((j) => j.id === booking.job.id)) {
      schedule.unassigned = sortJobs([...schedule.unassigned, { ...booking.job, status: "open" }]);
    }
    notice(`Unassigned ${booking.job.title}; it is open again.`);
    computeStats();
    renderUnassigned();
    rerenderContractor(booking.assignment.contractorId);
    // The details were of a booking that is gone (refocusing it may have shown them again).
    tip.hidden = true;
    refetchSoon();
  }

  const titleOfJob = (jobId: string) =>
    schedule?.unassigned.find((j) => j.id === jobId)?.title ?? allBookings().find((b) => b.job.id === jobId)?.job.title ?? `job ${jobId.slice(0, 8)}`;

  /**
   * Puts a booking on the board at once (from an answer or a `JobAssigned`): the job leaves the
   * unassigned list and any earlier booking of it (a move) goes; the re-fetch that follows
   * brings the exact travel.
   */
  function place(a: Assignment | JobAssigned): void {
    const id = "assignmentId" in a ? a.assignmentId : a.id;
    const job = schedule?.unassigned.find((j) => j.id === a.jobId) ?? allBookings().find((b) => b.job.id === a.jobId)?.job;
    const touched = new Set<string>([a.contractorId]);
    for (const row of rows) {
      const before = row.bookings.length;
      row.bookings = row.bookings.filter((b) => b.job.id !== a.jobId);
      if (row.bookings.length !== before) touched.add(row.contractor.id);
    }
    if (schedule) schedule.unassigned = schedule.unassigned.filter((j) => j.id !== a.jobId);
    const row = rows.find((r) => r.contractor.id === a.contractorId);
    const overlaps = Date.parse(a.startUtc) < to.getTime() && Date.parse(a.endUtc) > from.getTime();
    if (row && job && overlaps) {
      const assignment: Assignment = { id, jobId: a.jobId, contractorId: a.contractorId, startUtc: a.startUtc, endUtc: a.endUtc, source: a.source, auditId: a.auditId };
      // Travel is unknown until the re-fetch that follows brings it.
      const placed: ScheduledBooking = { assignment, job: { ...job, status: "assigned" }, travel: { distanceKm: 0, minutes: 0, source: "estimate", from: "home" } };
      row.bookings = [...row.bookings, placed].sort(
        (x, y) => Date.parse(x.assignment.startUtc) - Date.parse(y.assignment.startUtc),
      );
    }
    fresh.add(id);
    window.setTimeout(() => {
      fresh.delete(id);
      if (!disposed) rerenderContractor(a.contractorId);
    }, 8000);
    computeStats();
    renderUnassigned();
    for (const c of touched) rerenderContractor(c);
    refetchSoon();
  }

  function onJobAssigned(event: JobAssigned): void {
    if (event.region !== regionId) return;
    place(event);
  }

  // ----- the booking's details -----
  function showTip(booking: ScheduledBooking, anchor: HTMLElement, pin: boolean): void {
    if (pinned && !pin && pinned !== booking.assignment.id) return;
    if (pin) pinned = booking.assignment.id;
    const a = booking.assignment;
    const job = booking.job;
    fill(
      tip,
      h("strong", {}, job.title),
      h("span", { class: `bd-prio bd-${job.priority}` }, job.priority),
      h("dl", {},
        h("dt", {}, "Booked"), h("dd", {}, `${range(a.startUtc, a.endUtc, zone)} · ${nameOf(a.contractorId)} · ${a.source}`),
        h("dt", {}, "Window"), h("dd", {}, range(job.windowStartUtc, job.windowEndUtc, zone)),
        h("dt", {}, "Travel"), h("dd", {}, `${minutes(booking.travel.minutes)} (${booking.travel.distanceKm} km) from ${booking.travel.from === "home" ? "home" : "the previous job"}`),
        h("dt", {}, "Skills"), h("dd", {}, job.requiredSkills.map((s) => `${s.name} ≥${s.minLevel}`).join(", ") || "none"),
      ),
      h("a", { href: `/audit/${a.auditId}`, onclick: link(`/audit/${a.auditId}`), id: "tip-audit" }, "Audit record"),
      pin
        ? h(
            "div",
            { class: "bd-tip-actions" },
            h("button", { type: "button", onclick: () => openDialog({ kind: "move", booking }) }, "Move…"),
            h("button", { type: "button", onclick: () => void unassign(booking) }, "Unassign"),
            h("button", { type: "button", class: "button-quiet", onclick: () => hideTip(true) }, "Close"),
          )
        : null,
    );
    const rect = anchor.getBoundingClientRect();
    tip.hidden = false;
    const left = Math.min(window.scrollX + rect.left, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8);
    tip.style.left = `${Math.max(8, left)}px`;
    tip.style.top = `${window.scrollY + rect.bottom + 6}px`;
    if (pin) (tip.querySelector(".bd-tip-actions button") as HTMLElement | null)?.focus();
  }

  function hideTip(unpin: boolean): void {
    if (pinned && !unpin) return;
    if (unpin && pinned) {
      const back = canvas.querySelector<HTMLElement>(`[data-assignment-id="${pinned}"]`);
      pinned = null;
      if (tip.contains(document.activeElement)) back?.focus();
    }
    tip.hidden = true;
  }

  // ----- the keyboard's way: Assign… and Move… -----
  function openDialog(what: { kind: "assign"; job: Job } | { kind: "move"; booking: ScheduledBooking }): void {
    hideTip(true);
    const job = what.kind === "assign" ? what.job : what.booking.job;
    const startDefault = what.kind === "move" ? new Date(what.booking.assignment.startUtc) : new Date(Math.max(Date.parse(job.windowStartUtc), from.getTime(), Date.now()));
    const lengthMs = what.kind === "move" ? Date.parse(what.booking.assignment.endUtc) - Date.parse(what.booking.assignment.startUtc) : job.durationMinutes * 60000;
    const contractorSelect = h(
      "select",
      { id: "dialog-contractor", required: true },
      rows.map((r) =>
        h("option", { value: r.contractor.id, selected: what.kind === "move" && r.contractor.id === what.booking.assignment.contractorId }, r.contractor.name),
      ),
    );
    const dateInput = h("input", { type: "date", id: "dialog-date", required: true, value: localDate(zone, startDefault) });
    const timeInput = h("input", { type: "time", id: "dialog-time", required: true, step: 300, value: time(roundUp(startDefault), zone) });
    const error = h("p", { class: "bd-dialog-error", role: "alert" });
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: (event: Event) => {
          event.preventDefault();
          const start = localToUtc(zone, dateInput.value, timeInput.value).getTime();
          const run = what.kind === "assign"
            ? assign(job.id, contractorSelect.value, start, start + lengthMs)
            : move(what.booking.assignment.id, contractorSelect.value, start, start + lengthMs);
          run.then(
            () => dialog.close(),
            (e: unknown) => {
              error.textContent = e instanceof ApiError && e.problem ? e.problem.detail : String(e instanceof Error ? e.message : e);
            },
          );
        },
      },
      h("h2", { id: "board-dialog-title" }, what.kind === "assign" ? `Assign ${job.title}` : `Move ${job.title}`),
      h("p", { class: "muted small" }, `Window ${range(job.windowStartUtc, job.windowEndUtc, zone)}, ${minutes(Math.round(lengthMs / 60000))} on site; times in ${zone}.`),
      h("label", { for: "dialog-contractor" }, "Contractor"),
      contractorSelect,
      h("div", { class: "bd-dialog-when" },
        h("label", {}, "Date ", dateInput),
        h("label", {}, "Start ", timeInput),
      ),
      error,
      h("div", { class: "bd-dialog-actions" },
        h("button", { type: "submit", class: "button-primary" }, what.kind === "assign" ? "Assign" : "Move"),
        h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
      ),
    );
    fill(dialog, form);
    dialog.showModal();
    contractorSelect.focus();
  }

  function roundUp(at: Date): Date {
    const step = 5 * 60000;
    return new Date(Math.ceil(at.getTime() / step) * step);
  }

  // ----- planning the period -----
  async function startPlan(): Promise<void> {
    if (plan?.record?.status === "running") return;
    clearPlan();
    const body: PlanRequest = { region: regionId, from: iso(new Date(Math.max(from.getTime(), Date.now()))), to: iso(to), timeLimitSeconds: Number(budgetSelect.value) };
    if (to.getTime() <= Date.now()) {
      showError(new Error("This period is over; plan today or later."), "Plan");
      return;
    }
    let accepted: PlanAccepted;
    try {
      accepted = await post<PlanAccepted>("/plans", body);
    } catch (error) {
      showError(error, "Could not start a plan");
      return;
    }
    plan = { planId: accepted.planId, record: null };
    renderPlan();
    pollPlan();
  }

  function pollPlan(): void {
    if (planTimer !== undefined) window.clearTimeout(planTimer);
    planTimer = window.setTimeout(async () => {
      planTimer = undefined;
      const current = plan;
      if (!current || disposed) return;
      try {
        current.record = await get<PlanRecord>(`/plans/${current.planId}`);
      } catch (error) {
        current.error = error instanceof Error ? error.message : String(error);
      }
      if (plan !== current) return;
      if (current.record?.status === "running" && !current.error) pollPlan();
      renderPlan();
      if (current.record?.status === "ready") layoutRows();
    }, 700);
  }

  function clearPlan(): void {
    if (planTimer !== undefined) window.clearTimeout(planTimer);
    planTimer = undefined;
    const had = plan?.record?.status === "ready";
    plan = null;
    renderPlan();
    if (had) layoutRows();
  }

  async function stopPlan(): Promise<void> {
    const current = plan;
    if (!current) return;
    try {
      await post<PlanRecord>(`/plans/${current.planId}/cancel`, {});
    } catch (error) {
      // A plan that ended meanwhile cannot be cancelled; dropping the preview is enough.
      if (!(error instanceof ApiError && error.status === 409)) showError(error, "Could not discard the plan");
    }
    clearPlan();
  }

  async function applyPlan(): Promise<void> {
    const current = plan;
    if (!current) return;
    let result: PlanApplication;
    try {
      result = await post<PlanApplication>(`/plans/${current.planId}/apply`, {});
    } catch (error) {
      showError(error, "Could not apply the plan");
      return;
    }
    clearPlan();
    notice(`Plan applied: ${result.applied.length} booked${result.conflicts.length ? `, ${result.conflicts.length} no longer possible` : ""}.`);
    if (result.conflicts.length) {
      showError(new Error(result.conflicts.map((c) => `${titleOfJob(c.jobId)}: ${c.detail}`).join("; ")), "Not booked");
    }
    refetchSoon();
  }

  /** Jobs scheduled by priority and driving, now (bookings starting in the period). */
  function currentKpis(): { byPriority: Record<Priority, number>; travel: number; total: number } {
    const byPriority: Record<Priority, number> = { emergency: 0, high: 0, normal: 0, low: 0 };
    let travel = 0;
    let total = 0;
    for (const b of allBookings()) {
      const start = Date.parse(b.assignment.startUtc);
      if (start < from.getTime() || start >= to.getTime()) continue;
      byPriority[b.job.priority] += 1;
      travel += b.travel.minutes;
      total += 1;
    }
    return { byPriority, travel, total };
  }

  function renderPlan(): void {
    if (!plan) {
      planPanel.hidden = true;
      planButton.disabled = false;
      fill(planPanel);
      return;
    }
    planPanel.hidden = false;
    const record = plan.record;
    const status = plan.error ? "failed" : (record?.status ?? "running");
    planButton.disabled = status === "running";
    planPanel.dataset.status = status;
    if (status === "running") {
      const p = record?.progress;
      fill(
        planPanel,
        h("h2", {}, "Planning this period…"),
        h("p", { id: "plan-progress" }, p ? `${(p.elapsedMs / 1000).toFixed(1)} s of ${record?.timeLimitSeconds ?? "?"} s · best so far ${p.scheduled} jobs, ${minutes(p.travelMinutes)} driving · ${p.iterations} iterations` : "Starting…"),
        h("progress", { max: (record?.timeLimitSeconds ?? 10) * 1000, value: p?.elapsedMs ?? 0, "aria-label": "Plan progress" }),
        h("button", { type: "button", onclick: () => void stopPlan() }, "Stop"),
      );
      return;
    }
    if (status !== "ready" || !record?.kpis) {
      fill(
        planPanel,
        h("h2", {}, "The plan did not finish"),
        h("p", {}, plan.error ?? record?.error ?? `It is ${status}.`),
        h("button", { type: "button", onclick: () => clearPlan() }, "Close"),
      );
      return;
    }
    const now = currentKpis();
    const k = record.kpis;
    const cells = PRIORITIES.map((p) => {
      const planned = k.scheduledByPriority[p] ?? 0;
      return h("tr", {}, h("th", { scope: "row" }, p), h("td", {}, String(now.byPriority[p])), h("td", {}, String(now.byPriority[p] + planned)));
    });
    fill(
      planPanel,
      h("h2", {}, `Proposed plan: ${k.scheduled} more job${k.scheduled === 1 ? "" : "s"}`),
      h(
        "div",
        { class: "bd-plan-body" },
        h(
          "table",
          { class: "bd-kpis", id: "plan-kpis" },
          h("caption", { class: "sr-only" }, "Jobs scheduled in the period before and after the plan"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Jobs scheduled"), h("th", { scope: "col" }, "Now"), h("th", { scope: "col" }, "With plan"))),
          h("tbody", {}, cells,
            h("tr", { class: "bd-total" }, h("th", { scope: "row" }, "all"), h("td", {}, String(now.total)), h("td", {}, String(now.total + k.scheduled))),
            h("tr", {}, h("th", { scope: "row" }, "travel"), h("td", {}, minutes(now.travel)), h("td", {}, minutes(now.travel + k.travelMinutes))),
          ),
        ),
        h(
          "div",
          {},
          h("p", { class: "small" }, `Dashed bars are the proposal; ${record.unassigned.length} job${record.unassigned.length === 1 ? "" : "s"} left out. Utilisation ${Math.round(k.utilisation * 100)}%, ${k.travelKm} km.`),
          h("div", { class: "bd-dialog-actions" },
            h("button", { type: "button", class: "button-primary", id: "plan-apply", onclick: () => void applyPlan() }, "Apply"),
            h("button", { type: "button", id: "plan-discard", onclick: () => void stopPlan() }, "Discard"),
          ),
        ),
      ),
    );
  }

  // ----- start -----
  const live = new Live(`/dispatch/${regionId}`, {
    onState: (state, detailText) => badge.set(state, detailText),
    onJobAssigned,
    onResync: () => void reload(),
  });
  const onKey = (event: KeyboardEvent) => {
    if (event.key === "Escape" && pinned) hideTip(true);
  };
  const onResize = () => scheduleRender();
  const onPointerDown = () => {
    pointerHeld = true;
  };
  // A drag replaces pointerup by dragend (pointercancel): either ends the gesture.
  const onPointerUp = () => {
    if (!pointerHeld || dragged) return;
    pointerHeld = false;
    if (renderAfterDrag) endDrag();
  };
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", onResize);
  main.addEventListener("pointerdown", onPointerDown);
  document.addEventListener("pointerup", onPointerUp);
  document.addEventListener("pointercancel", onPointerUp);

  (async () => {
    try {
      const region = await get<{ timeZone: string }>(`/regions/${encodeURIComponent(regionId)}`);
      zone = region.timeZone;
    } catch (error) {
      showError(error, "Could not load the region");
      return;
    }
    if (disposed) return;
    await reload(true);
    await live.start();
  })().catch(fail("Board"));

  return () => {
    disposed = true;
    if (planTimer !== undefined) window.clearTimeout(planTimer);
    if (refetchTimer !== undefined) window.clearTimeout(refetchTimer);
    document.removeEventListener("keydown", onKey);
    window.removeEventListener("resize", onResize);
    document.removeEventListener("pointerup", onPointerUp);
    document.removeEventListener("pointercancel", onPointerUp);
    void live.stop();
  };
}

/** Emergencies first, then by window start: the schedule's own order. */
function sortJobs(jobs: Job[]): Job[] {
  const rank = (p: Priority) => PRIORITIES.indexOf(p);
  return jobs.sort((a, b) => rank(a.priority) - rank(b.priority) || Date.parse(a.windowStartUtc) - Date.parse(b.windowStartUtc));
}
