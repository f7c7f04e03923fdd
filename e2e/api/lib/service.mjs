// The real `dispatch serve` on a fresh SQLite file in a temporary folder, on a free port, with a
// secret of its own; tokens come from `dispatch token` (the CLI an integrator would use).
// Shared by the document test and the generated-client tests of this folder.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** This folder (e2e/api). */
export const API_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The binary under test: $DISPATCH_BIN (scripts/test sets it), else the workspace's debug build. */
export const DISPATCH_BIN = (() => {
  const configured = process.env.DISPATCH_BIN || "../../target/debug/dispatch";
  return isAbsolute(configured) ? configured : resolve(API_DIR, configured);
})();

const SECRET = "api-e2e-secret";
const START_LIMIT_MS = 20_000;

/** A TCP port nobody listens on right now (shared by the e2e suites and the soak). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts the service; resolves once `/readyz` answers 200.
 * @returns {Promise<{base: string, token: (...args: string[]) => string, stop: () => Promise<void>}>}
 */
export async function startDispatch() {
  const dir = mkdtempSync(join(tmpdir(), "dispatch-api-e2e-"));
  const env = {
    ...process.env,
    DISPATCH_DATABASE_URL: `sqlite://${join(dir, "dispatch.db")}`,
    DISPATCH_JWT_SECRET: SECRET,
    RUST_LOG: process.env.RUST_LOG || "warn",
  };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(DISPATCH_BIN, ["serve", "--addr", `127.0.0.1:${port}`], { env, stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  const deadline = Date.now() + START_LIMIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dispatch exited with ${child.exitCode} before it was ready`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`dispatch was not ready within ${START_LIMIT_MS} ms`);
    await sleep(50);
  }
  return {
    base,
    token: (...args) => execFileSync(DISPATCH_BIN, ["token", ...args], { env }).toString().trim(),
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
