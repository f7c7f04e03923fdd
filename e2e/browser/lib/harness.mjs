// What the browser suites share: the dispatch binary and Chromium they use, starting servers on
// free ports with a fresh database each, pages whose script errors fail the test, screenshots,
// and a photograph of every open page when a test fails.
//
// Chromium: /usr/bin/chromium (Debian's package, which .ci/run installs) or DISPATCH_CHROMIUM.
// No browser is ever downloaded. Without it the suites fail when CI=true and are skipped,
// loudly, otherwise.

import { after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";
import { freePort } from "../../api/lib/service.mjs";

const SUITE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ROOT = resolve(SUITE, "../..");

/** The binary under test. */
export const DISPATCH_BIN = (() => {
  const configured = process.env.DISPATCH_BIN || "../../target/debug/dispatch";
  return isAbsolute(configured) ? configured : resolve(SUITE, configured);
})();
/** Where screenshots go (CI keeps them as artifacts). */
export const SCREENSHOTS = process.env.SCREENSHOT_DIR ? resolve(process.env.SCREENSHOT_DIR) : join(ROOT, "artifacts/screenshots");
/** Whether a missing browser is a failure rather than a skip. */
export const IN_CI = process.env.CI === "true";
/** The longest any single wait may take. */
export const WAIT = 20_000;
/** A laptop-sized window. */
export const VIEWPORT = { width: 1366, height: 900 };

const CHROMIUM = process.env.DISPATCH_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The environment of a server: its own database, and a secret only when asked for. */
export function serverEnv(database, secret) {
  const env = { ...process.env, DISPATCH_DATABASE_URL: `sqlite://${database}`, RUST_LOG: process.env.RUST_LOG || "warn" };
  delete env.DISPATCH_JWT_SECRET;
  if (secret) env.DISPATCH_JWT_SECRET = secret;
  return env;
}

/** Starts `dispatch serve` (on a free port unless given one); resolves to {base, port, stop}. */
export async function startServer(database, secret, { port: fixed, extra = [] } = {}) {
  const port = fixed ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(DISPATCH_BIN, ["serve", "--addr", `127.0.0.1:${port}`, ...extra], {
    env: serverEnv(database, secret),
    stdio: process.env.DISPATCH_SERVER_LOG ? "inherit" : "ignore",
  });
  const deadline = Date.now() + WAIT;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`dispatch serve exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("dispatch serve did not become ready");
    await sleep(100);
  }
  return { base, port, stop: () => child.kill("SIGKILL") };
}

/** Launches Chromium, or says why it cannot: `{browser}` or `{problem}`. */
export async function launch() {
  if (!existsSync(CHROMIUM)) {
    return { problem: `no Chromium at ${CHROMIUM} (apt-get install chromium, or set DISPATCH_CHROMIUM)` };
  }
  try {
    return { browser: await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: WAIT }) };
  } catch (error) {
    return { problem: `Chromium at ${CHROMIUM} did not start: ${error.message.split("\n")[0]}` };
  }
}

/** Saves a full-page screenshot as `<name>.png`. */
export async function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Pages opened by the running test, to photograph when it fails, and their console errors. */
const opened = [];
const consoleErrors = [];

/** A new browser context with its own sessionStorage; page errors go to `errors`. */
export async function newPage(browser, errors) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      const line = `[browser console] ${page.url()}: ${message.text()}`;
      if (process.env.DISPATCH_BROWSER_LOG) console.log(line);
      consoleErrors.push(line);
    }
  });
  opened.push(page);
  return { context, page };
}

/** Runs a test body; on failure keeps a screenshot of every open page (failure-N.png). */
export async function photographFailures(body) {
  try {
    await body();
  } catch (error) {
    // Expected ones too (a refused token, a dropped connection): read them with the failure.
    for (const line of consoleErrors) console.log(line);
    let n = 0;
    for (const page of opened) {
      if (!page.isClosed()) await shot(page, `failure-${++n}`).catch(() => {});
    }
    throw error;
  } finally {
    opened.length = 0;
    consoleErrors.length = 0;
  }
}

/** Resolves when the page's connection badge says the hub connection is live. */
export const live = (page) => page.waitForSelector('.link[data-state="live"]');

/** A JSON call to the server's API: `{status, body}`. */
export async function callApi(base, method, path, token, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/**
 * The browser of a test file: launched before its tests, closed after them, with a temporary
 * folder for their databases. Without Chromium the file fails when CI=true and its tests are
 * skipped, loudly, otherwise. `test(name, suite.needsBrowser(body))` runs `body` photographed on
 * failure (or skips it without a browser).
 */
export function browserSuite(what) {
  const state = { browser: null, problem: null, dir: null };
  before(async () => {
    ({ browser: state.browser, problem: state.problem } = await launch());
    if (!state.browser) {
      const message = `${what} cannot run: ${state.problem}`;
      if (IN_CI) throw new Error(message);
      console.warn(`\n*** SKIPPING ${what}: ${state.problem} ***\n`);
    }
    assert.ok(existsSync(DISPATCH_BIN), `no dispatch binary at ${DISPATCH_BIN} (cargo build -p dispatch-server, or set DISPATCH_BIN)`);
    state.dir = mkdtempSync(join(tmpdir(), "dispatch-browser-"));
  });
  after(async () => {
    await state.browser?.close();
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
  });
  return {
    get browser() {
      return state.browser;
    },
    get dir() {
      return state.dir;
    },
    /**
     * In a `describe` block: a fresh database with demo data (`dispatch demo --contractors
     * <contractors>`) and `dispatch serve` on it, started before the block's tests and stopped
     * after them. `.server` may be replaced (a test that restarts it); `.database` is the file.
     */
    demo(name, contractors) {
      const demo = { server: null, database: null };
      before(async () => {
        if (!state.browser) return;
        demo.database = join(state.dir, `${name}.db`);
        execFileSync(DISPATCH_BIN, ["demo", "--contractors", String(contractors)], { env: serverEnv(demo.database) });
        demo.server = await startServer(demo.database);
      });
      after(() => demo.server?.stop());
      return demo;
    },
    needsBrowser(body) {
      return async (t) => {
        if (!state.browser) {
          t.skip(`no browser: ${state.problem}`);
          return;
        }
        await photographFailures(body);
      };
    },
  };
}
