// End to end: sessions survive. After the demo (CI-sized) a reload offers the last session and
// restores the same ambiguity table, confusion matrix and map coordinates, exactly (compared as
// the exported CSVs); "Export session" then "Import session" in a fresh browser profile restores
// them too; damaged and foreign files are refused with a message; a full storage quota is
// reported and the session stays in the tab; "Forget this session" leaves nothing to restore.
// A dropped folder is kept as the browser's file handles, in the tab and in storage: a reload
// restores it from them, exactly; each tab keeps its own session.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, dropFolder, launchChromium, loadFixtureWeights, serveDist, waitForBackend } from "./helpers.mjs";

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

/** `per` images of each class of tests/fixtures/digits3, as a folder `top` to drop. */
async function digitsFolder(top, per) {
  const files = [];
  for (const cls of ["0", "1", "2"]) {
    for (const name of (await readdir(join(FIXTURES, "digits3", cls))).sort().slice(0, per)) {
      files.push({ path: `${top}/${cls}/${name}`, bytes: await readFile(join(FIXTURES, "digits3", cls, name)) });
    }
  }
  return files;
}

/** The page's IndexedDB records: { key: what it holds }, for the sessions and their images. */
function storedRecords(page) {
  return page.evaluate(() => new Promise((ok, fail) => {
    const open = indexedDB.open("layerlens", 1);
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const store = open.result.transaction("sessions").objectStore("sessions");
      const keys = store.getAllKeys();
      const values = store.getAll();
      values.onsuccess = () => {
        const out = {};
        keys.result.forEach((key, i) => {
          const v = values.result[i];
          out[key] = v.images
            ? {
              images: v.images.length,
              files: v.images.every((e) => e.file instanceof Blob),
              paths: v.images.map((e) => e.path),
              thumbnails: v.images.every((e) => e.thumb instanceof Uint8Array && e.thumb.length === e.thumbWidth * e.thumbHeight * 3
                && Math.max(e.thumbWidth, e.thumbHeight) <= 64),
            }
            : { imagesId: v.imagesId ?? null, sessionBytes: v.session?.size };
        });
        open.result.close();
        ok(out);
      };
    };
  }));
}

test("a dropped folder is kept as the browser's files: a reload restores it from them, and each tab keeps its own session", { timeout: 600_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  const open = async () => {
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}?backend=cpu`);
    await waitForBackend(page);
    return page;
  };
  const first = await open();
  await loadFixtureWeights(first);
  await dropFolder(first, "#dataset", await digitsFolder("mine", 8));
  await first.waitForSelector("#dataset-summary");
  assert.equal(await first.$eval("#dataset-kept", (p) => p.dataset.kept), "AsFiles");
  assert.match(await first.textContent("#dataset-kept"), /Read from your files when needed/);
  await first.fill("#analysis-iterations", "150");
  await first.click("#analyze-run");
  await waitForExplore(first);
  await statusSays(first, "saved", /24 images in 3 classes and an analysis/);
  const original = await explored(first);
  assert.equal(original.files["map-prob.csv"].trim().split("\n").length, 1 + 9, "a header and a row per validation image (3 of each class's 8)");

  // Stored: the session file without the images, and the 24 files' handles beside it.
  let records = await storedRecords(first);
  const sessions = Object.entries(records).filter(([k]) => k.startsWith("session:"));
  assert.equal(sessions.length, 1, JSON.stringify(records));
  const [, firstSession] = sessions[0];
  const images = records[`images:${firstSession.imagesId}`];
  assert.ok(images, `the handles are stored beside the session: ${JSON.stringify(records)}`);
  assert.equal(images.images, 24);
  assert.ok(images.files, "stored as Blobs (the browser's files), not as bytes in the session");
  assert.ok(images.thumbnails, "each with its thumbnail (raw RGB, at most 64 px a side)");
  assert.ok(images.paths.includes("mine/1/" + (await readdir(join(FIXTURES, "digits3", "1"))).sort()[0]));

  // A second tab: offered the newest session, but its own work does not replace the first's.
  const second = await open();
  await second.waitForSelector("#session-offer", { timeout: 30_000 });
  assert.match(await second.textContent("#session-offer"), /24 images in 3 classes and an analysis/);
  await dropFolder(second, "#dataset", await digitsFolder("other", 4));
  await statusSays(second, "saved", /12 images in 3 classes/);
  records = await storedRecords(first);
  assert.equal(Object.keys(records).filter((k) => k.startsWith("session:")).length, 2, "one session per tab");
  assert.equal(Object.keys(records).filter((k) => k.startsWith("images:")).length, 2, "and each its own files");

  // The first tab reloaded: its own session, its images read again from the stored files.
  await first.reload();
  await waitForBackend(first);
  await first.waitForSelector("#session-offer", { timeout: 30_000 });
  assert.match(await first.textContent("#session-offer"), /24 images in 3 classes and an analysis/);
  // Count the data set's files read while it restores (the stored session itself is a Blob,
  // not a File): none, the stored thumbnails stand in for them.
  await first.evaluate(() => {
    window.__fileReads = 0;
    for (const method of ["readAsArrayBuffer", "readAsBinaryString", "readAsDataURL", "readAsText"]) {
      const original = FileReader.prototype[method];
      FileReader.prototype[method] = function (blob) {
        if (blob instanceof File) window.__fileReads += 1;
        return original.apply(this, arguments);
      };
    }
    const arrayBuffer = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function () {
      if (this instanceof File) window.__fileReads += 1;
      return arrayBuffer.call(this);
    };
  });
  await first.click("#session-restore");
  await waitForExplore(first);
  assert.equal(await first.$eval("#session-status", (e) => e.dataset.state), "restored");
  assert.equal(await first.evaluate(() => window.__fileReads), 0, "restored from the stored thumbnails, no file read");
  assert.match(await first.textContent("#dataset-summary"), /^24 images in 3 classes\./);
  assert.deepEqual(await explored(first), original, "the reload restored the same maps and tables");
  // A point's image is shown from the stored file.
  await first.click("#ambiguity-table .ambiguity-row");
  await first.waitForFunction(() => {
    const img = document.querySelector("#selection img");
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 30_000 });
  // Restoring stored nothing twice: the same handles serve the restored data set.
  await statusSays(first, "restored", /Kept in this browser/);
  records = await storedRecords(first);
  assert.equal(Object.keys(records).filter((k) => k.startsWith("images:")).length, 2, JSON.stringify(Object.keys(records)));

  // Export reads the files into one session file, which restores in the other tab, exactly.
  assert.equal(await first.isChecked("#session-export-images"), true, "with the images unless asked");
  const exported = await downloaded(first, "#session-export");
  assert.equal(await first.evaluate(() => window.__fileReads), 24, "the export read each file once (the count above counts)");
  const file = join(scratch, "kept-files-session.zip");
  await writeFile(file, exported);
  await second.setInputFiles("#session-import", file);
  await waitForExplore(second);
  assert.deepEqual(await explored(second), original, "the export carried the images");

  // Exported without its images: a small file that shows the same Explore in the other tab
  // (each image as its thumbnail); analysing again says the images are not in it.
  await first.uncheck("#session-export-images");
  const small = await downloaded(first, "#session-export");
  // (Entry names stand in the zip as plain text.)
  assert.ok(exported.includes("files/23") && !small.includes("files/0"), "no image in the file");
  assert.ok(small.includes("thumbnails/23"), "a thumbnail for each image");
  await writeFile(join(scratch, "thumbnails-session.zip"), small);
  await second.setInputFiles("#session-import", join(scratch, "thumbnails-session.zip"));
  await statusSays(second, "restored", /24 images in 3 classes and an analysis/);
  assert.deepEqual(await explored(second), original, "the same maps and tables without the images");
  assert.equal(await second.$eval("#dataset-kept", (p) => p.dataset.kept), "ThumbnailsOnly");
  await second.click("#ambiguity-table .ambiguity-row");
  await second.waitForFunction(() => {
    const img = document.querySelector("#selection img");
    return img && img.complete && img.naturalWidth > 0 && img.naturalWidth <= 64;
  }, null, { timeout: 30_000 });
  await loadFixtureWeights(second); // the session holds an analysis, not a fine-tuned network
  await second.click("#analyze-run");
  await second.waitForSelector("#analysis-error", { timeout: 60_000 });
  assert.match(await second.textContent("#analysis-error"), /exported or saved without its images: bring the data set again \(step 1\)/);

  // Stored files gone (storage cleared by the browser): the restore says so, nothing breaks.
  await first.evaluate(() => new Promise((ok) => {
    const open = indexedDB.open("layerlens", 1);
    open.onsuccess = () => {
      const tx = open.result.transaction("sessions", "readwrite");
      const store = tx.objectStore("sessions");
      const keys = store.getAllKeys();
      keys.onsuccess = () => { for (const k of keys.result) if (String(k).startsWith("images:")) store.delete(k); };
      tx.oncomplete = () => { open.result.close(); ok(); };
    };
  }));
  await first.reload();
  await waitForBackend(first);
  await first.waitForSelector("#session-offer", { timeout: 30_000 });
  await first.click("#session-restore");
  await statusSays(first, "failed", /Could not restore the last session: its images are no longer in this browser's storage/);
  await loadFixtureWeights(first);
  await dropFolder(first, "#dataset", await digitsFolder("again", 2));
  await first.waitForSelector("#dataset-summary");
  assert.match(await first.textContent("#dataset-summary"), /^6 images in 3 classes\./, "the page goes on");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a folder too large to copy into the browser's storage is saved with its thumbnails: a reload brings Explore back and asks for the folder to train", { timeout: 600_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  // The limit lowered below these 24 digits' bytes (it is 256 MB).
  await context.addInitScript(() => { window.layerlensSessionTestHooks = { keepFilesUpToBytes: 1000 }; });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=cpu`);
  await waitForBackend(page);
  await loadFixtureWeights(page);
  await dropFolder(page, "#dataset", await digitsFolder("large", 8));
  await page.waitForSelector("#dataset-summary");
  assert.equal(await page.$eval("#dataset-kept", (p) => p.dataset.kept), "AsFiles");
  await page.fill("#analysis-iterations", "150");
  await page.click("#analyze-run");
  await waitForExplore(page);
  await statusSays(page, "saved", /24 images in 3 classes and an analysis\. Without the images \(\d+ KB\): the browser would copy them into its storage\..*drop the folder again/);
  const original = await explored(page);
  const records = await storedRecords(page);
  assert.equal(Object.keys(records).filter((k) => k.startsWith("images:")).length, 0, `no file stored: ${JSON.stringify(records)}`);
  const [[, session]] = Object.entries(records).filter(([k]) => k.startsWith("session:"));
  assert.equal(session.imagesId, null);

  await page.reload();
  await waitForBackend(page);
  await page.waitForSelector("#session-offer", { timeout: 30_000 });
  await page.click("#session-restore");
  await waitForExplore(page);
  assert.equal(await page.$eval("#session-status", (e) => e.dataset.state), "restored");
  assert.deepEqual(await explored(page), original, "the same maps and tables");
  assert.equal(await page.$eval("#dataset-kept", (p) => p.dataset.kept), "ThumbnailsOnly");
  await loadFixtureWeights(page); // the session holds an analysis, not a fine-tuned network
  await page.click("#analyze-run");
  await page.waitForSelector("#analysis-error", { timeout: 60_000 });
  assert.match(await page.textContent("#analysis-error"), /bring the data set again/);
  assert.deepEqual(errors, []);
  await context.close();
});
