// Frame times of the Explore view with many points: hover across the large map, pan it
// (shift-drag) and zoom it (wheel), on `?synthetic-points=N` (default 10,000) in headless
// Chromium. Prints, per interaction, the longest frame and the share of frames over 16.7 ms,
// from requestAnimationFrame timestamps, and the longest event handler → paint time.
//
//   node benches/explore_bench.mjs [N]        (after ./scripts/serve or trunk build --release)
import { launchChromium, serveDist } from "../tests/e2e/helpers.mjs";

const n = Number(process.argv[2] || 10_000);
const server = await serveDist();
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${server.url}?backend=cpu&synthetic-points=${n}`);
  await page.waitForFunction((n) => document.querySelector("#large-map")?.dataset.points === String(n), n, { timeout: 120_000 });
  await page.locator("#large-map").scrollIntoViewIfNeeded();
  const box = await page.locator("#large-map").boundingBox();
  // One frame loop per measurement: a loop stops as soon as a newer one starts.
  const frames = () => page.evaluate(() => {
    window.__frames = [];
    const loop = (window.__loop = (window.__loop || 0) + 1);
    let last = performance.now();
    const tick = (now) => { if (window.__stop || window.__loop !== loop) return; window.__frames.push(now - last); last = now; requestAnimationFrame(tick); };
    window.__stop = false;
    requestAnimationFrame(tick);
  });
  const collect = () => page.evaluate(() => { window.__stop = true; const f = window.__frames.slice(1); return f; });
  const report = (name, f, steps) => {
    const sorted = [...f].sort((a, b) => a - b);
    const over = f.filter((t) => t > 16.7 + 1).length;
    const late = f.map((t, i) => [t, i]).filter(([t]) => t > 16.7 + 1).map(([, i]) => i);
    console.log(`${name}: ${steps} events, ${f.length} frames; longest ${sorted.at(-1).toFixed(1)} ms, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms, ${over} frame(s) over 16.7 ms${late.length ? ` (frame ${late.join(", ")})` : ""}`);
  };

  // Baseline: the page left alone for as long as the hover takes, so that frames late for
  // reasons outside the page (the machine, the browser's own work) are told apart.
  await frames();
  await page.waitForTimeout(5_000);
  report("idle (baseline, 5 s)", await collect(), 0);

  // Hover: the mouse crosses the map in 300 steps (each finds the nearest point in the grid).
  await frames();
  const hoverStart = Date.now();
  const steps = 300;
  for (let i = 0; i < steps; i++) {
    await page.mouse.move(box.x + 20 + (i / steps) * (box.width - 40), box.y + box.height / 2 + 80 * Math.sin(i / 20));
  }
  report(`hover (${((Date.now() - hoverStart) / 1000).toFixed(1)} s)`, await collect(), steps);
  const hovered = await page.$("#map-tooltip");
  console.log(`tooltip shown at the end: ${hovered !== null}`);

  // Pan: shift-drag 200 px in 100 steps (every step redraws all points).
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.keyboard.down("Shift");
  await page.mouse.down();
  await frames();
  for (let i = 1; i <= 100; i++) await page.mouse.move(box.x + box.width / 2 + 2 * i, box.y + box.height / 2 + i);
  report("pan", await collect(), 100);
  await page.mouse.up();
  await page.keyboard.up("Shift");

  // Zoom: 40 wheel events in and out.
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await frames();
  for (let i = 0; i < 40; i++) await page.mouse.wheel(0, i < 20 ? -100 : 100);
  await page.waitForTimeout(100);
  report("zoom", await collect(), 40);
} finally {
  await browser.close();
  await server.close();
}
