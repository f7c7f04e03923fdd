// The contractor view: my upcoming assignments as a list and as a week timeline, updated live
// when JobAssigned arrives on /contractor/<me>.

import { get } from "./api";
import { fill, h } from "./dom";
import { day, hmToMinutes, iso, minutes, range, startOfLocalDay, weekday } from "./format";
import type { Assignment, Contractor, Job, JobAssigned, Region } from "./generated/api";
import { Live, linkBadge } from "./hub";
import type { Session } from "./session";
import { timeline, type Row } from "./timeline";
import { frame, navigate, notice, showError } from "./ui";

const DAYS = 7;

export function showContractor(session: Session, contractorId: string): () => void {
  const badge = linkBadge();
  const main = frame({ title: "My assignments", subtitle: "Contractor view", session, extra: [badge.el] });
  if (session.role === "dispatcher" || (session.role === "contractor" && session.contractorId !== contractorId)) {
    main.append(
      h(
        "section",
        { class: "card narrow" },
        h("h2", {}, "Not your page"),
        h("p", {}, "This view belongs to another contractor."),
        h("button", { type: "button", class: "button-primary", onclick: () => navigate("/") }, "Back to sign-in"),
      ),
    );
    return () => {};
  }

  let me: Contractor | null = null;
  let region: Region | null = null;
  let upcoming: Assignment[] = [];
  const jobs = new Map<string, Job>();
  const fresh = new Set<string>();
  let disposed = false;

  const profile = h("section", { class: "card", id: "profile", "aria-label": "Profile" });
  const list = h("section", { class: "card", id: "upcoming", "aria-live": "polite", "aria-label": "Upcoming assignments" });
  const week = h("section", { class: "card", id: "week", "aria-label": "Week timeline" });
  main.classList.add("contractor");
  main.append(profile, h("div", { class: "pair pair-wide" }, list, week));

  const zone = () => region?.timeZone ?? "UTC";

  async function load(): Promise<void> {
    const now = new Date();
    const from = new Date(now.getTime() - 12 * 3600_000);
    const to = new Date(startOfLocalDay(zone(), now).getTime() + (DAYS + 7) * 24 * 3600_000);
    const items = await get<Assignment[]>(`/contractors/${contractorId}/assignments?from=${iso(from)}&to=${iso(to)}`);
    items.sort((a, b) => a.startUtc.localeCompare(b.startUtc));
    await Promise.all(
      items
        .filter((a) => !jobs.has(a.jobId))
        .map(async (a) => {
          try {
            jobs.set(a.jobId, await get<Job>(`/jobs/${a.jobId}`));
          } catch (error) {
            showError(error, "Could not load a job");
          }
        }),
    );
    upcoming = items.filter((a) => new Date(a.endUtc) > now);
  }

  function render(): void {
    if (me) {
      fill(
        profile,
        h(
          "div",
          { class: "detail-head" },
          h("h2", {}, me.name),
          h("span", { class: "muted" }, `${region?.name ?? me.region} · ★ ${me.rating.toFixed(1)} · up to ${me.maxJobsPerDay} jobs a day`),
        ),
        h("p", { class: "muted" }, me.skills.map((s) => `${s.name} (level ${s.level})`).join(", ")),
      );
      const title = document.querySelector(".top h1");
      if (title) title.textContent = `${me.name} — my assignments`;
    }
    fill(
      list,
      h("h2", {}, `Upcoming (${upcoming.length})`),
      upcoming.length === 0
        ? h("p", { class: "muted" }, "Nothing booked yet. New assignments appear here as soon as they are made.")
        : h(
            "ol",
            { class: "assignments", id: "assignment-list" },
            upcoming.map((a) => {
              const job = jobs.get(a.jobId);
              return h(
                "li",
                { class: `assignment${fresh.has(a.id) ? " fresh flash" : ""}`, "data-assignment-id": a.id },
                h("div", { class: "when" }, h("strong", {}, day(a.startUtc, zone())), h("span", {}, range(a.startUtc, a.endUtc, zone(), false))),
                h(
                  "div",
                  { class: "what" },
                  h("strong", {}, job?.title ?? `job ${a.jobId.slice(0, 8)}`),
                  fresh.has(a.id) ? h("span", { class: "tag tag-new" }, "new") : null,
                  job ? h("span", { class: `priority priority-${job.priority}` }, job.priority) : null,
                  h(
                    "div",
                    { class: "muted small" },
                    job ? `${minutes(job.durationMinutes)} · ${job.requiredSkills.map((s) => s.name).join(", ")} · at ${job.location.lat.toFixed(3)}, ${job.location.lon.toFixed(3)}` : "",
                    ` · ${a.source === "auto" ? "assigned automatically" : "assigned by a dispatcher"}`,
                  ),
                ),
              );
            }),
          ),
    );
    const today = startOfLocalDay(zone(), new Date());
    const rows: Row[] = [];
    for (let i = 0; i < DAYS; i++) {
      const dayStart = startOfLocalDay(zone(), new Date(today.getTime() + (i * 24 + 12) * 3600_000));
      const dayEnd = new Date(dayStart.getTime() + 24 * 3600_000);
      const wd = weekday(zone(), new Date(dayStart.getTime() + 12 * 3600_000));
      rows.push({
        key: dayStart.toISOString(),
        label: h("span", {}, day(dayStart, zone())),
        dayStart,
        bars: upcoming
          .filter((a) => new Date(a.startUtc) < dayEnd && new Date(a.endUtc) > dayStart)
          .map((a) => ({
            start: new Date(a.startUtc),
            end: new Date(a.endUtc),
            kind: fresh.has(a.id) ? "new" : "booked",
            label: jobs.get(a.jobId)?.title ?? "assignment",
          })),
        working: (me?.workingHours ?? [])
          .filter((w) => w.day === wd)
          .map((w) => {
            const from = hmToMinutes(w.start);
            const to = hmToMinutes(w.end);
            return [from, to <= from ? 1440 : to] as [number, number];
          }),
        highlight: upcoming.some((a) => fresh.has(a.id) && new Date(a.startUtc) < dayEnd && new Date(a.endUtc) > dayStart),
      });
    }
    fill(
      week,
      h("h2", {}, "This week"),
      timeline({ caption: `My week (${zone()})`, zone: zone(), fromHour: 6, toHour: 22, rows }),
    );
  }

  async function refresh(): Promise<void> {
    try {
      await load();
      if (!disposed) render();
    } catch (error) {
      showError(error, "Could not load your assignments");
    }
  }

  async function onJobAssigned(event: JobAssigned): Promise<void> {
    if (event.contractorId !== contractorId) return;
    fresh.add(event.assignmentId);
    await refresh();
    const job = jobs.get(event.jobId);
    notice(`New assignment: ${job?.title ?? "a job"}, ${range(event.startUtc, event.endUtc, zone())}.`);
  }

  const live = new Live(`/contractor/${contractorId}`, {
    onState: (state, detailText) => badge.set(state, detailText),
    onJobAssigned: (event) => void onJobAssigned(event),
    onResync: () => void refresh(),
  });

  (async () => {
    try {
      me = await get<Contractor>(`/contractors/${contractorId}`);
      region = await get<Region>(`/regions/${encodeURIComponent(me.region)}`);
    } catch (error) {
      showError(error, "Could not load your profile");
    }
    await refresh();
    await live.start();
  })().catch((error: unknown) => showError(error, "Contractor view"));

  return () => {
    disposed = true;
    void live.stop();
  };
}
