// How soon the page shows something and how soon it can be used, in headless Chromium, from a
// cold cache each run (a fresh browser context: no HTTP cache, no service worker):
// - first paint: the first contentful paint (the static first screen of index.html);
// - wasm downloaded: when the wasm's response ended;
// - interactive: when the app has mounted and "Try the demo" can be clicked.
// On loopback, and on a throttled link (8 Mbit/s, 40 ms) where the download dominates.
// Prints the median of the runs (milliseconds from navigation start).
//
//   node benches/load_bench.mjs [runs]        (after ./scripts/serve or trunk build --release)
import { launchChromium, serveDist } from "../tests/e2e/helpers.mjs";

const runs = Number(process.argv[2] || 5);
const LINKS = {
  loopback: null,
  "8 Mbit/s, 40 ms": { offline: false, latency: 40, downloadThroughput: 1_000_000, uploadThroughput: 1_000_000 },
};

const server = await serveDist();
const browser = await launchChromium();
try {
  for (const [link, conditions] of Object.entries(LINKS)) {
    const samples = [];
    for (let run = 0; run < runs; run++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      if (conditions) {
        const cdp = await context.newCDPSession(page);
        await cdp.send("Network.enable");
        await cdp.send("Network.emulateNetworkConditions", conditions);
      }
      await page.addInitScript(() => {
        new MutationObserver((_, observer) => {
          if (document.querySelector("#try-demo")) {
            window.__interactive = performance.now();
            observer.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
      });
      await page.goto(`${server.url}?backend=cpu`);
      await page.waitForFunction(() => window.__interactive !== undefined, null, { timeout: 300_000 });
      samples.push(await page.evaluate(() => ({
        paint: performance.getEntriesByName("first-contentful-paint")[0].startTime,
        wasm: performance.getEntriesByType("resource").find((r) => r.name.endsWith(".wasm")).responseEnd,
        interactive: window.__interactive,
      })));
      await context.close();
    }
    const median = (key) => {
      const sorted = samples.map((s) => s[key]).sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)].toFixed(0);
    };
    console.log(`${link}: first paint ${median("paint")} ms, wasm downloaded ${median("wasm")} ms, interactive ${median("interactive")} ms (median of ${runs})`);
  }
} finally {
  await browser.close();
  await server.close();
}
