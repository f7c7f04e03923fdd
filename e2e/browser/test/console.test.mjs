// The web pages end to end, as people use them: the real `dispatch` binary (development mode,
// demo data in a fresh SQLite file) serves the console at `/`; Debian's Chromium, driven by
// playwright-core, signs in through the page (no hand-made tokens) as
//
//   * a dispatcher of West, who recommends for a job and assigns the top candidate, then lets
//     the service auto-assign another job;
//   * that contractor, whose page shows the assignment without reloading;
//   * a dispatcher of Central, who sees none of it.
//
// A second server with a real secret shows the token form instead of the demo identities.
// Screenshots of the main screens go to artifacts/screenshots/ (SCREENSHOT_DIR overrides).
//
// Chromium: /usr/bin/chromium (Debian's package, which .ci/run installs) or DISPATCH_CHROMIUM.
// No browser is ever downloaded. Without it the tests fail when CI=true and are skipped,
// loudly, otherwise.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  browserSuite,
  live,
  newPage,
  shot,
  startServer,
} from "../lib/harness.mjs";

const suite = browserSuite("the browser tests");

describe("dispatcher console and contractor view, live over SignalR", () => {
  const errors = [];

  const demo = suite.demo("demo", 80);

  test("recommend, assign, and everyone who should sees it at once", suite.needsBrowser(async () => {
    const { base } = demo.server;

    // --- the dispatcher of West signs in through the page
    const west = await newPage(suite.browser, errors);
    await west.page.goto(`${base}/`);
    await west.page.getByRole("button", { name: /Dispatcher of West/ }).waitFor();
    await shot(west.page, "01-sign-in");
    await west.page.getByRole("button", { name: /Dispatcher of West/ }).click();
    await west.page.waitForURL(`${base}/dispatch/west`);
    await live(west.page);
    assert.equal(await west.page.evaluate(() => JSON.parse(sessionStorage.getItem("dispatch.session")).role), "dispatcher");

    // --- opens jobs from the bottom of the queue (low priority: windows of days, so some
    // contractor has working hours in them at any time of day) and asks for recommendations
    // until one has candidates (with 80 contractors a region, a rare skill may have none)
    const queued = await west.page.locator("#queue button[data-job-id]").count();
    assert.ok(queued >= 2, "the demo has open jobs");
    let jobId;
    let jobTitle;
    const topRow = west.page.locator("#candidates tbody tr").first();
    for (let i = 0; i < Math.min(queued, 20) && !jobId; i++) {
      const item = west.page.locator("#queue button[data-job-id]").nth(queued - 1 - i);
      const id = await item.getAttribute("data-job-id");
      const title = (await item.locator(".queue-title").textContent()).trim();
      await item.click();
      await west.page.waitForURL(`${base}/dispatch/west/jobs/${id}`);
      await west.page.getByRole("button", { name: "Recommend", exact: true }).click();
      // The ranking appears when RecommendationReady arrives: no reload, no polling.
      await west.page.locator("#candidates, #excluded, #recommendation .message-error").first().waitFor();
      if ((await west.page.locator("#candidates").count()) > 0) {
        assert.match(await west.page.locator("#excluded summary").textContent(), /^Excluded \(\d+\)/);
        jobId = id;
        jobTitle = title;
      }
    }
    assert.ok(jobId, "one of the first jobs has candidates");
    const contractorId = await topRow.getAttribute("data-contractor-id");
    const contractorName = (await topRow.locator("th").first().evaluate((th) => th.firstChild.textContent)).trim();
    assert.match(await topRow.locator(".score").textContent(), /^\d+\.\d$/);
    assert.equal(await topRow.locator(".factor").count(), 5, "a breakdown of the five factors");
    assert.ok((await west.page.locator(".plot-point").count()) >= 1, "candidates on the location plot");
    await west.page.locator('#timeline .tl-proposed').first().waitFor();
    assert.match(await west.page.locator("#event-log").textContent(), /RecommendationReady/);
    await shot(west.page, "02-console-recommendation");

    // --- a dispatcher of Central, in another browser context
    const central = await newPage(suite.browser, errors);
    await central.page.goto(`${base}/`);
    await central.page.getByRole("button", { name: /Dispatcher of Central/ }).click();
    await central.page.waitForURL(`${base}/dispatch/central`);
    await live(central.page);
    await central.page.locator("#queue button[data-job-id]").first().waitFor();

    // --- the top candidate signs in as a contractor, in a third context
    const contractor = await newPage(suite.browser, errors);
    await contractor.page.goto(`${base}/`);
    await contractor.page.getByLabel("Region", { exact: true }).selectOption("west");
    await contractor.page.getByLabel("Contractor", { exact: true }).selectOption(contractorId);
    await contractor.page.getByRole("button", { name: "Sign in as contractor" }).click();
    await contractor.page.waitForURL(`${base}/contractor/${contractorId}`);
    await live(contractor.page);
    await contractor.page.locator("#upcoming h2").waitFor();
    await contractor.page.evaluate(() => {
      window.__notReloaded = true;
    });
    assert.equal(await contractor.page.locator(`#upcoming li.fresh`).count(), 0);

    // --- the dispatcher assigns the top candidate by hand
    await topRow.getByRole("button", { name: /^Assign / }).click();

    // The contractor's page shows it without reloading.
    const fresh = contractor.page.locator("#assignment-list li.fresh", { hasText: jobTitle });
    await fresh.waitFor();
    assert.equal(await contractor.page.evaluate(() => window.__notReloaded), true, "the contractor page was not reloaded");
    await contractor.page.locator("#week .tl-new").first().waitFor();
    await shot(contractor.page, "04-contractor-view");

    // The dispatcher's queue and cards update.
    await west.page.locator(`#queue button[data-job-id="${jobId}"]`).waitFor({ state: "detached" });
    assert.equal(await west.page.locator("#queue button[data-job-id]").count(), queued - 1);
    const card = west.page.locator(`#assigned li[data-job-id="${jobId}"]`);
    await card.waitFor();
    assert.match(await card.textContent(), new RegExp(`to ${contractorName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    assert.equal((await west.page.locator("#job-status").textContent()).trim(), "assigned");
    await west.page.locator(`#candidates tr.assigned-row[data-contractor-id="${contractorId}"]`).waitFor();
    await west.page.locator(`#timeline .tl-new`).first().waitFor();
    assert.match(await west.page.locator("#event-log").textContent(), /JobAssigned/);
    await shot(west.page, "03-console-assigned");

    // --- auto-assign: the service picks the top candidate (again from the bottom of the queue)
    let autoId;
    for (let i = 0; i < 20 && !autoId; i++) {
      const count = await west.page.locator("#queue button[data-job-id]").count();
      const item = west.page.locator("#queue button[data-job-id]").nth(count - 1 - i);
      const id = await item.getAttribute("data-job-id");
      await item.click();
      await west.page.waitForURL(`${base}/dispatch/west/jobs/${id}`);
      await west.page.getByRole("button", { name: "Auto-assign" }).click();
      await west.page.locator(`#candidates, #excluded, #recommendation .message-error`).first().waitFor();
      if ((await west.page.locator("#candidates").count()) > 0) autoId = id;
    }
    assert.ok(autoId, "one of the jobs could be auto-assigned");
    const autoCard = west.page.locator(`#assigned li[data-job-id="${autoId}"]`);
    await autoCard.waitFor();
    assert.match(await autoCard.textContent(), /auto/);
    await west.page.locator(`#queue button[data-job-id="${autoId}"]`).waitFor({ state: "detached" });

    // --- the dispatcher of Central saw nothing of West
    await sleep(1_000);
    assert.match(await central.page.locator("#event-log").textContent(), /No events yet/);
    assert.equal(await central.page.locator(`[data-job-id="${jobId}"]`).count(), 0);
    assert.equal(await central.page.locator("#assigned li[data-job-id]").count(), 0);
    await shot(central.page, "05-other-region");

    // --- West's dispatcher cannot open Central's console
    await west.page.goto(`${base}/dispatch/central`);
    await west.page.getByRole("heading", { name: "Not your region" }).waitFor();

    assert.deepEqual(errors, [], "no script errors on any page");
    for (const { context } of [west, central, contractor]) await context.close();
  }));
});

describe("after the connection drops", () => {

  const demo = suite.demo("reconnect", 80);

  test("the console shows the state, reconnects, and re-fetches what it missed", suite.needsBrowser(async () => {
      const errors = [];
      const { base, port } = demo.server;
      const { context, page } = await newPage(suite.browser, errors);
      await page.goto(`${base}/`);
      await page.getByRole("button", { name: /Dispatcher of West/ }).click();
      await live(page);
      await page.locator("#queue button[data-job-id]").first().waitFor();
      const before = await page.locator("#queue button[data-job-id]").count();

      // The service goes away: the header says so.
      demo.server.stop();
      await page.waitForSelector('.link[data-state="reconnecting"], .link[data-state="offline"]');
      await shot(page, "07-console-reconnecting");

      // Meanwhile a job is assigned (by another node on the same database, which holds its
      // events in the outbox), then the service comes back, still holding events: the console
      // can only learn of the assignment by re-fetching after it reconnects.
      const side = await startServer(demo.database, undefined, { extra: ["--hold-events"] });
      const api = async (method, path, token, body) => {
        const response = await fetch(`${side.base}/api/v1${path}`, {
          method,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: response.status, body: await response.json().catch(() => null) };
      };
      const { token } = (await api("POST", "/dev/token", null, { role: "dispatcher", region: "west" })).body;
      const open = (await api("GET", "/jobs?region=west&status=open&limit=200", token)).body.items;
      let assignedJob;
      for (const job of open.reverse().slice(0, 20)) {
        const asked = await api("POST", "/recommendations", token, { jobId: job.id, limit: 3 });
        assert.equal(asked.status, 202);
        let result;
        for (let i = 0; i < 100; i++) {
          result = (await api("GET", `/recommendations/${asked.body.requestId}`, token)).body;
          if (result.status !== "pending") break;
          await sleep(100);
        }
        const top = result.candidates?.[0];
        if (!top) continue;
        const made = await api("POST", "/assignments", token, {
          jobId: job.id, contractorId: top.contractorId, startUtc: top.startUtc, endUtc: top.endUtc, requestId: asked.body.requestId,
        });
        assert.equal(made.status, 201, JSON.stringify(made.body));
        assignedJob = job.id;
        break;
      }
      assert.ok(assignedJob, "a job could be assigned");
      side.stop();
      demo.server = await startServer(demo.database, undefined, { port, extra: ["--hold-events"] });

      await live(page);
      await page.locator(`#queue button[data-job-id="${assignedJob}"]`).waitFor({ state: "detached" });
      assert.equal(await page.locator("#queue button[data-job-id]").count(), before - 1);
      assert.doesNotMatch(await page.locator("#event-log").textContent(), /JobAssigned/, "learnt by re-fetching, not by an event");
      assert.deepEqual(errors, []);
      await context.close();
  }));
});

describe("with a real secret", () => {
  let server;

  before(async () => {
    if (!suite.browser) return;
    server = await startServer(join(suite.dir, "secret.db"), "browser-e2e-secret");
  });

  after(() => server?.stop());

  test("the page asks for a token and shows what is wrong with a bad one", suite.needsBrowser(async () => {
    const { base } = server;
    assert.equal((await fetch(`${base}/api/v1/dev/identities`)).status, 404);
    const errors = [];
    const { context, page } = await newPage(suite.browser, errors);
    await page.goto(`${base}/`);
    await page.getByLabel("Token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "three dot-separated parts" }).waitFor();
    await shot(page, "06-sign-in-with-token");
    // A token the server does not accept: the API's 401 becomes a message, not a blank page.
    const forged = ["e30", btoa(JSON.stringify({ sub: "x", role: "dispatcher", regions: ["west"], exp: 4102444800 })).replace(/=+$/, ""), "c2ln"].join(".");
    await page.getByLabel("Token").fill(forged);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: /sign in again|Unauthorized/ }).first().waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  }));
});
