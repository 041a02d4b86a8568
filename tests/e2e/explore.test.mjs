// End to end: the workflow's payoff in the page. Fine-tune on three digit classes, analyse the
// validation images (activations of pool1, conv10 and prob, one t-SNE each), then explore as a
// person would: the three maps and the large map are drawn in the class colours, hovering a
// point shows its image, clicking an ambiguity row circles that image in every map and opens
// it with its class maps, a confusion cell lists its images, a lasso marks the points inside
// it, and every export downloads with one row per image. On WebGPU (software adapter) the
// loaded network is analysed without fine-tuning: its own classes are the predictions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FIXTURES, ROOT, dropFolder, launchChromium, serveDist, loadFixtureWeights, waitForBackend } from "./helpers.mjs";

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

const ARTIFACTS = join(ROOT, "tests/e2e/artifacts");
// Okabe–Ito colours of classes 0, 1 and 2 (src/analysis/palette.rs).
const CLASS_RGB = [[0, 114, 178], [230, 159, 0], [0, 158, 115]];

async function digitsFolder() {
  const files = [];
  for (const cls of ["0", "1", "2"]) {
    for (const name of await readdir(join(FIXTURES, "digits3", cls))) {
      files.push({ path: `digits3/${cls}/${name}`, bytes: await readFile(join(FIXTURES, "digits3", cls, name)) });
    }
  }
  return files;
}

/** Waits until a map canvas shows `value` in `data-<key>` (maps redraw in the next frame). */
function mapShows(page, selector, key, value) {
  return page.waitForFunction(({ selector, key, value }) => document.querySelector(selector)?.dataset[key] === value,
    { selector, key, value }, { timeout: 5_000 });
}

/** Counts, per class colour, the canvas pixels of exactly that colour. */
function classPixels(page, selector) {
  return page.$eval(selector, (canvas, colours) => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const counts = colours.map(() => 0);
    for (let i = 0; i < data.length; i += 4) {
      colours.forEach(([r, g, b], c) => { if (data[i] === r && data[i + 1] === g && data[i + 2] === b) counts[c]++; });
    }
    return counts;
  }, CLASS_RGB);
}

/** Screen positions (page pixels) of a map's points, from its data-pixels attribute. */
async function pointsOf(page, selector) {
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  const pixels = await page.$eval(selector, (c) => c.dataset.pixels);
  return pixels.split(";").map((p) => p.split(",").map(Number)).map(([x, y]) => ({ x: box.x + x, y: box.y + y, cx: x, cy: y }));
}

/** Runs an analysis to its end; returns the longest gap between the page's frames while the
 * maps are made: from the first map's start (the network's passes are behind; drawing and the
 * light reduction of wide layers are left to the page's thread) until the page shows the
 * analysis done (the frame that builds Explore's tables and saves the session is the end). */
async function runAnalysis(page, iterations, timeout) {
  await page.fill("#analysis-iterations", String(iterations));
  await page.click("#analyze-run");
  await page.waitForFunction(() => document.querySelector("#analysis-progress")?.dataset.stage.startsWith("tsne"), null, { timeout });
  await page.evaluate(() => { window.__mapFrameGap = 0; });
  await page.evaluate(() => {
    let last = performance.now();
    const tick = (now) => {
      if (document.querySelector("#analysis-progress").dataset.stage !== "done") window.__mapFrameGap = Math.max(window.__mapFrameGap, now - last);
      last = now;
      if (!window.__stopMapFrames) requestAnimationFrame(tick);
    };
    window.__stopMapFrames = false;
    requestAnimationFrame(tick);
  });
  await page.waitForFunction(() => ["done", "failed"].includes(document.querySelector("#analysis-progress").dataset.stage),
    null, { timeout, polling: 250 });
  const error = await page.$("#analysis-error");
  assert.equal(error, null, error ? await error.textContent() : "");
  return page.evaluate(() => { window.__stopMapFrames = true; return window.__mapFrameGap; });
}

/** A CPU page with the fixture weights and `files` as the data set; resolves to the page and
 * its uncaught errors. */
async function loadedPage(browser, files) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=cpu`);
  await waitForBackend(page);
  await loadFixtureWeights(page);
  await dropFolder(page, "#dataset", files);
  await page.waitForSelector("#dataset-summary");
  return { page, errors };
}

/** `loadedPage`, fine-tuned for one epoch (mini-batches of 20, no augmentation); resolves to
 * the page, its uncaught errors and the validation accuracy shown. */
async function fineTunedPage(browser, files) {
  const { page, errors } = await loadedPage(browser, files);
  await page.fill("#epochs", "1");
  await page.fill("#batch-size", "20");
  for (const box of ["#flip-lr", "#flip-ud", "#scale"]) await page.uncheck(box);
  await page.click("#train-start");
  await page.waitForSelector("#validation-accuracy", { timeout: 600_000 });
  const accuracy = Number((await page.textContent("#validation-accuracy")).match(/([\d.]+) %/)[1]);
  return { page, errors, accuracy };
}

test("fine-tune, analyse and explore on the CPU", async () => {
  const browser = await launchChromium();
  try {
    // A short fine-tuning run: 1 epoch of mini-batches of 20 without augmentation.
    const { page, errors, accuracy: trainedAccuracy } = await fineTunedPage(browser, await digitsFolder());
    assert.match(await page.textContent("#analysis-needs"), /fine-tuned in step 3/);

    // Every t-SNE setting is editable: the presets fill them in, a bad value is refused.
    await page.selectOption("#analysis-preset", "opentsne");
    assert.equal(await page.inputValue("#analysis-learning-rate"), "auto");
    assert.equal(await page.inputValue("#analysis-exaggeration"), "12");
    await page.selectOption("#analysis-preset", "matlab");
    assert.equal(await page.inputValue("#analysis-learning-rate"), "500");
    assert.equal(await page.inputValue("#analysis-exaggeration-iterations"), "99");
    assert.equal(await page.inputValue("#analysis-method"), "bh");
    await page.fill("#analysis-theta", "-1");
    await page.click("#analyze-run");
    assert.match(await page.textContent("#analysis-error"), /θ: `-1` is not a number ≥ 0/);
    await page.fill("#analysis-theta", "0.5");

    // Measure the page's frame gaps while the analysis runs: from the click on Run until
    // Explore is built and the session saved (issue 11: no frame over 50 ms).
    await page.evaluate(() => {
      window.__maxFrameGap = 0;
      let last = performance.now();
      const tick = (now) => { window.__maxFrameGap = Math.max(window.__maxFrameGap, now - last); last = now; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    });
    const started = Date.now();
    const mapGap = await runAnalysis(page, 400, 600_000);
    const seconds = (Date.now() - started) / 1000;
    const gap = await page.evaluate(() => window.__maxFrameGap);
    console.log(`analysis of 30 validation images on the CPU: ${seconds.toFixed(1)} s; longest frame gap ${gap.toFixed(0)} ms, ${mapGap.toFixed(0)} ms while the maps were made`);
    assert.match(await page.textContent("#analysis-source"), /fine-tuned in step 3, on its 30 validation images/);
    assert.match(await page.textContent("#analysis-source"), /the maps in (a background worker|\d background workers, side by side)/);
    assert.ok(gap <= 50, `the page went ${gap.toFixed(0)} ms without a frame during the analysis`);

    // Three maps titled as in the workflow, and the large one, each with all 30 points in the
    // three class colours.
    const titles = await page.$$eval(".small-map figcaption strong", (s) => s.map((e) => e.textContent));
    assert.deepEqual(titles, ["Max pooling activations", "Final conv activations", "Softmax activations"]);
    assert.match(await page.textContent(".small-map:nth-child(1) .map-layer"), /pool1 · M = 200,704/);
    for (const id of ["#map-0", "#map-1", "#map-2", "#large-map"]) {
      await mapShows(page, id, "points", "30");
      const counts = await classPixels(page, id);
      assert.ok(counts.every((n) => n > 0), `${id}: pixels per class colour ${counts}`);
    }
    for (const i of [0, 1, 2]) {
      assert.match(await page.textContent(`#map-quality-${i}`), /trustworthiness 0\.\d{3} · 5-NN accuracy [01]\.\d{3}/);
    }
    const accuracyLine = await page.textContent("#explore-accuracy");
    assert.equal(Number(accuracyLine.match(/([\d.]+) %/)[1]), trustedRound(trainedAccuracy));

    // Hover a point of the large map: the tooltip shows its image and classes.
    const points = await pointsOf(page, "#large-map");
    assert.equal(points.length, 30);
    await page.mouse.move(points[7].x, points[7].y);
    await page.waitForSelector("#map-tooltip img[src^='blob:']", { timeout: 5_000 });
    const tip = await page.textContent("#map-tooltip");
    assert.match(tip, /Image #\d+/);
    assert.match(tip, /True: [012]/);
    assert.match(tip, /Predicted: [012]/);
    assert.match(tip, /Ambiguity: /);
    await page.mouse.move(5, 5);

    // The ambiguity table: most ambiguous first, 10 rows, then 10 more.
    const ambiguities = await page.$$eval("#ambiguity-table .ambiguity-row td.number", (t) => t.map((e) => Number(e.textContent)));
    assert.equal(ambiguities.length, 10);
    assert.deepEqual(ambiguities, [...ambiguities].sort((a, b) => b - a));
    await page.click("#ambiguity-more");
    assert.equal(await page.$$eval("#ambiguity-table .ambiguity-row", (r) => r.length), 20);
    const imageNumbers = () => page.$$eval("#ambiguity-table .ambiguity-row", (r) => r.map((e) => Number(e.dataset.image)));
    await page.click("#ambiguity-table th[data-sort='image']");
    assert.deepEqual(await imageNumbers(), Array.from({ length: 20 }, (_, i) => i + 1), "by image number, ascending");
    await page.click("#ambiguity-table th[data-sort='image']");
    assert.deepEqual(await imageNumbers(), Array.from({ length: 20 }, (_, i) => 30 - i), "a second click reverses it");
    await page.click("#ambiguity-table th[data-sort='ambiguity']");

    // Clicking a row selects that image everywhere: circled in every map, shown with its class maps.
    const row = page.locator("#ambiguity-table .ambiguity-row").nth(0);
    const image = await row.getAttribute("data-image");
    await row.click();
    await page.waitForFunction((n) => document.querySelector("#selection")?.dataset.image === n, image);
    for (const id of ["#map-0", "#map-1", "#map-2", "#large-map"]) await mapShows(page, id, "selected", image);
    assert.match(await page.textContent("#selected-title"), new RegExp(`Image #${image}: Actual: [012]  Predicted: [012]`));
    for (const id of ["#class-map-1", "#class-map-2"]) {
      const painted = await page.$eval(id, (c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
      });
      assert.ok(painted > 200 * 200, `${id}: ${painted} painted pixels`);
    }

    // A confusion cell lists its images.
    const cell = page.locator("#explore-confusion td.cell").filter({ hasText: /^[1-9]/ }).first();
    const count = Number((await cell.textContent()).trim().split(" ")[0]);
    await cell.click();
    await page.waitForSelector("#gallery");
    assert.equal(Number(await page.$eval("#gallery", (g) => g.dataset.count)), count);
    assert.equal(await page.$$eval("#gallery .gallery-item", (g) => g.length), count);
    await page.locator("#gallery .gallery-item").first().click();
    await mapShows(page, "#large-map", "marked", String(count));

    // A lasso around the left half of the large map marks exactly the points inside it.
    await page.locator("#large-map").scrollIntoViewIfNeeded();
    const box = await page.locator("#large-map").boundingBox();
    const lasso = [[10, 10], [box.width / 2, 10], [box.width / 2, box.height - 10], [10, box.height - 10]];
    await page.mouse.move(box.x + lasso[0][0], box.y + lasso[0][1]);
    await page.mouse.down();
    for (const [x, y] of [...lasso.slice(1), lasso[0]]) await page.mouse.move(box.x + x, box.y + y, { steps: 8 });
    await page.mouse.up();
    const expected = points.filter((p) => p.cx > 10 && p.cx < box.width / 2 && p.cy > 10 && p.cy < box.height - 10).length;
    assert.ok(expected > 0 && expected < 30, `the lasso should hold some points, not all (${expected})`);
    await page.waitForFunction((n) => document.querySelector("#marked-label").textContent.startsWith(`${n} image(s) inside the lasso`), expected);
    await mapShows(page, "#large-map", "marked", String(expected));

    // Legend toggles: switching class 0 off removes its points from every map.
    await page.uncheck(".legend-item[data-class='0'] input");
    await page.waitForFunction(() => document.querySelector("#map-0").dataset.points !== "30");
    const shown = Number(await page.$eval("#map-0", (c) => c.dataset.points));
    assert.ok(shown < 30 && shown > 0, `${shown} points shown with class 0 off`);
    await page.check(".legend-item[data-class='0'] input");
    await page.click("#clear-marks");

    // Screenshot of Explore (kept as a test artifact and shown in the README).
    await mkdir(ARTIFACTS, { recursive: true });
    await page.locator("#explore").screenshot({ path: join(ARTIFACTS, "explore-cpu.png") });

    // Exports, with one row per validation image.
    const downloads = {};
    for (const name of ["map-pool1.csv", "map-conv10.csv", "map-prob.csv", "ambiguity.csv", "confusion.csv", "predictions.json", "map-prob.png"]) {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click(`button.export[data-file='${name}']`)]);
      assert.equal(download.suggestedFilename(), name);
      downloads[name] = await readFile(await download.path());
    }
    for (const name of ["map-pool1.csv", "map-conv10.csv", "map-prob.csv"]) {
      const lines = downloads[name].toString().trim().split("\n");
      assert.equal(lines[0], "image,file,true,predicted,ambiguity,x,y");
      assert.equal(lines.length, 31, name);
    }
    assert.equal(downloads["ambiguity.csv"].toString().trim().split("\n").length, 31);
    assert.equal(downloads["confusion.csv"].toString().trim().split("\n").length, 4);
    assert.equal(JSON.parse(downloads["predictions.json"]).predictions.length, 30);
    assert.deepEqual([...downloads["map-prob.png"].subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

/** Both views print the validation accuracy to one decimal. */
function trustedRound(x) { return Math.round(x * 10) / 10; }

test("analyse a network that was not fine-tuned, on WebGPU", { timeout: 900_000 }, async () => {
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}?backend=webgpu`);
    assert.match(await waitForBackend(page), /Backend: WebGPU/);
    await loadFixtureWeights(page);
    // Two classes of ten images each: the 0.65 split leaves 3–4 validation images per class.
    const files = (await digitsFolder()).filter((f) => !f.path.includes("/2/")).filter((_, i) => i % 3 === 0);
    await dropFolder(page, "#dataset", files);
    await page.waitForSelector("#dataset-summary");
    assert.match(await page.textContent("#analysis-needs"), /loaded network/);
    await runAnalysis(page, 200, 840_000);
    assert.match(await page.textContent("#analysis-source"), /not fine-tuned on these classes/);
    assert.match(await page.textContent("#explore-accuracy"), /predicts its own 1000 classes/);
    await page.waitForFunction(() => Number(document.querySelector("#map-2").dataset.points) > 0);
    const n = Number(await page.$eval("#map-2", (c) => c.dataset.points));
    assert.ok(n >= 6, `${n} points`);
    for (const id of ["#map-0", "#map-1", "#map-2", "#large-map"]) {
      assert.equal(Number(await page.$eval(id, (c) => c.dataset.points)), n, id);
      const counts = await classPixels(page, id);
      assert.ok(counts[0] > 0 && counts[1] > 0, `${id}: pixels per class colour ${counts}`);
    }
    await mkdir(ARTIFACTS, { recursive: true });
    await page.locator("#explore").screenshot({ path: join(ARTIFACTS, "explore-webgpu.png") });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("a GPU failure during the analysis: the page offers smaller passes or the CPU, and the CPU finishes it", { timeout: 900_000 }, async () => {
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}?backend=webgpu`);
    assert.match(await waitForBackend(page), /Backend: WebGPU/);
    await loadFixtureWeights(page);
    const files = (await digitsFolder()).filter((f) => !f.path.includes("/2/")).filter((_, i) => i % 3 === 0);
    await dropFolder(page, "#dataset", files);
    await page.waitForSelector("#dataset-summary");
    await page.fill("#analysis-iterations", "100");
    // Pause during the first chunk of activations, break the GPU, resume: the next GPU read
    // (the rotation of pool1 onto its principal axes) reports the failure.
    await page.click("#analyze-run");
    await page.click("#analyze-pause");
    await page.waitForFunction(() => document.querySelector("#analyze-pause").textContent === "Resume", null, { timeout: 600_000 });
    assert.match(await page.textContent("#analysis-source"), /the activations on the GPU, 16 images per pass/);
    assert.equal(await page.evaluate(() => window.layerlensGpuTestHooks.runOutOfMemory()), true);
    await page.click("#analyze-pause");
    await page.waitForSelector("#analysis-interrupted, #analysis-error", { timeout: 600_000 });
    assert.equal(await page.$("#analysis-error"), null, "a GPU failure, not a plain error");
    assert.equal(await page.$eval("#analysis-interrupted", (e) => e.dataset.kind), "OutOfMemory");
    assert.match(await page.textContent("#analysis-failure"), /the GPU ran out of memory/);
    assert.equal(await page.textContent("#analysis-continue-gpu"), "Run it again on the GPU, 8 images per pass");
    await page.click("#analysis-continue-cpu");
    await page.waitForFunction(() => ["done", "failed", "interrupted"].includes(document.querySelector("#analysis-progress").dataset.stage),
      null, { timeout: 600_000, polling: 250 });
    assert.equal(await page.$eval("#analysis-progress", (e) => e.dataset.stage), "done");
    // The CPU's activations run in the network worker, the GPU's weights handed to it.
    assert.match(await page.textContent("#analysis-source"), /the activations on the CPU, in a background worker, 1 image per pass/);
    // Out of memory leaves the GPU usable: only this analysis moved to the CPU.
    assert.match(await page.textContent("#backend"), /^Backend: WebGPU/);
    for (const id of ["#map-0", "#map-1", "#map-2"]) {
      assert.ok(Number(await page.$eval(id, (c) => c.dataset.points)) >= 6, id);
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("class names with markup, quotes, commas, emoji and right-to-left text are shown and exported literally", async () => {
  // The three digit classes, renamed: every view shows these strings as text, and every export
  // quotes them so a CSV reader gets them back exactly.
  const NAMES = ['<img src=x onerror="window.__pwned=1">', `"quoted" & 'single', a,b`, "שלום עולם 🍕"];
  const browser = await launchChromium();
  try {
    const files = (await digitsFolder()).map((f) => ({ ...f, path: f.path.replace(/^digits3\/(\d)\//, (_, c) => `named/${NAMES[Number(c)]}/`) }));
    const { page, errors } = await fineTunedPage(browser, files);
    await runAnalysis(page, 100, 600_000);

    // Views: the legend, the confusion matrix, the ambiguity table, the tooltip, the selection.
    // Each legend item is the class's marker, then its name as text.
    const legend = await page.$$eval(".legend-item[data-class]", (items) => items.map((i) => i.textContent.trim()));
    assert.deepEqual(legend.map((text) => NAMES.find((n) => text.endsWith(n))).sort(), [...NAMES].sort(), legend.join(" | "));
    const confusion = await page.textContent("#explore-confusion");
    for (const name of NAMES) assert.ok(confusion.includes(name), `the confusion matrix names ${name}`);
    const truths = await page.$$eval("#ambiguity-table .ambiguity-row", (rows) => rows.map((r) => r.querySelectorAll("td")[4]?.textContent));
    assert.ok(truths.length > 0 && truths.every((t) => NAMES.includes(t)), `true classes in the table: ${truths.join(" | ")}`);
    const points = await pointsOf(page, "#large-map");
    await page.mouse.move(points[0].x, points[0].y);
    await page.waitForSelector("#map-tooltip img[src^='blob:']", { timeout: 5_000 });
    const tip = await page.textContent("#map-tooltip");
    assert.ok(NAMES.some((n) => tip.includes(`True: ${n}`)), tip);
    await page.locator("#ambiguity-table .ambiguity-row").nth(0).click();
    const title = await page.textContent("#selected-title");
    assert.ok(NAMES.some((n) => title.includes(`Actual: ${n}`)), title);
    // Nothing was made of the markup: no element, no script run.
    assert.equal(await page.$$eval("img[src='x']", (e) => e.length), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);

    // Exports: each CSV parses back (RFC 4180 quoting) to rows of the header's width, with
    // the names exactly; the JSON holds them exactly.
    const download = async (name) => {
      const [file] = await Promise.all([page.waitForEvent("download"), page.click(`button.export[data-file='${name}']`)]);
      return (await readFile(await file.path())).toString();
    };
    for (const name of ["ambiguity.csv", "map-prob.csv", "confusion.csv"]) {
      const rows = parseCsv(await download(name));
      const odd = rows.find((r) => r.length !== rows[0].length);
      assert.equal(odd, undefined, `${name}: a row not as wide as the header ${JSON.stringify(rows[0])}: ${JSON.stringify(odd)}`);
      const cells = new Set(rows.flat());
      for (const n of NAMES) assert.ok(cells.has(n), `${name} holds ${n} as one cell`);
    }
    const json = JSON.parse(await download("predictions.json"));
    assert.deepEqual([...json.classes].sort(), [...NAMES].sort());
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

/** RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and line breaks. */
function parseCsv(text) {
  const rows = [[]];
  let field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { rows.at(-1).push(field); field = ""; }
    else if (c === "\n") { rows.at(-1).push(field); field = ""; rows.push([]); }
    else if (c !== "\r") field += c;
  }
  if (field !== "" || rows.at(-1).length) rows.at(-1).push(field);
  return rows.filter((r) => r.length > 1 || (r.length === 1 && r[0] !== ""));
}

test("an analysis cancelled at any stage leaves the page consistent, and the next run is as if it never ran", { timeout: 600_000 }, async () => {
  const browser = await launchChromium();
  try {
    const { page, errors } = await loadedPage(browser, (await digitsFolder()).filter((_, i) => i % 3 === 0));
    await page.fill("#analysis-iterations", "300");
    const stage = () => page.$eval("#analysis-progress", (p) => p.dataset.stage);
    const mapsCsv = async () => {
      const out = [];
      for (const name of ["map-pool1.csv", "map-conv10.csv", "map-prob.csv", "ambiguity.csv"]) {
        const [download] = await Promise.all([page.waitForEvent("download"), page.click(`button[data-file="${name}"]`)]);
        out.push(await readFile(await download.path(), "utf8"));
      }
      return out;
    };
    const cancelWhen = async (test) => {
      await page.click("#analyze-run");
      await page.waitForFunction(test, null, { timeout: 300_000, polling: 10 });
      await page.click("#analyze-cancel");
      await page.waitForFunction(() => document.querySelector("#analysis-progress").dataset.stage === "cancelled", null, { timeout: 60_000 });
      assert.equal(await page.isEnabled("#analyze-run"), true, "the next run can start");
      return page.textContent("#analysis-progress");
    };

    // Cancelled in the network's passes: nothing to keep, and nothing half-made is shown.
    const early = await cancelWhen(() => /^Activations: \d+\/\d+/.test(document.querySelector("#analysis-progress").textContent));
    assert.match(early, /Cancelled after \d+ s; 0 map\(s\) finished and kept\./);
    // Cancelled during the second layer's t-SNE: the first map is kept and shown.
    const middle = await cancelWhen(() => {
      const s = document.querySelector("#analysis-progress").dataset.stage;
      return s === "tsne-conv10" || s === "tsne-prob";
    });
    assert.match(middle, /Cancelled after \d+ s; [0-2] map\(s\) finished and kept\./);
    assert.equal(errors.length, 0, errors.join("\n"));

    // Two full runs after the cancelled ones: the same maps and table, so nothing was left over.
    await runAnalysis(page, 300, 300_000);
    const first = await mapsCsv();
    await runAnalysis(page, 300, 300_000);
    assert.deepEqual(await mapsCsv(), first, "a run after cancelled runs equals the next one");
    assert.equal(first[0].trim().split("\n").length, 1 + 9, "every validation image mapped");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
