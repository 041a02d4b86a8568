// End to end: the built site as a static host serves it. The first screen paints before the wasm
// has finished downloading; a new build deployed over an old one replaces it in the service
// worker's cache (the old hashed files are deleted) and is what loads offline afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIST, cspHash, inlineScripts, launchChromium, serveDist, waitForBackend } from "./helpers.mjs";

test("the first screen paints before the wasm has finished downloading", { timeout: 300_000 }, async () => {
  const site = await serveDist({ prefix: "/some/prefix/" });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    // A slow link (8 Mbit/s, 40 ms), so that downloading the wasm takes seconds.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions",
      { offline: false, latency: 40, downloadThroughput: 1_000_000, uploadThroughput: 1_000_000 });
    await page.goto(`${site.url}?backend=cpu`, { waitUntil: "commit" });
    await page.waitForSelector("#boot", { timeout: 60_000 });
    assert.match(await page.textContent("#boot"), /nothing uploaded/);
    await waitForBackend(page);
    const timing = await page.evaluate(() => ({
      paint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
      wasm: performance.getEntriesByType("resource").find((r) => r.name.endsWith(".wasm"))?.responseEnd,
    }));
    assert.ok(timing.paint !== undefined && timing.wasm !== undefined, JSON.stringify(timing));
    assert.ok(timing.wasm > 2_000, `the throttled wasm took ${timing.wasm} ms: the link is slow enough to tell`);
    assert.ok(timing.paint < timing.wasm, `first paint at ${timing.paint.toFixed(0)} ms, wasm downloaded at ${timing.wasm.toFixed(0)} ms`);
  } finally {
    await browser.close();
    await site.close();
  }
});

/** A copy of dist/ as the next build would be: its hashed JS and wasm under a new hash, and a
 * marker in the page, so the test can tell which build it is looking at. (The JS loads the wasm
 * by the address the page gives it.) */
async function nextBuild() {
  const dir = await mkdtemp(join(tmpdir(), "layerlens-next-build-"));
  await cp(DIST, dir, { recursive: true });
  const oldHash = (await readdir(dir)).map((f) => f.match(/^layerlens-web-([0-9a-f]{16})\.js$/)?.[1]).find(Boolean);
  assert.ok(oldHash, "dist/ holds trunk's hashed layerlens-web-<hash>.js");
  const newHash = oldHash.replace(/^./, (c) => (c === "0" ? "1" : "0"));
  for (const file of await readdir(dir)) {
    if (file.includes(oldHash)) await rename(join(dir, file), join(dir, file.replace(oldHash, newHash)));
  }
  // Only the page changes: the files keep their bytes (and so their subresource integrity).
  // Trunk's inline loader names the files, so its hash in the Content-Security-Policy is
  // recomputed, as scripts/lib/csp-hashes does for a real build.
  const page = await readFile(join(dir, "index.html"), "utf8");
  let next = page.replaceAll(oldHash, newHash);
  const [before, after] = [inlineScripts(page), inlineScripts(next)];
  assert.equal(before.length, 1, "one inline script: trunk's loader");
  assert.ok(page.includes(cspHash(before[0])), "the built page's policy allows its loader by hash");
  next = next.replace(cspHash(before[0]), cspHash(after[0]))
    .replace("<head>", '<head><meta name="layerlens-build" content="next" />');
  await writeFile(join(dir, "index.html"), next);
  return { dir, oldHash, newHash };
}

test("a new build replaces the cached one, and is what loads offline", { timeout: 300_000 }, async () => {
  const next = await nextBuild();
  const site = await serveDist({ prefix: "/some/prefix/" });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const cachedBuildFiles = () => page.evaluate(async () => {
      const names = [];
      for (const key of await caches.keys()) {
        for (const request of await (await caches.open(key)).keys()) names.push(request.url.split("/").pop());
      }
      return names.filter((name) => /\.(js|wasm)$/.test(name) && name.startsWith("layerlens-web-"));
    });
    const hashesIn = (names) => [...new Set(names.map((n) => n.match(/-([0-9a-f]{16})/)?.[1]))].sort();

    await page.goto(site.url);
    await waitForBackend(page);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await page.waitForFunction(async () => (await caches.keys()).length > 0, null, { timeout: 60_000 });
    assert.deepEqual(hashesIn(await cachedBuildFiles()), [next.oldHash], "the first visit cached its build");

    // The host now serves the next build; the page is reloaded online.
    site.serve(next.dir);
    await page.reload();
    await waitForBackend(page);
    assert.equal(await page.getAttribute('meta[name="layerlens-build"]', "content"), "next");
    await page.waitForFunction(async (oldHash) => {
      const names = [];
      for (const key of await caches.keys()) {
        for (const request of await (await caches.open(key)).keys()) names.push(request.url);
      }
      return !names.some((n) => n.includes(oldHash)) && names.some((n) => n.endsWith("_bg.wasm"));
    }, next.oldHash, { timeout: 60_000, polling: 250 });
    assert.deepEqual(hashesIn(await cachedBuildFiles()), [next.newHash], "only the new build is cached");

    // Offline, the new build is the one that loads, and it runs.
    await site.close();
    await context.setOffline(true);
    await page.reload();
    await waitForBackend(page);
    assert.equal(await page.getAttribute('meta[name="layerlens-build"]', "content"), "next");
    assert.match(await page.textContent("#welcome"), /Nothing leaves your machine/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await site.close().catch(() => {});
    await rm(next.dir, { recursive: true, force: true });
  }
});
