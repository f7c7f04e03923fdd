// Schedule board rendering benchmark: how long the board takes to fetch and draw a region's
// day (and three days, and a week) in Debian's Chromium, and how smoothly a region of a thousand
// contractors scrolls. Not a test (no pass/fail): figures for the README, taken on this machine.
//
//   node bench/board.mjs [--runs 7] [--sizes 150,1000]
//
// For each size, a fresh SQLite file gets `dispatch demo --contractors <size>` (that many per
// region), `dispatch serve` starts on it, a West dispatcher signs in through the page, and the
// board is loaded `runs` times per zoom. Reported per zoom, medians over the runs:
//   fetch  GET /api/v1/regions/west/schedule, answered and parsed
//   draw   building the rows in view (JavaScript)
//   paint  draw plus the browser's layout and paint (until the next frame)
// Then the rows are scrolled top to bottom, one step per frame: frame intervals (median, p95,
// worst) and the most row elements alive at once (virtualisation keeps it near the rows in view).
//
// DISPATCH_BIN picks the binary (a release build gives the service's real speed); the page's
// own work does not depend on it.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { DISPATCH_BIN, VIEWPORT, launch, serverEnv, startServer } from "../lib/harness.mjs";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const RUNS = Number(arg("runs", "7"));
const SIZES = arg("sizes", "150,1000").split(",").map(Number);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

const { browser, problem } = await launch();
if (!browser) {
  console.error(`cannot benchmark: ${problem}`);
  process.exit(1);
}
console.log(`schedule board benchmark: ${cpus().length} cores, Chromium headless ${VIEWPORT.width}x${VIEWPORT.height}, ${RUNS} runs, ${DISPATCH_BIN}`);
const dir = mkdtempSync(join(tmpdir(), "dispatch-board-bench-"));
try {
  for (const size of SIZES) {
    const database = join(dir, `board-${size}.db`);
    execFileSync(DISPATCH_BIN, ["demo", "--contractors", String(size)], { env: serverEnv(database) });
    const server = await startServer(database);
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    await page.goto(`${server.base}/`);
    await page.getByRole("button", { name: /Dispatcher of West/ }).click();
    await page.waitForURL(/\/dispatch\/west/);
    for (const days of [1, 3, 7]) {
      const fetch = [];
      const draw = [];
      const paint = [];
      for (let run = 0; run < RUNS + 1; run++) {
        await page.goto(`${server.base}/board/west?days=${days}`);
        await page.waitForSelector("main[data-paint-ms]");
        const figures = await page.evaluate(() => ({ ...document.querySelector("main").dataset }));
        // The first load warms the caches (and the server's region state): not counted.
        if (run === 0) continue;
        fetch.push(Number(figures.fetchMs));
        draw.push(Number(figures.drawMs));
        paint.push(Number(figures.paintMs));
      }
      console.log(
        `${size} contractors, ${days} day${days > 1 ? "s" : ""}: fetch ${median(fetch).toFixed(1)} ms, draw ${median(draw).toFixed(1)} ms, ` +
          `draw+paint ${median(paint).toFixed(1)} ms, fetch+draw+paint ${median(fetch.map((f, i) => f + paint[i])).toFixed(1)} ms (medians of ${RUNS})`,
      );
    }
    await page.goto(`${server.base}/board/west?days=1`);
    await page.waitForSelector("main[data-paint-ms]");
    const scroll = await page.evaluate(
      () =>
        new Promise((done) => {
          const scroller = document.getElementById("board-rows");
          const intervals = [];
          let most = 0;
          let last = performance.now();
          const step = () => {
            const now = performance.now();
            intervals.push(now - last);
            last = now;
            most = Math.max(most, scroller.querySelectorAll(".bd-row").length);
            if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) {
              done({ intervals: intervals.slice(1), most, rows: scroller.scrollHeight / 46 });
              return;
            }
            scroller.scrollTop += 200;
            requestAnimationFrame(step);
          };
          requestAnimationFrame(step);
        }),
    );
    console.log(
      `${size} contractors, scrolled top to bottom in ${scroll.intervals.length} frames: frame interval median ${median(scroll.intervals).toFixed(1)} ms, ` +
        `p95 ${percentile(scroll.intervals, 95).toFixed(1)} ms, worst ${Math.max(...scroll.intervals).toFixed(1)} ms; at most ${scroll.most} row elements alive of ${Math.round(scroll.rows)}`,
    );
    await context.close();
    server.stop();
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
