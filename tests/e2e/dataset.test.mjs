// End to end: bringing a labelled data set into the page — a dropped folder (walked through
// the entries API) and a picked folder — shows classes, counts and the skipped files.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FIXTURES, dropFolder, launchChromium, serveDist } from "./helpers.mjs";

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

async function digitsFolder() {
  const files = [];
  for (const cls of ["0", "1", "2"]) {
    for (const name of await readdir(join(FIXTURES, "digits3", cls))) {
      files.push({ path: `digits3/${cls}/${name}`, bytes: await readFile(join(FIXTURES, "digits3", cls, name)) });
    }
  }
  files.push({ path: "digits3/1/notes.txt", bytes: Buffer.from("not an image") });
  files.push({ path: "digits3/.DS_Store", bytes: Buffer.from("finder litter") });
  return files;
}

async function summary(page) {
  await page.waitForSelector("#dataset-summary", { timeout: 60_000 });
  return {
    text: await page.textContent("#dataset-summary"),
    counts: await page.$$eval(".class-count", (rows) => rows.map((r) => [r.dataset.class, r.children[1].textContent])),
    rejected: await page.$$eval(".rejected", (items) => items.map((li) => li.textContent)),
  };
}

test("a dropped folder of three digit classes, with a non-image among them", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await dropFolder(page, "#dataset", await digitsFolder());
    const shown = await summary(page);
    assert.equal(shown.text, "90 images in 3 classes.");
    assert.deepEqual(shown.counts, [["0", "30"], ["1", "30"], ["2", "30"]]);
    assert.equal(shown.rejected.length, 1, `hidden files are ignored silently: ${shown.rejected}`);
    assert.match(shown.rejected[0], /digits3\/1\/notes\.txt: not a supported image/);
  } finally {
    await browser.close();
  }
});

test("a folder chosen with the folder picker", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.setInputFiles("#dataset-folder-input", join(FIXTURES, "digits3"));
    const shown = await summary(page);
    assert.equal(shown.text, "90 images in 3 classes.");
    assert.deepEqual(shown.counts.map(([c]) => c), ["0", "1", "2"]);
    assert.ok(shown.rejected.some((r) => /SOURCE\.md/.test(r)), `SOURCE.md is listed as skipped: ${shown.rejected}`);
  } finally {
    await browser.close();
  }
});
