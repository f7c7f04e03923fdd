// The schedule board end to end, as a dispatcher uses it: the real `dispatch` binary
// (development mode, demo data in a fresh SQLite file) and Debian's Chromium, driven by
// playwright-core. A dispatcher of West signs in through the page, opens the board from the
// console, and
//
//   * drags an unassigned job onto a contractor's row: it is booked where it was dropped;
//   * drops a job nobody can do: the rule's reason shows on that row and nothing changes;
//   * drags the booking to a later time: it moves in one step;
//   * sees a booking made through the API by another client appear without reloading;
//   * assigns a job with the keyboard (the Assign… dialog) and unassigns it again;
//   * plans the period: progress, the proposal dashed over the rows with before/after figures,
//     then Apply, whose bookings arrive as live events.
//
// The jobs it drags are its own (created through the API beside the demo's), placed in the
// free working time of a demo contractor it picks from the schedule, so every step has one
// right answer whatever day the test runs. Screenshots: artifacts/screenshots/09-…12-*.png.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  WAIT,
  browserSuite,
  callApi,
  live,
  newPage,
  shot,
  startServer,
} from "../lib/harness.mjs";

const MIN = 60_000;
const HOUR = 60 * MIN;

/** `2026-12-03`, the local date of `at` in `zone`. */
function localDate(zone, at) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}

const isoZ = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * A contractor with a free stretch of working time at least `hours` long inside one local day
 * from tomorrow on: `{row, start, date}` (start on a quarter hour).
 */
function freeStretch(schedule, zone, hours) {
  const quarter = 15 * MIN;
  for (const row of schedule.contractors) {
    if (!row.contractor.active || row.contractor.skills.length === 0) continue;
    const busy = [
      ...row.bookings.map((b) => [Date.parse(b.assignment.startUtc) - b.travel.minutes * MIN, Date.parse(b.assignment.endUtc)]),
      ...row.contractor.timeOff.map((t) => [Date.parse(t.startUtc), Date.parse(t.endUtc)]),
    ];
    for (const w of row.working) {
      const start = Math.ceil((Date.parse(w.startUtc) + 30 * MIN) / quarter) * quarter;
      const end = start + hours * HOUR;
      if (end > Date.parse(w.endUtc) - 30 * MIN) continue;
      if (localDate(zone, new Date(start)) !== localDate(zone, new Date(end))) continue;
      if (busy.some(([a, b]) => a < end + HOUR && b > start - HOUR)) continue;
      return { row, start, date: localDate(zone, new Date(start)) };
    }
  }
  return null;
}

const suite = browserSuite("the board tests");

describe("schedule board", () => {

  const demo = suite.demo("board", 80);

  test("drag to assign and move, a refusal with its reason, live bookings, keyboard, plan and apply", suite.needsBrowser(async () => {
    const { base } = demo.server;
    const errors = [];
    const { token } = (await callApi(base, "POST", "/dev/token", null, { role: "dispatcher", region: "west" })).body;
    const api = (method, path, body) => callApi(base, method, path, token, body);
    const zone = (await api("GET", "/regions/west")).body.timeZone;

    // --- a contractor with seven free working hours on one day, and jobs only it can place
    const week = await api("GET", `/regions/west/schedule?from=${isoZ(Date.now() + 24 * HOUR)}&to=${isoZ(Date.now() + 8 * 24 * HOUR)}`);
    assert.equal(week.status, 200, JSON.stringify(week.body));
    const found = freeStretch(week.body, zone, 7);
    assert.ok(found, "some demo contractor has seven free working hours in the coming week");
    const { row, start: t0, date } = found;
    const contractor = row.contractor;
    const skill = contractor.skills[0].name;
    const newJob = async (title, extra = {}) => {
      const made = await api("POST", "/jobs", {
        region: "west",
        title,
        location: contractor.location,
        requiredSkills: [{ name: skill, minLevel: 1 }],
        priority: "high",
        windowStartUtc: isoZ(t0 - HOUR),
        windowEndUtc: isoZ(t0 + 8 * HOUR),
        durationMinutes: 60,
        ...extra,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.id;
    };
    const dragged = await newJob("Board: dragged job");
    const impossible = await newJob("Board: needs unobtainium", { requiredSkills: [{ name: "unobtainium", minLevel: 5 }] });
    const remote = await newJob("Board: booked elsewhere");
    const keyed = await newJob("Board: keyboard job");
    const planned = await newJob("Board: left for the plan", { windowStartUtc: isoZ(t0 + 5 * HOUR), windowEndUtc: isoZ(t0 + 7 * HOUR) });

    // --- sign in through the page, open the board from the console
    const { context, page } = await newPage(suite.browser, errors);
    // The smallest laptop screen it is made for.
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.goto(`${base}/`);
    await page.getByRole("button", { name: /Dispatcher of West/ }).click();
    await page.waitForURL(`${base}/dispatch/west`);
    await page.getByRole("link", { name: "Schedule board" }).click();
    await page.waitForURL(/\/board\/west/);
    await live(page);
    await page.locator(".bd-row").first().waitFor();
    const main = page.locator("main");
    console.log(
      `board: today's schedule fetched in ${await main.getAttribute("data-fetch-ms")} ms, ` +
        `${await page.locator(".bd-row").count()} rows in view drawn in ${await main.getAttribute("data-draw-ms")} ms`,
    );

    // --- the contractor's day
    const loaded = page.waitForResponse((r) => r.url().includes("/schedule?") && r.ok());
    await page.goto(`${base}/board/west?date=${date}&days=1`);
    const shown = await (await loaded).json();
    await live(page);
    const from = Date.parse(shown.from);
    const to = Date.parse(shown.to);
    assert.equal(localDate(zone, new Date(from)), date);
    await page.locator(`#unassigned li[data-job-id="${dragged}"]`).waitFor();
    await shot(page, "09-board-day");
    await page.getByLabel("Filter contractors").fill(contractor.name);
    const rowEl = page.locator(`.bd-row[data-contractor-id="${contractor.id}"]`);
    await rowEl.waitFor();
    const track = rowEl.locator(".bd-track");
    const box = await track.boundingBox();
    const xAt = (ms) => ((ms - from) / (to - from)) * box.width + 2;
    await page.evaluate(() => {
      window.__notReloaded = true;
    });

    // --- drag a job onto the row: booked where it was dropped
    await page.locator(`#unassigned li[data-job-id="${dragged}"]`).dragTo(track, { targetPosition: { x: xAt(t0), y: 20 } });
    const booking = rowEl.locator(`.bd-booking[data-job-id="${dragged}"]`);
    await booking.waitFor();
    assert.equal(await booking.getAttribute("data-start"), isoZ(t0));
    await page.locator(`#unassigned li[data-job-id="${dragged}"]`).waitFor({ state: "detached" });

    // --- a job nobody can do: refused on the row, with the rule's reason; nothing changes
    await page.locator(`#unassigned li[data-job-id="${impossible}"]`).dragTo(track, { targetPosition: { x: xAt(t0 + 3 * HOUR), y: 20 } });
    const refusal = rowEl.locator(".bd-refusal[role=alert]");
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /unobtainium/);
    assert.equal(await rowEl.locator(`.bd-booking[data-job-id="${impossible}"]`).count(), 0);
    assert.equal(await page.locator(`#unassigned li[data-job-id="${impossible}"]`).count(), 1);
    await shot(page, "10-board-refusal");

    // --- drag the booking two hours later: moved in one step
    await booking.dragTo(track, { sourcePosition: { x: 2, y: 10 }, targetPosition: { x: xAt(t0 + 2 * HOUR), y: 20 } });
    await page.waitForFunction(
      ([id, at]) => document.querySelector(`.bd-booking[data-job-id="${id}"]`)?.getAttribute("data-start") === at,
      [dragged, isoZ(t0 + 2 * HOUR)],
      { timeout: WAIT },
    );
    await page.locator(".bd-refusal").waitFor({ state: "detached" });
    const live1 = (await api("GET", `/contractors/${contractor.id}/assignments?from=${isoZ(from)}&to=${isoZ(to)}`)).body;
    const ofDragged = (live1.items ?? live1).filter((a) => a.jobId === dragged);
    assert.equal(ofDragged.length, 1, "one live booking of the moved job");
    assert.equal(ofDragged[0].startUtc, isoZ(t0 + 2 * HOUR));

    // --- another client books a job: it appears at once, no reload
    const made = await api("POST", "/assignments", { jobId: remote, contractorId: contractor.id, startUtc: isoZ(t0 + 4 * HOUR), endUtc: isoZ(t0 + 5 * HOUR), requestId: null });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await rowEl.locator(`.bd-booking[data-job-id="${remote}"]`).waitFor();
    assert.equal(await page.evaluate(() => window.__notReloaded), true, "the board was not reloaded");

    // --- the keyboard's way: Assign…, then Unassign from the booking's details
    await page.getByRole("button", { name: "Assign Board: keyboard job" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: /Assign Board: keyboard job/ });
    await dialog.waitFor();
    await dialog.getByLabel("Contractor").selectOption(contractor.id);
    await dialog.getByLabel("Date").fill(date);
    const hm = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(t0));
    await dialog.getByLabel("Start").fill(hm);
    await dialog.getByLabel("Start").press("Enter");
    const keyedBooking = rowEl.locator(`.bd-booking[data-job-id="${keyed}"]`);
    await keyedBooking.waitFor();
    assert.equal(await keyedBooking.getAttribute("data-start"), isoZ(t0));
    await keyedBooking.focus();
    await page.keyboard.press("Enter");
    await page.locator("#board-tip").getByRole("button", { name: "Unassign" }).click();
    await keyedBooking.waitFor({ state: "detached" });
    await page.locator(`#unassigned li[data-job-id="${keyed}"]`).waitFor();

    // --- plan the period: progress, the proposal over the rows, before/after, apply
    await page.getByLabel("Plan search time").selectOption("3");
    const ready = page.waitForResponse(
      async (r) => /\/api\/v1\/plans\/[0-9a-f-]{36}$/.test(r.url()) && r.ok() && (await r.json()).status === "ready",
      { timeout: 60_000 },
    );
    await page.getByRole("button", { name: "Plan this period" }).click();
    await page.locator('#plan-panel[data-status="running"]').waitFor();
    const proposal = await (await ready).json();
    await page.locator('#plan-panel[data-status="ready"]').waitFor();
    assert.match(await page.locator("#plan-panel h2").textContent(), /Proposed plan: [1-9]\d* more job/);
    await page.locator("#plan-kpis").waitFor();
    // The proposal for our job, dashed on the row of whoever the plan gives it to.
    const taker = proposal.routes.find((r) => r.visits.some((v) => v.jobId === planned))?.contractorId;
    assert.ok(taker, `the plan places "${"Board: left for the plan"}": ${JSON.stringify(proposal.unassigned)}`);
    const takerName = (await api("GET", `/contractors/${taker}`)).body.name;
    await page.getByLabel("Filter contractors").fill(takerName);
    const takerRow = page.locator(`.bd-row[data-contractor-id="${taker}"]`);
    await takerRow.locator(`.bd-planned[data-job-id="${planned}"]`).waitFor();
    await shot(page, "11-board-plan");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator("#plan-panel").waitFor({ state: "hidden" });
    await takerRow.locator(`.bd-booking[data-job-id="${planned}"]`).waitFor();
    assert.equal(await page.locator(".bd-track .bd-planned").count(), 0, "the preview is gone once applied");

    // --- the week, everyone
    await page.getByLabel("Filter contractors").fill("");
    await page.getByRole("button", { name: "Week" }).click();
    await page.waitForURL(/days=7/);
    await page.locator(".bd-row").first().waitFor();
    await shot(page, "12-board-week");

    assert.deepEqual(errors, [], "no script errors");
    await context.close();
  }));
});

describe("schedule board after the connection drops", () => {

  const demo = suite.demo("board-reconnect", 40);

  test("shows the state, reconnects, and re-fetches what it missed", suite.needsBrowser(async () => {
    const errors = [];
    const { base, port } = demo.server;
    const { token } = (await callApi(base, "POST", "/dev/token", null, { role: "dispatcher", region: "west" })).body;
    const zone = (await callApi(base, "GET", "/regions/west", token)).body.timeZone;
    const week = await callApi(base, "GET", `/regions/west/schedule?from=${isoZ(Date.now() + 24 * HOUR)}&to=${isoZ(Date.now() + 8 * 24 * HOUR)}`, token);
    const found = freeStretch(week.body, zone, 2);
    assert.ok(found, "some demo contractor has two free working hours in the coming week");
    const { row, start, date } = found;
    const job = await callApi(base, "POST", "/jobs", token, {
      region: "west",
      title: "Board: booked while offline",
      location: row.contractor.location,
      requiredSkills: [{ name: row.contractor.skills[0].name, minLevel: 1 }],
      priority: "normal",
      windowStartUtc: isoZ(start),
      windowEndUtc: isoZ(start + 2 * HOUR),
      durationMinutes: 60,
    });
    assert.equal(job.status, 201, JSON.stringify(job.body));

    const { context, page } = await newPage(suite.browser, errors);
    await page.goto(`${base}/`);
    await page.getByRole("button", { name: /Dispatcher of West/ }).click();
    await page.waitForURL(`${base}/dispatch/west`);
    await page.goto(`${base}/board/west?date=${date}&days=1`);
    await live(page);
    await page.locator(`#unassigned li[data-job-id="${job.body.id}"]`).waitFor();

    // The service goes away: the header says so.
    demo.server.stop();
    await page.waitForSelector('.link[data-state="reconnecting"], .link[data-state="offline"]');

    // Meanwhile the job is booked by a node that holds its events, and the service comes
    // back holding events too: the board can only learn of it by re-fetching.
    const side = await startServer(demo.database, undefined, { extra: ["--hold-events"] });
    const made = await callApi(side.base, "POST", "/assignments", token, {
      jobId: job.body.id, contractorId: row.contractor.id, startUtc: isoZ(start), endUtc: isoZ(start + HOUR),
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    side.stop();
    demo.server = await startServer(demo.database, undefined, { port, extra: ["--hold-events"] });

    await live(page);
    await page.getByLabel("Filter contractors").fill(row.contractor.name);
    await page.locator(`.bd-row[data-contractor-id="${row.contractor.id}"] .bd-booking[data-job-id="${job.body.id}"]`).waitFor();
    await page.locator(`#unassigned li[data-job-id="${job.body.id}"]`).waitFor({ state: "detached" });
    assert.deepEqual(errors, []);
    await context.close();
  }));
});
