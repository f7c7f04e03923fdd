// The dispatcher console for one region: the open-jobs queue, job detail, recommendations
// (shown when RecommendationReady arrives), manual and automatic assignment, a day timeline per
// contractor, a location plot, and cards that update the moment JobAssigned arrives.

import { get, post } from "./api";
import { fill, h } from "./dom";
import { day, dayTime, hmToMinutes, iso, localMinutes, minutes, range, startOfLocalDay, time, weekday } from "./format";
import type {
  Assignment,
  AssignmentRequest,
  Candidate,
  Contractor,
  Exclusion,
  Job,
  JobAssigned,
  Page,
  RecommendationAccepted,
  RecommendationReady,
  RecommendationRecord,
  RecommendationRequest,
  Region,
} from "./generated/api";
import { Live, linkBadge } from "./hub";
import { locationPlot, type PlotPoint } from "./plot";
import type { Session } from "./session";
import { timeline, type Bar, type Row } from "./timeline";
import { frame, mayDispatch, navigate, notice, showError } from "./ui";

type RecStatus = "asking" | "pending" | "ready" | "failed";

interface RecState {
  requestId: string | null;
  status: RecStatus;
  autoAssign: boolean;
  record?: RecommendationRecord;
}

interface Assigned {
  event: JobAssigned;
  receivedAt: Date;
}

const PRIORITY_ORDER: Record<string, number> = { emergency: 0, high: 1, normal: 2, low: 3 };
const FACTORS: Array<[keyof Candidate["breakdown"], string]> = [
  ["travelTime", "Travel"],
  ["earliestStart", "Start"],
  ["skillFit", "Skill fit"],
  ["rating", "Rating"],
  ["workload", "Workload"],
];
const CANDIDATES = 10;
const TIMELINE_ROWS = 8;

export function showConsole(session: Session, regionId: string, initialJob?: string): () => void {
  const badge = linkBadge();
  const boardLink = h(
    "a",
    {
      class: "docs-link",
      href: `/board/${regionId}`,
      onclick: (event: Event) => {
        event.preventDefault();
        navigate(`/board/${regionId}`);
      },
    },
    "Schedule board",
  );
  const main = frame({ title: `Region ${regionId}`, subtitle: "Dispatcher console", session, extra: [badge.el, boardLink] });
  if (!mayDispatch(session, regionId, main)) return () => {};

  // ----- state -----
  let region: Region | null = null;
  const contractors = new Map<string, Contractor>();
  const jobs = new Map<string, Job>();
  let openIds: string[] = [];
  let selected: string | null = initialJob ?? null;
  const recs = new Map<string, RecState>();
  const requestToJob = new Map<string, string>();
  const readySeen = new Set<string>();
  const assigned: Assigned[] = [];
  const seenAssignments = new Set<string>();
  const dayAssignments = new Map<string, Assignment[]>();
  const flash = new Set<string>();
  const log: Array<{ at: Date; text: string }> = [];
  let disposed = false;

  // ----- layout -----
  const queueCount = h("span", { class: "count" });
  const queue = h("ul", { class: "queue", id: "queue", "aria-label": "Open jobs" });
  const assignedList = h("ul", { class: "cards", id: "assigned", "aria-label": "Assigned just now" });
  const logList = h("ol", { class: "log", id: "event-log", "aria-label": "Live events" });
  const detail = h("section", { class: "card detail", id: "job-detail", "aria-labelledby": "detail-title", tabindex: "-1" });
  const recPanel = h("section", { class: "card", id: "recommendation", "aria-live": "polite", "aria-label": "Recommendation" });
  const plotPanel = h("section", { class: "card plot-card", id: "plot", "aria-label": "Locations" });
  const timelinePanel = h("section", { class: "card", id: "timeline", "aria-label": "Day timeline" });
  main.classList.add("console");
  main.append(
    h(
      "aside",
      { class: "side" },
      h("section", { class: "card" }, h("h2", {}, "Open jobs ", queueCount), queue),
      h("section", { class: "card" }, h("h2", {}, "Assigned just now"), assignedList),
      h("section", { class: "card" }, h("h2", {}, "Live events"), logList),
    ),
    h("div", { class: "work" }, detail, recPanel, h("div", { class: "pair" }, plotPanel, timelinePanel)),
  );

  const zone = () => region?.timeZone ?? "UTC";
  const nameOf = (id: string) => contractors.get(id)?.name ?? `contractor ${id.slice(0, 8)}`;
  const titleOf = (id: string) => jobs.get(id)?.title ?? `job ${id.slice(0, 8)}`;
  const fail = (context: string) => (error: unknown) => showError(error, context);

  // ----- data -----
  async function loadRegion(): Promise<void> {
    region = await get<Region>(`/regions/${encodeURIComponent(regionId)}`);
    const title = main.ownerDocument.querySelector(".top h1");
    if (title) title.textContent = region.name;
    document.title = `${region.name} · Dispatch`;
  }

  async function loadContractors(): Promise<void> {
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = `/contractors?region=${encodeURIComponent(regionId)}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const result: Page<Contractor> = await get<Page<Contractor>>(query);
      for (const c of result.items) contractors.set(c.id, c);
      cursor = result.nextCursor;
      if (!cursor) break;
    }
  }

  async function loadQueue(): Promise<void> {
    const items: Job[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const query: string = `/jobs?region=${encodeURIComponent(regionId)}&status=open&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const result: Page<Job> = await get<Page<Job>>(query);
      items.push(...result.items);
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    for (const job of items) jobs.set(job.id, job);
    items.sort(
      (a, b) =>
        (PRIORITY_ORDER[a.priority] ?? 9) - (PRIORITY_ORDER[b.priority] ?? 9) ||
        a.windowStartUtc.localeCompare(b.windowStartUtc) ||
        a.id.localeCompare(b.id),
    );
    openIds = items.map((job) => job.id);
  }

  async function ensureJob(id: string): Promise<Job> {
    const known = jobs.get(id);
    if (known) return known;
    const job = await get<Job>(`/jobs/${id}`);
    jobs.set(id, job);
    return job;
  }

  async function fetchRecommendation(requestId: string): Promise<void> {
    const record = await get<RecommendationRecord>(`/recommendations/${requestId}`);
    const state = recs.get(record.jobId);
    if (state && state.requestId !== null && state.requestId !== requestId) return; // superseded
    recs.set(record.jobId, {
      requestId,
      status: record.status === "pending" ? "pending" : record.status,
      autoAssign: record.autoAssign,
      record,
    });
    requestToJob.set(requestId, record.jobId);
    if (record.jobId === selected) {
      renderRecommendation();
      renderPlot();
      await refreshTimeline();
    }
  }

  function dayOfInterest(): Date | null {
    if (!selected) return null;
    const rec = recs.get(selected)?.record;
    const top = rec?.candidates[0];
    const job = jobs.get(selected);
    const at = top ? new Date(top.startUtc) : job ? new Date(job.windowStartUtc) : null;
    return at ? startOfLocalDay(zone(), at) : null;
  }

  function timelineContractors(): string[] {
    if (!selected) return [];
    const ids: string[] = [];
    for (const item of assigned) if (item.event.jobId === selected) ids.push(item.event.contractorId);
    for (const c of recs.get(selected)?.record?.candidates ?? []) if (!ids.includes(c.contractorId)) ids.push(c.contractorId);
    return ids.slice(0, TIMELINE_ROWS);
  }

  async function refreshTimeline(force: string[] = []): Promise<void> {
    const start = dayOfInterest();
    if (!start) {
      renderTimeline();
      return;
    }
    const end = new Date(start.getTime() + 24 * 3600_000);
    const wanted = timelineContractors();
    await Promise.all(
      wanted.map(async (id) => {
        const key = `${id}|${start.toISOString()}`;
        if (dayAssignments.has(key) && !force.includes(id)) return;
        const list = await get<Assignment[]>(`/contractors/${id}/assignments?from=${iso(start)}&to=${iso(end)}`);
        dayAssignments.set(key, list);
      }),
    ).catch(fail("Could not load the contractors' day"));
    if (!disposed) renderTimeline();
  }

  // ----- actions -----
  async function select(id: string, focus = true): Promise<void> {
    selected = id;
    history.replaceState(null, "", `/dispatch/${regionId}/jobs/${id}`);
    renderQueue();
    try {
      await ensureJob(id);
    } catch (error) {
      showError(error, "Could not load the job");
    }
    renderDetail();
    renderRecommendation();
    renderPlot();
    if (focus) detail.focus();
    await refreshTimeline();
  }

  async function recommend(autoAssign: boolean): Promise<void> {
    const jobId = selected;
    if (!jobId) return;
    recs.set(jobId, { requestId: null, status: "asking", autoAssign });
    renderRecommendation();
    try {
      const body: RecommendationRequest = { jobId, limit: CANDIDATES, autoAssign };
      const accepted = await post<RecommendationAccepted>("/recommendations", body);
      recs.set(jobId, { requestId: accepted.requestId, status: "pending", autoAssign });
      requestToJob.set(accepted.requestId, jobId);
      renderRecommendation();
      // The event may have overtaken the 202.
      if (readySeen.has(accepted.requestId)) await fetchRecommendation(accepted.requestId);
    } catch (error) {
      recs.delete(jobId);
      renderRecommendation();
      showError(error, autoAssign ? "Auto-assign failed" : "Recommend failed");
    }
  }

  async function assign(candidate: Candidate, requestId: string | null): Promise<void> {
    const jobId = selected;
    if (!jobId) return;
    const body: AssignmentRequest = {
      jobId,
      contractorId: candidate.contractorId,
      startUtc: candidate.startUtc,
      endUtc: candidate.endUtc,
      requestId: requestId ?? undefined,
    };
    try {
      const made = await post<Assignment>("/assignments", body);
      notice(`Assigned ${titleOf(jobId)} to ${nameOf(candidate.contractorId)}, ${range(made.startUtc, made.endUtc, zone())}.`);
    } catch (error) {
      showError(error, "Assign failed");
    }
  }

  // ----- events -----
  function record(text: string): void {
    log.unshift({ at: new Date(), text });
    log.length = Math.min(log.length, 20);
    renderLog();
  }

  function onRecommendationReady(event: RecommendationReady): void {
    readySeen.add(event.requestId);
    record(`RecommendationReady · ${titleOf(event.jobId)}`);
    const ours = requestToJob.has(event.requestId);
    if (ours || event.jobId === selected) {
      fetchRecommendation(event.requestId).catch(fail("Could not load the recommendation"));
    }
  }

  async function onJobAssigned(event: JobAssigned): Promise<void> {
    if (seenAssignments.has(event.assignmentId)) return;
    seenAssignments.add(event.assignmentId);
    try {
      const job = await ensureJob(event.jobId);
      job.status = "assigned";
    } catch (error) {
      showError(error, "Could not load the assigned job");
    }
    record(`JobAssigned · ${titleOf(event.jobId)} → ${nameOf(event.contractorId)} (${event.source})`);
    openIds = openIds.filter((id) => id !== event.jobId);
    assigned.unshift({ event, receivedAt: new Date() });
    assigned.length = Math.min(assigned.length, 12);
    flash.add(event.jobId);
    flash.add(event.contractorId);
    window.setTimeout(() => {
      flash.delete(event.jobId);
      flash.delete(event.contractorId);
      if (!disposed) renderAll();
    }, 4000);
    renderAll();
    await refreshTimeline([event.contractorId]);
  }

  async function resync(): Promise<void> {
    try {
      await loadQueue();
      // Recommendations that were pending while offline may be ready now.
      const pending = [...recs.values()].filter((r) => r.requestId && r.status === "pending");
      await Promise.all(pending.map((r) => fetchRecommendation(r.requestId!)));
      if (selected) {
        jobs.delete(selected);
        await ensureJob(selected);
      }
      dayAssignments.clear();
      renderAll();
      await refreshTimeline();
    } catch (error) {
      showError(error, "Could not refresh after reconnecting");
    }
  }

  // ----- rendering -----
  function renderAll(): void {
    renderQueue();
    renderAssigned();
    renderDetail();
    renderRecommendation();
    renderPlot();
    renderTimeline();
  }

  function renderQueue(): void {
    queueCount.textContent = `(${openIds.length})`;
    fill(
      queue,
      openIds.length === 0 ? h("li", { class: "muted" }, "No open jobs.") : null,
      openIds.map((id) => {
        const job = jobs.get(id)!;
        const rec = recs.get(id);
        return h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: `queue-item${id === selected ? " selected" : ""}`,
              "aria-current": id === selected ? "true" : null,
              "data-job-id": id,
              onclick: () => void select(id),
            },
            h("span", { class: `priority priority-${job.priority}` }, job.priority),
            h("span", { class: "queue-title" }, job.title),
            h("span", { class: "queue-meta" }, range(job.windowStartUtc, job.windowEndUtc, zone()), " · ", h("span", { class: "nowrap" }, minutes(job.durationMinutes))),
            rec?.status === "ready" ? h("span", { class: "tag" }, `${rec.record?.candidates.length ?? 0} candidates`) : null,
          ),
        );
      }),
    );
  }

  function renderAssigned(): void {
    fill(
      assignedList,
      assigned.length === 0 ? h("li", { class: "muted" }, "Nothing assigned since you opened the console.") : null,
      assigned.map(({ event }) =>
        h(
          "li",
          { class: `job-card${flash.has(event.jobId) ? " flash" : ""}`, "data-job-id": event.jobId },
          h(
            "button",
            { type: "button", class: "link-button", onclick: () => void select(event.jobId) },
            h("strong", {}, titleOf(event.jobId)),
          ),
          h("span", { class: "status status-assigned" }, "assigned"),
          h("div", {}, `to ${nameOf(event.contractorId)}`),
          h("div", { class: "muted" }, `${range(event.startUtc, event.endUtc, zone())} · ${event.source}`),
        ),
      ),
    );
  }

  function renderLog(): void {
    fill(
      logList,
      log.length === 0 ? h("li", { class: "muted" }, "No events yet.") : null,
      log.map((entry) => h("li", {}, h("time", {}, entry.at.toLocaleTimeString("en-GB")), " ", entry.text)),
    );
  }

  function renderDetail(): void {
    if (!selected) {
      fill(detail, h("h2", { id: "detail-title" }, "Job"), h("p", { class: "muted" }, "Pick a job from the queue (Tab to it, Enter to open)."));
      return;
    }
    const job = jobs.get(selected);
    if (!job) {
      fill(detail, h("h2", { id: "detail-title" }, "Job"), h("p", { class: "muted" }, "Loading…"));
      return;
    }
    const rec = recs.get(job.id);
    const busy = rec?.status === "asking" || rec?.status === "pending";
    const open = job.status === "open";
    const liveAssignment = assigned.find((a) => a.event.jobId === job.id);
    fill(
      detail,
      h(
        "div",
        { class: "detail-head" },
        h("h2", { id: "detail-title" }, job.title),
        h("span", { class: `priority priority-${job.priority}` }, job.priority),
        h("span", { class: `status status-${job.status}${flash.has(job.id) ? " flash" : ""}`, id: "job-status" }, job.status),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Window"),
        h("dd", {}, `${dayTime(job.windowStartUtc, zone())} – ${dayTime(job.windowEndUtc, zone())} (${zone()})`),
        h("dt", {}, "Duration"),
        h("dd", {}, minutes(job.durationMinutes)),
        h("dt", {}, "Skills"),
        h("dd", {}, job.requiredSkills.map((s) => `${s.name} ≥ ${s.minLevel}`).join(", ") || "none"),
        h("dt", {}, "Location"),
        h("dd", {}, `${job.location.lat.toFixed(4)}, ${job.location.lon.toFixed(4)}`),
        liveAssignment ? h("dt", {}, "Assigned") : null,
        liveAssignment
          ? h("dd", {}, `${nameOf(liveAssignment.event.contractorId)}, ${range(liveAssignment.event.startUtc, liveAssignment.event.endUtc, zone())} (${liveAssignment.event.source})`)
          : null,
      ),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "button-primary", id: "recommend", disabled: busy || !open, onclick: () => void recommend(false) },
          "Recommend",
        ),
        h(
          "button",
          { type: "button", id: "auto-assign", disabled: busy || !open, onclick: () => void recommend(true), title: "Compute the ranking and assign the top candidate" },
          "Auto-assign",
        ),
        open ? null : h("span", { class: "muted" }, "Only open jobs can be recommended for."),
      ),
    );
  }

  function renderRecommendation(): void {
    const rec = selected ? recs.get(selected) : undefined;
    if (!selected || !rec) {
      fill(recPanel, h("h2", {}, "Candidates"), h("p", { class: "muted" }, selected ? "Press Recommend to rank the region's contractors for this job." : "No job selected."));
      return;
    }
    if (rec.status === "asking" || rec.status === "pending") {
      fill(
        recPanel,
        h("h2", {}, "Candidates"),
        h("p", { class: "pending", id: "rec-pending" }, h("span", { class: "spinner", "aria-hidden": "true" }), rec.status === "asking" ? " Asking…" : " Computing — the ranking appears when RecommendationReady arrives."),
      );
      return;
    }
    const record = rec.record!;
    if (record.status === "failed") {
      fill(recPanel, h("h2", {}, "Candidates"), h("p", { class: "message message-error", role: "alert" }, `The recommendation failed: ${record.error ?? "no reason given"}`));
      return;
    }
    const job = jobs.get(selected);
    const done = assigned.find((a) => a.event.jobId === selected);
    const canAssign = job?.status === "open" && !done;
    const rows = record.candidates.map((c) =>
      h(
        "tr",
        { class: `${done?.event.contractorId === c.contractorId ? "assigned-row" : ""}${flash.has(c.contractorId) ? " flash" : ""}`, "data-contractor-id": c.contractorId },
        h("td", { class: "num" }, String(c.rank)),
        h("th", { scope: "row" }, nameOf(c.contractorId), h("div", { class: "muted small" }, skillsOf(c.contractorId))),
        h("td", { class: "num score" }, c.score.toFixed(1)),
        h("td", {}, breakdown(c)),
        h("td", {}, range(c.startUtc, c.endUtc, zone())),
        h(
          "td",
          {},
          `${c.travel.distanceKm.toFixed(1)} km · ${minutes(c.travel.minutes)}`,
          h("div", { class: "muted small" }, `from ${c.travel.from === "home" ? "home" : "previous job"} · ${c.travel.source}`),
        ),
        h(
          "td",
          {},
          done?.event.contractorId === c.contractorId
            ? h("span", { class: "status status-assigned" }, "assigned")
            : h(
                "button",
                {
                  type: "button",
                  class: "assign",
                  disabled: !canAssign,
                  "aria-label": `Assign ${nameOf(c.contractorId)} (rank ${c.rank})`,
                  onclick: () => void assign(c, rec.requestId),
                },
                "Assign",
              ),
        ),
      ),
    );
    fill(
      recPanel,
      h(
        "div",
        { class: "rec-head" },
        h("h2", {}, `Candidates (${record.candidates.length})`),
        h(
          "span",
          { class: "muted" },
          `scoring config v${record.configVersion ?? "?"} · ${record.generatedAt ? time(record.generatedAt, zone()) : ""} · asked by ${record.requestedBy}${record.autoAssign ? " · auto-assign" : ""}`,
        ),
      ),
      record.candidates.length === 0
        ? h("p", {}, "No contractor can take this job; see the reasons below.")
        : h(
            "table",
            { class: "candidates", id: "candidates" },
            h("caption", { class: "sr-only" }, "Ranked candidates with score, breakdown, proposed slot and travel"),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["#", "Contractor", "Score", "Breakdown (0–100 per factor)", "Proposed slot", "Travel", ""].map((label) => h("th", { scope: "col" }, label)),
              ),
            ),
            h("tbody", {}, rows),
          ),
      excludedList(record.excluded),
    );
  }

  function skillsOf(id: string): string {
    const c = contractors.get(id);
    return c ? `${c.skills.map((s) => `${s.name} ${s.level}`).join(", ")} · ★ ${c.rating.toFixed(1)}` : "";
  }

  function breakdown(c: Candidate): HTMLElement {
    return h(
      "div",
      { class: "breakdown" },
      FACTORS.map(([key, label]) => {
        const value = c.breakdown[key];
        return h(
          "div",
          { class: "factor", title: `${label}: ${value.toFixed(1)}` },
          h("span", { class: "factor-label" }, label),
          h("span", { class: "factor-bar", "aria-hidden": "true" }, h("span", { style: `width:${Math.max(0, Math.min(100, value)).toFixed(1)}%` })),
          h("span", { class: "factor-value" }, value.toFixed(0)),
        );
      }),
    );
  }

  function excludedList(excluded: Exclusion[]): HTMLElement {
    const counts = new Map<string, number>();
    for (const e of excluded) counts.set(e.reason, (counts.get(e.reason) ?? 0) + 1);
    const summary = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason} ${n}`).join(" · ");
    return h(
      "details",
      { class: "excluded", id: "excluded" },
      h("summary", {}, `Excluded (${excluded.length})${summary ? ` — ${summary}` : ""}`),
      excluded.length === 0
        ? h("p", { class: "muted" }, "Nobody was excluded.")
        : h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Contractor"), h("th", { scope: "col" }, "Rule"), h("th", { scope: "col" }, "Why"))),
            h(
              "tbody",
              {},
              excluded.map((e) => h("tr", {}, h("th", { scope: "row" }, nameOf(e.contractorId)), h("td", {}, h("code", {}, e.reason)), h("td", {}, e.message))),
            ),
          ),
    );
  }

  function renderPlot(): void {
    const job = selected ? jobs.get(selected) : undefined;
    if (!job) {
      fill(plotPanel, h("h2", {}, "Locations"), h("p", { class: "muted" }, "No job selected."));
      return;
    }
    const record = recs.get(job.id)?.record;
    const done = assigned.find((a) => a.event.jobId === job.id);
    const ranked = new Map((record?.candidates ?? []).map((c) => [c.contractorId, c.rank]));
    const points: PlotPoint[] = [{ lat: job.location.lat, lon: job.location.lon, label: `Job: ${job.title}`, kind: "job" }];
    for (const c of contractors.values()) {
      const rank = ranked.get(c.id);
      const kind = done?.event.contractorId === c.id ? "assigned" : rank !== undefined ? "candidate" : "other";
      points.push({ lat: c.location.lat, lon: c.location.lon, label: rank !== undefined ? `#${rank} ${c.name}` : c.name, kind, rank });
    }
    fill(
      plotPanel,
      h("h2", {}, "Locations"),
      locationPlot(points, `The job (diamond) and ${ranked.size} ranked candidates' home bases (numbered); other contractors of the region in grey.`),
      h("p", { class: "muted small" }, "Home bases, straight-line view; travel figures in the table are road estimates."),
    );
  }

  function renderTimeline(): void {
    const start = dayOfInterest();
    if (!selected || !start) {
      fill(timelinePanel, h("h2", {}, "Day timeline"), h("p", { class: "muted" }, "Recommend for a job to see its candidates' day."));
      return;
    }
    const record = recs.get(selected)?.record;
    const candidates = new Map((record?.candidates ?? []).map((c) => [c.contractorId, c]));
    const rows: Row[] = timelineContractors().map((id) => {
      const booked = dayAssignments.get(`${id}|${start.toISOString()}`) ?? [];
      const bars: Bar[] = booked.map((a) => ({
        start: new Date(a.startUtc),
        end: new Date(a.endUtc),
        kind: seenAssignments.has(a.id) ? "new" : "booked",
        label: a.jobId === selected ? titleOf(a.jobId) : seenAssignments.has(a.id) ? `${titleOf(a.jobId)} (just assigned)` : "booked",
      }));
      const c = candidates.get(id);
      const isAssignedHere = booked.some((a) => a.jobId === selected);
      if (c && !isAssignedHere) {
        const s = new Date(c.startUtc);
        bars.push({ start: new Date(s.getTime() - c.travel.minutes * 60000), end: s, kind: "travel", label: `travel ${minutes(c.travel.minutes)}` });
        bars.push({ start: s, end: new Date(c.endUtc), kind: "proposed", label: "proposed" });
      }
      const contractor = contractors.get(id);
      const today = weekday(zone(), new Date(start.getTime() + 12 * 3600_000));
      const working: Array<[number, number]> = (contractor?.workingHours ?? [])
        .filter((w) => w.day === today)
        .map((w) => {
          const from = hmToMinutes(w.start);
          const to = hmToMinutes(w.end);
          return [from, to <= from ? 1440 : to];
        });
      return {
        key: id,
        label: h(
          "div",
          { class: `contractor-card${flash.has(id) ? " flash" : ""}`, "data-contractor-id": id },
          h("strong", {}, c ? `#${c.rank} ` : "", nameOf(id)),
          h("span", { class: "muted small" }, ` ${booked.length} job${booked.length === 1 ? "" : "s"}`),
        ),
        dayStart: start,
        bars,
        working,
        highlight: flash.has(id),
      };
    });
    const allBars = rows.flatMap((r) => r.bars);
    const earliest = Math.min(6 * 60, ...allBars.map((b) => localMinutes(zone(), b.start)), ...rows.flatMap((r) => r.working.map(([f]) => f)));
    const latest = Math.max(20 * 60, ...allBars.map((b) => Math.min(1440, localMinutes(zone(), b.end) || 1440)), ...rows.flatMap((r) => r.working.map(([, t]) => t)));
    fill(
      timelinePanel,
      h("h2", {}, `Day timeline — ${day(start, zone())}`),
      timeline({
        caption: `Contractors' bookings on ${day(start, zone())} (${zone()}); gaps are free time, hatched bars travel.`,
        zone: zone(),
        fromHour: Math.max(0, Math.floor(earliest / 60)),
        toHour: Math.min(24, Math.ceil(latest / 60)),
        rows,
        empty: "No candidates yet.",
      }),
    );
  }

  // ----- start -----
  const live = new Live(`/dispatch/${regionId}`, {
    onState: (state, detailText) => badge.set(state, detailText),
    onRecommendationReady,
    onJobAssigned: (event) => void onJobAssigned(event),
    onResync: () => void resync(),
  });

  renderAll();
  renderLog();
  (async () => {
    try {
      await loadRegion();
      await Promise.all([loadContractors(), loadQueue()]);
    } catch (error) {
      showError(error, "Could not load the region");
    }
    if (disposed) return;
    renderAll();
    if (selected) await select(selected, false);
    await live.start();
  })().catch(fail("Console"));

  return () => {
    disposed = true;
    void live.stop();
  };
}
