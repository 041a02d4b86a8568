// End to end: sessions survive. After the demo (CI-sized) a reload offers the last session and
// restores the same ambiguity table, confusion matrix and map coordinates, exactly (compared as
// the exported CSVs); "Export session" then "Import session" in a fresh browser profile restores
// them too; damaged and foreign files are refused with a message; a full storage quota is
// reported and the session stays in the tab; "Forget this session" leaves nothing to restore.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, launchChromium, serveDist, waitForBackend } from "./helpers.mjs";

let server;
let browser;
let scratch;
before(async () => {
  server = await serveDist({ prefix: "/some/prefix/" });
  browser = await launchChromium();
  scratch = await mkdtemp(join(tmpdir(), "layerlens-session-"));
});
after(async () => {
  await browser?.close();
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** Downloads an export of the page (a button with `data-file`, or any selector) as bytes. */
async function downloaded(page, selector) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  return readFile(await download.path());
}

/** What Explore shows, in forms that compare exactly: the exported CSVs and the table rows. */
async function explored(page) {
  const files = {};
  for (const name of ["map-pool1.csv", "map-conv10.csv", "map-prob.csv", "ambiguity.csv", "confusion.csv"]) {
    files[name] = (await downloaded(page, `button[data-file="${name}"]`)).toString("utf8");
  }
  const rows = await page.$$eval("#ambiguity-table .ambiguity-row", (trs) => trs.map((tr) => tr.textContent));
  const points = await page.$eval("#map-0", (c) => c.dataset.points);
  return { files, rows, points };
}

/** Waits until the session bar is in `state` with a text matching `pattern`. */
async function statusSays(page, state, pattern) {
  await page.waitForFunction(({ state, source, flags }) => {
    const status = document.querySelector("#session-status");
    return status.dataset.state === state && new RegExp(source, flags).test(status.textContent);
  }, { state, source: pattern.source, flags: pattern.flags }, { timeout: 60_000 });
}

async function waitForExplore(page) {
  await page.waitForFunction(() => document.querySelector("#exports button[data-file='map-prob.csv']"), null, { timeout: 120_000 });
}

test("a reload, and an export imported elsewhere, restore the session exactly", { timeout: 900_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=cpu`);
  await waitForBackend(page);
  assert.equal(await page.$("#session-offer"), null, "a first visit has nothing to restore");

  await page.click("#welcome summary");
  await page.fill("#demo-per-class", "6");
  await page.fill("#demo-epochs", "1");
  await page.fill("#analysis-iterations", "150");
  await page.click("#try-demo");
  await page.waitForFunction(() => ["done", "failed"].includes(document.querySelector("#demo-status").dataset.step),
    null, { timeout: 840_000, polling: 500 });
  assert.equal(await page.$eval("#demo-status", (e) => e.dataset.step), "done");
  // The last step's save: the data set, the network and the analysis.
  await page.waitForFunction(() => {
    const status = document.querySelector("#session-status");
    return status.dataset.state === "saved" && status.textContent.includes("its analysis");
  }, null, { timeout: 60_000 });
  assert.match(await page.textContent("#session-status"), /36 images in 6 classes, a fine-tuned network and its analysis/);
  const original = await explored(page);
  assert.ok(original.rows.length >= 10, `${original.rows.length} table rows`);
  assert.ok(original.files["map-pool1.csv"].trim().split("\n").length >= 13, "a header and a row per validation image");
  const settings = { epochs: await page.inputValue("#epochs"), iterations: await page.inputValue("#analysis-iterations") };

  // A reload offers the session; restoring it shows the same Explore, and the same settings.
  await page.reload();
  await waitForBackend(page);
  await page.waitForSelector("#session-offer", { timeout: 30_000 });
  assert.match(await page.textContent("#session-offer"), /36 images in 6 classes, a fine-tuned network and its analysis/);
  assert.equal(await page.$("#exports button[data-file]"), null, "nothing is shown before the restore");
  await page.click("#session-restore");
  await waitForExplore(page);
  assert.equal(await page.$eval("#session-status", (e) => e.dataset.state), "restored");
  assert.match(await page.textContent("#dataset-summary"), /^36 images in 6 classes\./);
  assert.deepEqual(await explored(page), original, "the reload restored the same maps and tables");
  assert.equal(await page.inputValue("#epochs"), settings.epochs);
  assert.equal(await page.inputValue("#analysis-iterations"), settings.iterations);
  // The restored network is the fine-tuned one: the analysis offers it.
  assert.match(await page.textContent("#analyze"), /fine-tuned/);

  // Export, then import into a fresh browser profile.
  const exported = await downloaded(page, "#session-export");
  const file = join(scratch, "layerlens-session.zip");
  await writeFile(file, exported);
  await context.close();
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const other = await fresh.newPage();
  other.on("pageerror", (e) => errors.push(e.message));
  await other.goto(`${server.url}?backend=cpu`);
  await waitForBackend(other);
  assert.equal(await other.$("#session-offer"), null, "another profile has no saved session");
  await other.setInputFiles("#session-import", file);
  await waitForExplore(other);
  assert.equal(await other.$eval("#session-status", (e) => e.dataset.state), "restored");
  assert.deepEqual(await explored(other), original, "the imported file restored the same maps and tables");

  // Files that are not good sessions are refused, and what is shown stays.
  const damaged = Buffer.from(exported);
  damaged[Math.floor(damaged.length / 2)] ^= 0x40;
  const refusals = [
    ["damaged.zip", damaged, /Could not restore damaged\.zip: the session file is damaged/],
    ["photo.zip", await readFile(join(FIXTURES, "photos/china.jpg")), /Could not restore photo\.zip: not a layerlens session file/],
  ];
  for (const [name, bytes, message] of refusals) {
    await writeFile(join(scratch, name), bytes);
    await other.setInputFiles("#session-import", join(scratch, name));
    await statusSays(other, "failed", message);
    assert.equal(await other.$eval("#map-0", (c) => c.dataset.points), original.points, "the session shown stays");
  }

  // A full quota: the save fails with the browser's reason, the session stays in the tab.
  await other.evaluate(() => { window.layerlensSessionTestHooks = { quotaExceeded: true }; });
  await other.setInputFiles("#session-import", file);
  await statusSays(other, "failed", /QuotaExceededError.*stays in this tab: export it/);
  assert.equal(await other.$eval("#map-0", (c) => c.dataset.points), original.points);
  await other.evaluate(() => { window.layerlensSessionTestHooks = {}; });

  // Forgetting clears the browser's copy: a reload offers nothing.
  await other.click("#session-forget");
  await other.waitForFunction(() => document.querySelector("#session-status").dataset.state === "forgotten", null, { timeout: 30_000 });
  await other.reload();
  await waitForBackend(other);
  await other.waitForTimeout(1_000);
  assert.equal(await other.$("#session-offer"), null, "nothing to restore after forgetting");
  assert.deepEqual(errors, []);
  await fresh.close();
});
