// End to end: the first screen's "Try the demo" on the built site served under a sub-path (as on
// any static host), with a CI-sized demo (6 images per class, 1 epoch, 200 t-SNE iterations):
// the embedded images load into step 1, training runs in step 3, the analysis in step 4, and
// Explore ends with three non-blank maps, a filled ambiguity table and a confusion matrix.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, launchChromium, serveDist, waitForBackend } from "./helpers.mjs";

let server;
before(async () => { server = await serveDist({ prefix: "/some/prefix/" }); });
after(async () => { await server?.close(); });

test("Try the demo: the whole workflow in one click, under a sub-path", { timeout: 900_000 }, async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = [];
    const missing = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("response", (r) => { if (r.status() >= 400) missing.push(`${r.status()} ${r.url()}`); });
    await page.goto(`${server.url}?backend=cpu`);
    await waitForBackend(page);
    // The first screen says what the page does and that nothing leaves the machine.
    assert.match(await page.textContent("#welcome"), /Nothing leaves your machine/);
    assert.equal(await page.title(), "layerlens — see how a CNN sees your images");

    await page.click("#welcome summary");
    await page.fill("#demo-per-class", "6");
    await page.fill("#demo-epochs", "1");
    await page.fill("#analysis-iterations", "200");
    await page.click("#try-demo");
    await page.waitForFunction(() => document.querySelector("#demo-status").dataset.step === "training", null, { timeout: 120_000 });
    assert.match(await page.textContent("#dataset-summary"), /^36 images in 6 classes\./);
    assert.equal(await page.inputValue("#epochs"), "1", "the demo's settings are in the training fields");
    await page.waitForFunction(() => ["done", "failed"].includes(document.querySelector("#demo-status").dataset.step)
      || document.querySelector("#train-error, #analysis-error"), null, { timeout: 840_000, polling: 500 });
    for (const id of ["#train-error", "#analysis-error"]) {
      const error = await page.$(id);
      assert.equal(error, null, error ? await error.textContent() : "");
    }
    assert.equal(await page.$eval("#demo-status", (e) => e.dataset.step), "done");

    // Explore: three maps with a point per validation image, the table and the matrix.
    const n = Number(await page.$eval("#map-0", (c) => c.dataset.points));
    assert.ok(n >= 12, `${n} validation images`);
    for (const id of ["#map-0", "#map-1", "#map-2", "#large-map"]) {
      assert.equal(Number(await page.$eval(id, (c) => c.dataset.points)), n, id);
      const inked = await page.$eval(id, (canvas) => {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) if (Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 60) coloured++;
        return coloured;
      });
      assert.ok(inked > 50, `${id} shows coloured points (${inked} pixels)`);
    }
    assert.ok((await page.$$("#ambiguity-table .ambiguity-row")).length >= 10, "the ambiguity table is filled");
    const cells = await page.$$eval("#explore-confusion td.cell", (tds) => tds.map((td) => parseInt(td.textContent, 10)));
    assert.equal(cells.length, 36, "a 6 × 6 confusion matrix");
    assert.equal(cells.reduce((a, b) => a + b, 0), n, "every validation image counted once");
    // The one expected miss: this site ships no pretrained weights (no weights/manifest.json).
    assert.deepEqual(missing.filter((m) => !m.endsWith("/some/prefix/weights/manifest.json")), [],
      "every file the page asked for exists under the sub-path");
    assert.deepEqual(errors, []);
    await mkdir(join(ROOT, "tests/e2e/artifacts"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "tests/e2e/artifacts/demo-explore.png") });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(ROOT, "tests/e2e/artifacts/first-screen.png") });
  } finally {
    await browser.close();
  }
});

test("offline: after a first visit the page loads and the demo runs with the network off", { timeout: 900_000 }, async () => {
  const site = await serveDist({ prefix: "/some/prefix/" });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${site.url}?backend=cpu`);
    await waitForBackend(page);
    // The service worker is active and has cached the demo.
    await page.waitForFunction(async () => {
      const registration = await navigator.serviceWorker.ready;
      const cached = await caches.match(new URL("demo/manifest.json", location.href).href);
      return registration.active && cached !== undefined;
    }, null, { timeout: 120_000, polling: 500 });
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });

    // The network goes away: the host is gone and the browser is offline.
    await site.close();
    await context.setOffline(true);
    await page.reload();
    await waitForBackend(page);
    assert.match(await page.textContent("#welcome"), /Nothing leaves your machine/);
    await page.click("#welcome summary");
    await page.fill("#demo-per-class", "6");
    await page.fill("#demo-epochs", "1");
    await page.fill("#analysis-iterations", "100");
    await page.click("#try-demo");
    await page.waitForFunction(() => ["done", "failed"].includes(document.querySelector("#demo-status").dataset.step)
      || document.querySelector("#train-error, #analysis-error"), null, { timeout: 840_000, polling: 500 });
    assert.equal(await page.$eval("#demo-status", (e) => e.dataset.step), "done", await page.textContent("#demo-status"));
    assert.match(await page.textContent("#dataset-summary"), /^36 images in 6 classes\./);
    assert.ok(Number(await page.$eval("#map-2", (c) => c.dataset.points)) >= 12);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await site.close().catch(() => {});
  }
});
