// The tab's memory with a large labelled data set loaded (issue: "a 1,000-photo set of
// multi-megapixel JPEGs fits comfortably — measure and report the tab's memory").
//
//   node benches/dataset_memory.mjs [--count 1000] [--width 3000] [--height 2000] [--classes 4] [--work] [--dist DIR]
//
// With --work, it then goes on through one epoch of fine-tuning (the fixture's random weights,
// mini-batches of 32, no augmentation) and the analysis (300 t-SNE iterations), sampling the
// memory every second; the peaks are reported. The large case:
//   node benches/dataset_memory.mjs --count 5000 --width 4000 --height 3000 --work
//
// Makes COUNT JPEGs (quality 90, a smooth gradient with mild noise and a few shapes, so they
// compress like photos) in CLASSES folders under a temporary directory, with Pillow from the
// Python environment of benches/tsne_bench.sh (installs it there from PyPI if missing); picks
// the folder with the page's folder picker in headless Chromium (CPU backend); waits for the
// summary; then reports the page's memory: the JS heap (CDP Runtime.getHeapUsage), the wasm
// linear memory (where the data set lives), and the resident set size of the renderer
// processes (the tab as the operating system sees it). Needs dist/ (./scripts/serve builds it).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readdirSync, statSync, existsSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium, loadFixtureWeights, serveDist, waitForBackend } from "../tests/e2e/helpers.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const work = process.argv.includes("--work");
const count = arg("count", 1000), width = arg("width", 3000), height = arg("height", 2000), classes = arg("classes", 4);

const venv = process.env.LAYERLENS_BENCH_VENV || join(homedir(), ".cache/layerlens/bench-venv");
if (!existsSync(join(venv, "bin/python"))) execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
const python = join(venv, "bin/python");
try {
  execFileSync(python, ["-c", "import PIL, numpy"], { stdio: "ignore" });
} catch {
  execFileSync(join(venv, "bin/pip"), ["install", "--quiet", "pillow", "numpy"], { stdio: "inherit" });
}

const dir = mkdtempSync(join(tmpdir(), "layerlens-photos-"));
console.log(`making ${count} JPEGs of ${width}×${height} in ${dir} …`);
execFileSync(python, ["-c", `
import numpy as np, os, sys
from PIL import Image, ImageDraw
count, w, h, k, out = ${count}, ${width}, ${height}, ${classes}, ${JSON.stringify(dir)}
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
bases = [np.stack([(xx / w) * 200 + 30 * c, (yy / h) * 180, ((xx + yy) / (w + h)) * 220], -1) for c in range(k)]
noise = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
for i in range(count):
    c = i % k
    os.makedirs(f"{out}/class{c}", exist_ok=True)
    shifted = np.roll(noise, (int(rng.integers(0, h)), int(rng.integers(0, w))), axis=(0, 1))
    img = np.clip(bases[c] + shifted, 0, 255).astype(np.uint8)
    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 200)), int(rng.integers(0, h - 200))
        d.ellipse([x0, y0, x0 + int(rng.integers(50, 600)), y0 + int(rng.integers(50, 600))], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    im.save(f"{out}/class{c}/photo{i:04d}.jpg", quality=90)
`], { stdio: "inherit" });
let bytes = 0;
for (const c of readdirSync(dir)) for (const f of readdirSync(join(dir, c))) bytes += statSync(join(dir, c, f)).size;
console.log(`${count} files, ${(bytes / 1e6).toFixed(0)} MB on disk (${(bytes / count / 1e6).toFixed(2)} MB each)`);

// The renderer processes of this bench's own browser (a test running beside it has its own):
// the descendants of the browser process that launchChromium started.
const processes = () => execFileSync("ps", ["-eo", "pid,ppid,rss,args"], { encoding: "utf8" }).split("\n").slice(1)
  .filter((l) => l.trim()).map((l) => {
    const [pid, ppid, rss, ...args] = l.trim().split(/\s+/);
    return { pid: Number(pid), ppid: Number(ppid), rss: Number(rss) * 1024, args: args.join(" ") };
  });
const browserPids = () => new Set(processes().filter((p) => p.args.includes("--remote-debugging-pipe")).map((p) => p.pid));
let ownBrowser = null;
const rendererRss = () => {
  const all = processes();
  const ours = new Set([ownBrowser]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) if (ours.has(p.ppid) && !ours.has(p.pid)) { ours.add(p.pid); grew = true; }
  }
  return all.filter((p) => ours.has(p.pid) && p.args.includes("--type=renderer")).reduce((s, p) => s + p.rss, 0);
};

// --dist DIR serves another build (a copy, so a rebuild of dist/ during a long run cannot pull
// the worker's wasm out from under it).
const distAt = process.argv.indexOf("--dist");
const server = await serveDist(distAt > 0 ? { dist: process.argv[distAt + 1] } : {});
const before = browserPids();
const browser = await launchChromium();
ownBrowser = [...browserPids()].find((pid) => !before.has(pid));
if (!ownBrowser) throw new Error("could not find the browser process this bench launched");
try {
  const page = await browser.newPage();
  page.on("crash", () => console.log(`THE TAB CRASHED (renderer RSS before: ${(rendererRss() / 1e6).toFixed(0)} MB)`));
  page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
  page.on("close", () => console.log(`${new Date().toISOString()} the page closed`));
  browser.on("disconnected", () => console.log(`${new Date().toISOString()} the browser went away`));
  page.on("console", (m) => { if (m.type() === "error") console.log(`console error: ${m.text().slice(0, 500)}`); });
  const cdp = await page.context().newCDPSession(page);
  // trunk announces the instantiated module: keep it to read the wasm memory's size.
  await page.addInitScript(() => addEventListener("TrunkApplicationStarted", (e) => { window.__layerlensWasm = e.detail.wasm; }));
  await page.goto(server.url + "?backend=cpu");
  await waitForBackend(page);
  const heap = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    return cdp.send("Runtime.getHeapUsage");
  };
  const wasmBytes = () => page.evaluate(() => window.__layerlensWasm?.memory?.buffer.byteLength ?? 0);
  const before = await heap();
  const wasmBefore = await wasmBytes();
  const rssBefore = rendererRss();
  const t0 = Date.now();
  await page.setInputFiles("#dataset-folder-input", dir);
  await page.waitForSelector("#dataset-summary, .status.error", { timeout: 3_600_000 });
  const seconds = (Date.now() - t0) / 1e3;
  const after = await heap();
  const wasmAfter = await wasmBytes();
  const rssAfter = rendererRss();
  const mb = (v) => `${(v / 1e6).toFixed(0)} MB`;
  const shown = await page.$eval("#dataset-summary", (p) => p.textContent).catch(() => "no summary");
  console.log(`loaded in ${seconds.toFixed(0)} s: ${shown}`);
  console.log(`| | before | after ${count} photos |`);
  console.log(`|---|---:|---:|`);
  console.log(`| JS heap used | ${mb(before.usedSize)} | ${mb(after.usedSize)} |`);
  console.log(`| wasm linear memory | ${mb(wasmBefore)} | ${mb(wasmAfter)} |`);
  console.log(`| renderer processes' RSS | ${mb(rssBefore)} | ${mb(rssAfter)} |`);
  console.log(`(encoded files: ${mb(bytes)})`);
  if (work) {
    // The peaks while it trains and analyses: sampled every second.
    let peakRss = rssAfter, peakWasm = wasmAfter, ticks = 0;
    const sampler = setInterval(async () => {
      peakRss = Math.max(peakRss, rendererRss());
      peakWasm = Math.max(peakWasm, await wasmBytes().catch(() => 0));
      // Where the work is, every minute (a long run that stops says where it stopped).
      if (++ticks % 60 === 0) {
        const where = await page.$$eval("#train-progress, #analysis-progress", (ps) => ps.map((p) => p.textContent).join(" / ")).catch((e) => `(${e.message.split("\n")[0]})`);
        console.log(`${new Date().toISOString()} ${where}; renderer RSS ${mb(rendererRss())}`);
      }
    }, 1000);
    const stage = async (name, run) => {
      const t = Date.now();
      await run();
      console.log(`${name}: ${((Date.now() - t) / 1e3).toFixed(0)} s; peaks so far: renderer RSS ${mb(peakRss)}, wasm ${mb(peakWasm)}`);
    };
    await stage("one epoch of fine-tuning and its validation", async () => {
      await loadFixtureWeights(page);
      await page.fill("#epochs", "1");
      await page.fill("#batch-size", "32");
      for (const box of ["#flip-lr", "#flip-ud", "#scale"]) await page.uncheck(box);
      await page.click("#train-start");
      await page.waitForSelector("#validation-accuracy, #train-error, #train-interrupted", { timeout: 6 * 3_600_000 });
    });
    await stage("the analysis", async () => {
      await page.fill("#analysis-iterations", "300");
      await page.click("#analyze-run");
      await page.waitForSelector("#exports button[data-file='map-prob.csv'], #analysis-failure", { timeout: 6 * 3_600_000 });
    });
    clearInterval(sampler);
    const failed = await page.$$eval("#train-error, #train-interrupted, #analysis-failure", (els) => els.map((e) => e.textContent).join(" "));
    if (failed) console.log(`FAILED: ${failed}`);
    console.log(`| through one epoch and the analysis | peak |`);
    console.log(`|---|---:|`);
    console.log(`| wasm linear memory | ${mb(peakWasm)} |`);
    console.log(`| renderer processes' RSS | ${mb(peakRss)} |`);
  }
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
