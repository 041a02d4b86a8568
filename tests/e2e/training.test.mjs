// End to end: fine-tuning in the page on three digit classes — the progress plot updates,
// cancel and restart work, accuracy and a confusion matrix appear; the page keeps painting.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FIXTURES, dropFiles, dropFolder, launchChromium, serveDist, loadFixtureWeights, waitForBackend } from "./helpers.mjs";

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

async function digitsFolder() {
  const files = [{ path: "digits3/2/readme.txt", bytes: Buffer.from("not an image") }];
  for (const cls of ["0", "1", "2"]) {
    for (const name of await readdir(join(FIXTURES, "digits3", cls))) {
      files.push({ path: `digits3/${cls}/${name}`, bytes: await readFile(join(FIXTURES, "digits3", cls, name)) });
    }
  }
  return files;
}

const iterationsShown = (page) => page.$eval("#train-progress", (p) => Number(p.dataset.iterations));

test("train on a dropped folder: progress, cancel, restart, accuracy and confusion matrix", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await waitForBackend(page);
    await loadFixtureWeights(page);
    await dropFolder(page, "#dataset", await digitsFolder());
    await page.waitForSelector("#dataset-summary");
    assert.equal(await page.textContent("#dataset-summary"), "90 images in 3 classes.");
    assert.match(await page.textContent("#rejected"), /digits3\/2\/readme\.txt/);

    // Record the longest gap between animation frames while training runs.
    await page.evaluate(() => {
      window.__maxFrameGap = 0;
      let last = performance.now();
      const tick = (now) => { window.__maxFrameGap = Math.max(window.__maxFrameGap, now - last); last = now; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    });

    await page.fill("#epochs", "2");
    await page.fill("#batch-size", "2");
    await page.click("#train-start");
    await page.waitForFunction(() => Number(document.querySelector("#train-progress").dataset.iterations) >= 2, null, { timeout: 120_000 });
    const before = await iterationsShown(page);
    await page.waitForFunction((n) => Number(document.querySelector("#train-progress").dataset.iterations) > n, before, { timeout: 60_000 });
    await page.click("#train-cancel");
    await page.waitForSelector("#validation-accuracy", { timeout: 120_000 });
    assert.match(await page.textContent("#validation-accuracy"), /cancelled/);

    // Restart and let it finish: 2 epochs of 30 iterations.
    await page.click("#train-start");
    await page.waitForFunction(() => document.querySelector("#validation-accuracy") === null, null, { timeout: 10_000 }).catch(() => {});
    await page.waitForFunction(() => /Validation accuracy: /.test(document.querySelector("#validation-accuracy")?.textContent || ""),
      null, { timeout: 600_000, polling: 500 });
    assert.equal(await iterationsShown(page), 60);
    const accuracy = Number((await page.textContent("#validation-accuracy")).match(/([\d.]+) %/)[1]);
    assert.ok(accuracy >= 0 && accuracy <= 100);
    assert.equal(await page.$$eval("#confusion .recall", (c) => c.length), 3);
    assert.equal(await page.$$eval("#confusion .precision", (c) => c.length), 3);
    const cells = await page.$$eval("#confusion td:not(.recall):not(.precision):not(:empty)", (tds) => tds.map((td) => Number(td.textContent)));
    assert.equal(cells.length, 9);
    assert.equal(cells.reduce((a, b) => a + b, 0), 30, "every validation image is in the confusion matrix");
    assert.match(await page.textContent("#train-note"), /Fine-tuning the loaded network/);

    // The fine-tuned network and its class names load back into the page and classify.
    await page.click("#use-finetuned");
    await page.waitForFunction(() => /the fine-tuned network .*: 3 classes/.test(document.querySelector("#model-status").textContent));
    await dropFiles(page, "#images", [{ name: "digit.png", type: "image/png", bytes: await readFile(join(FIXTURES, "digits3/1/0001.png")) }]);
    await page.waitForFunction(() => document.querySelectorAll(".result .top-class").length === 3, null, { timeout: 60_000 });
    const names = await page.$$eval(".result .class-name", (tds) => tds.map((td) => td.textContent).sort());
    assert.deepEqual(names, ["0", "1", "2"]);

    const gap = await page.evaluate(() => window.__maxFrameGap);
    console.log(`longest gap between animation frames while training: ${gap.toFixed(0)} ms`);
    assert.ok(gap <= 1000, `the page froze for ${gap.toFixed(0)} ms`);
  } finally {
    await browser.close();
  }
});

test("fine-tuning runs on WebGPU too (software adapter: a tiny run)", async () => {
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await waitForBackend(page);
    assert.match(await page.textContent("#backend"), /^Backend: WebGPU/);
    await loadFixtureWeights(page);
    const files = [];
    for (const cls of ["0", "1", "2"]) {
      for (const name of (await readdir(join(FIXTURES, "digits3", cls))).slice(0, 4)) {
        files.push({ path: `d/${cls}/${name}`, bytes: await readFile(join(FIXTURES, "digits3", cls, name)) });
      }
    }
    await dropFolder(page, "#dataset", files);
    await page.waitForSelector("#dataset-summary");
    await page.fill("#epochs", "1");
    await page.fill("#batch-size", "3");
    await page.click("#train-start");
    await page.waitForSelector("#validation-accuracy, #train-error", { timeout: 900_000 });
    assert.equal(await page.$("#train-error"), null, "no training error on WebGPU");
    assert.match(await page.textContent("#train-progress"), /Finished after 3 iteration\(s\)/);
    const cells = await page.$$eval("#confusion td:not(.recall):not(.precision):not(:empty)", (tds) => tds.map((td) => Number(td.textContent)));
    assert.equal(cells.reduce((a, b) => a + b, 0), 3, "3 validation images (1 per class)");
  } finally {
    await browser.close();
  }
});
