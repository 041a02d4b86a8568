// End to end: bringing a labelled data set into the page — a dropped folder (walked through
// the entries API) and a picked folder — shows classes, counts and the skipped files.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FIXTURES, ROOT, dropFolder, launchChromium, serveDist } from "./helpers.mjs";

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

test("class folders named with markup, quotes, emoji, right-to-left text and 200 characters are shown literally; a cut photo is refused", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    const names = [
      // A folder name cannot hold "/", so no closing tags.
      `<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2`,
      `"quoted" & 'single'`,
      "🍕 pizza",
      "שלום עולם",
      "a".repeat(200),
    ];
    const digit = await readFile(join(FIXTURES, "digits3/0/0000.png"));
    const photo = await readFile(join(FIXTURES, "photos/flower.jpg"));
    const files = names.flatMap((name) => [0, 1].map((k) => ({ path: `set/${name}/${k}.png`, bytes: digit })));
    files.push({ path: `set/🍕 pizza/cut.jpg`, bytes: photo.subarray(0, Math.floor(photo.length / 3)) });
    await dropFolder(page, "#dataset", files);
    const shown = await summary(page);
    assert.equal(shown.text, "10 images in 5 classes.");
    // In Rust's order (by code point), each name exactly as the folder has it.
    assert.deepEqual(shown.counts, [...names].sort().map((name) => [name, "2"]));
    assert.deepEqual(await page.$$eval(".class-count", (rows) => rows.map((r) => r.children[0].textContent)), [...names].sort());
    assert.equal(await page.evaluate(() => window.__pwned), undefined, "no markup in a name ran");
    assert.equal(await page.$$eval("img[src='x']", (found) => found.length), 0, "no markup in a name became an element");
    assert.equal(shown.rejected.length, 1);
    assert.match(shown.rejected[0], /cut\.jpg: the JPEG file is cut short/);
    await mkdir(join(ROOT, "tests/e2e/artifacts"), { recursive: true });
    await (await page.$("#dataset")).screenshot({ path: join(ROOT, "tests/e2e/artifacts/dataset-hostile-names.png") });
  } finally {
    await browser.close();
  }
});
