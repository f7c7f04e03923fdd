// The API reference page at /api/v1/docs, as an integrator uses it: the real `dispatch` binary
// (with a real secret) serves it from the binary; Debian's Chromium, driven by playwright-core,
//
//   * renders the served OpenAPI document (every operation listed), loading nothing from any
//     other origin and breaking no Content-Security-Policy rule;
//   * pastes a token under "Authorize" and runs "Try it out" on an operation (200 with the data),
//     and sees the typed 401 problem without one;
//   * follows the console's "API docs" link after signing in there with a pasted token, and finds
//     that session's token already filled in.
//
// Screenshots: artifacts/screenshots/07-api-docs.png, 08-api-docs-try-it-out.png (SCREENSHOT_DIR
// overrides).
// Chromium: /usr/bin/chromium or DISPATCH_CHROMIUM; never downloaded. Without it the test fails
// when CI=true and is skipped, loudly, otherwise.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DISPATCH_BIN, IN_CI, SCREENSHOTS, WAIT, launch, serverEnv, startServer } from "../lib/harness.mjs";

const SECRET = "api-docs-browser-secret";

let dir;
let env;
let server;
let base;
let browser;
let problem;

before(async () => {
  assert.ok(existsSync(DISPATCH_BIN), `no dispatch binary at ${DISPATCH_BIN} (cargo build -p dispatch-server, or set DISPATCH_BIN)`);
  ({ browser, problem } = await launch());
  if (!browser) {
    if (IN_CI) throw new Error(`the API docs browser test cannot run: ${problem}`);
    console.warn(`\n*** SKIPPING the API docs browser test: ${problem} ***\n`);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), "dispatch-api-docs-"));
  const database = join(dir, "docs.db");
  env = serverEnv(database, SECRET);
  server = await startServer(database, SECRET);
  base = server.base;
});

after(async () => {
  await browser?.close();
  server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const token = (...args) => execFileSync(DISPATCH_BIN, ["token", ...args], { env }).toString().trim();

/** A page that records what it fetched from elsewhere, its errors and its CSP violations. */
async function watchedPage() {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const problems = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol !== "data:" && url.origin !== base) problems.push(`fetched from another origin: ${request.url()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // A refused 401 (an operation without a token) and the sign-in page's 404 (no development
    // sign-in with a real secret) are logged by Chromium as failed resources; anything else counts.
    if (message.type() === "error" && !/Failed to load resource: the server responded with a status of (401|404)/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return { context, page, problems };
}

/** Opens an operation, runs "Try it out", and returns the status Swagger UI shows. */
async function execute(page, operationId, tag) {
  const block = page.locator(`#operations-${tag}-${operationId}`);
  if (!(await block.locator(".execute").isVisible())) await block.locator(".opblock-summary").first().click();
  await block.locator(".execute").click();
  const status = block.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor();
  return { status: (await status.textContent()).trim(), body: (await block.locator(".live-responses-table .microlight, .live-responses-table pre").first().textContent()) ?? "" };
}

test("the API reference renders the served document and runs operations with a pasted token", async (t) => {
  if (!browser) {
    t.skip(`no browser: ${problem}`);
    return;
  }
  const admin = token("--role", "admin");
  const created = await fetch(`${base}/api/v1/regions`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ id: "west", name: "West", timeZone: "America/Los_Angeles" }),
  });
  assert.equal(created.status, 201);
  const document = await (await fetch(`${base}/api/v1/openapi.json`)).json();
  const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);

  const { context, page, problems } = await watchedPage();
  try {
    await page.goto(`${base}/api/v1/docs`);
    await page.locator(".swagger-ui .info .title").filter({ hasText: "Dispatch" }).waitFor();
    await page.locator(".opblock").first().waitFor();
    assert.equal(await page.locator(".opblock").count(), operations, "every operation of the document is listed");
    assert.match(await page.locator(".swagger-ui .info").textContent(), /Authentication/);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "07-api-docs.png") });

    // Without a token: the typed problem.
    const refused = await execute(page, "listRegions", "regions");
    assert.equal(refused.status, "401");
    assert.match(refused.body, /urn:dispatch:problem:unauthenticated/);

    // Paste a token under Authorize.
    await page.locator(".auth-wrapper .authorize").click();
    const dialog = page.locator(".modal-ux");
    await dialog.locator("input").first().fill(token("--role", "dispatcher", "--region", "west", "--sub", "docs-reader"));
    await dialog.locator("button.authorize").click();
    await dialog.locator("button.btn-done, button.close-modal").first().click();
    const answered = await execute(page, "listRegions", "regions");
    assert.equal(answered.status, "200");
    assert.match(answered.body, /"timeZone": "America\/Los_Angeles"/);

    await page.screenshot({ path: join(SCREENSHOTS, "08-api-docs-try-it-out.png") });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("the console links to it, and its session's token is filled in", async (t) => {
  if (!browser) {
    t.skip(`no browser: ${problem}`);
    return;
  }
  const { context, page, problems } = await watchedPage();
  try {
    await page.goto(`${base}/`);
    const link = page.getByRole("link", { name: "API docs" });
    assert.equal(await link.getAttribute("href"), "/api/v1/docs");
    await page.getByLabel("Token").fill(token("--role", "dispatcher", "--region", "west", "--sub", "console-user"));
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${base}/dispatch/west`);
    await page.getByRole("link", { name: "API docs" }).click();
    await page.waitForURL(`${base}/api/v1/docs`);
    await page.locator(".opblock").first().waitFor();
    // Authorized already: the operation runs with the console's token.
    const answered = await execute(page, "listRegions", "regions");
    assert.equal(answered.status, "200");
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
