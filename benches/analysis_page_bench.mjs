// The whole analysis in the page (activations of pool1, conv10 and prob for 341 validation
// images + three t-SNEs, MATLAB preset) on the CPU backend, or WebGPU with --webgpu: time, the
// wasm linear memory (where the activations live) and the renderer processes' peak RSS; and the
// time from the activations' end to the last map, once per count of compute workers asked
// (`--map-workers=0,1,2`: 0 makes the maps one after another on the page's thread, N runs them
// in N workers side by side; the default is the page's own choice, navigator.hardwareConcurrency).
//
//   node benches/analysis_page_bench.mjs [--webgpu] [--map-workers=0,2] [DIGITS_DIR]   (after trunk build --release)
//
// The data set is benches/analysis_bench.sh's: 972 digits PNGs whose 0.65 split leaves 341
// validation images. The network is the random-weight fixture, analysed without fine-tuning
// (fine-tuning 631 images takes minutes on a software adapter): its 1,000 ImageNet classes make
// conv10 as wide as pool1 (196,000 values per image), the heaviest case.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { dropFolder, launchChromium, loadFixtureWeights, serveDist, waitForBackend } from "../tests/e2e/helpers.mjs";

const webgpu = process.argv.includes("--webgpu");
const workerCounts = (process.argv.find((a) => a.startsWith("--map-workers="))?.split("=")[1] ?? "").split(",").filter((w) => w !== "");
const digits = process.argv.slice(2).find((a) => !a.startsWith("--")) || "../shared/datasets/digits";
const files = [];
for (let c = 0; c < 10; c++) {
  const names = readdirSync(join(digits, String(c))).sort().slice(0, c === 9 ? 99 : 97);
  for (const name of names) files.push({ path: `digits/${c}/${name}`, bytes: readFileSync(join(digits, String(c), name)) });
}
const rendererRss = () => {
  const out = execFileSync("ps", ["-eo", "rss,args"], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes("--type=renderer")).reduce((s, l) => s + Number(l.trim().split(/\s+/)[0]) * 1024, 0);
};
const mb = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;

const server = await serveDist();
const browser = await launchChromium({ webgpu });
const mapSeconds = [];
try {
  for (const workers of workerCounts.length ? workerCounts : [undefined]) {
    const page = await browser.newPage();
    await page.addInitScript(() => addEventListener("TrunkApplicationStarted", (e) => { window.__layerlensWasm = e.detail.wasm; }));
    const query = [webgpu ? "backend=webgpu" : "backend=cpu", workers === undefined ? "" : `map-workers=${workers}`].filter(Boolean).join("&");
    await page.goto(server.url + (query ? `?${query}` : ""));
    console.log(await waitForBackend(page));
    await loadFixtureWeights(page);
    await dropFolder(page, "#dataset", files);
    await page.waitForSelector("#dataset-summary", { timeout: 300_000 });
    console.log(await page.textContent("#dataset-summary"));
    const wasmBytes = () => page.evaluate(() => window.__layerlensWasm?.memory?.buffer.byteLength ?? 0);
    const wasmBefore = await wasmBytes();
    let peakRss = rendererRss();
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rendererRss()); }, 500);
    const started = Date.now();
    await page.click("#analyze-run");
    const stages = {};
    for (;;) {
      const stage = await page.$eval("#analysis-progress", (p) => p.dataset.stage);
      if (!stages[stage]) stages[stage] = (Date.now() - started) / 1000;
      if (["done", "failed"].includes(stage)) break;
      await page.waitForTimeout(250);
    }
    clearInterval(sampler);
    const seconds = (Date.now() - started) / 1000;
    const error = await page.$("#analysis-error");
    if (error) throw new Error(await error.textContent());
    console.log(await page.textContent("#analysis-source"));
    console.log(`analysis: ${seconds.toFixed(1)} s on ${webgpu ? "WebGPU" : "the CPU"}; stages began at ${JSON.stringify(stages)}`);
    console.log(`wasm linear memory: ${mb(wasmBefore)} before, ${mb(await wasmBytes())} after; renderer RSS peak ${mb(peakRss)}`);
    for (const i of [0, 1, 2]) console.log(`map ${i}: ${await page.textContent(`#map-quality-${i}`)}`);
    const mapsBegan = Math.min(...Object.entries(stages).filter(([s]) => s !== "activations" && s !== "done").map(([, t]) => t));
    const maps = seconds - mapsBegan;
    mapSeconds.push([workers ?? "default", maps]);
    console.log(`maps (from the activations' end to the last map): ${maps.toFixed(1)} s with map-workers=${workers ?? "default"}`);
    await page.close();
  }
  if (mapSeconds.length > 1) {
    const base = mapSeconds[0][1];
    for (const [workers, s] of mapSeconds) console.log(`| ${workers} | ${s.toFixed(1)} | ${(base / s).toFixed(2)}× |`);
  }
} finally {
  await browser.close();
  await server.close();
}
