// Benchmark (not a test): SqueezeNet 1.1 in layerlens's page against onnxruntime-web (npm, pinned
// in benches/ort/package-lock.json) on the same model file, in the same headless Chromium run:
// onnxruntime-web's wasm execution provider on one thread against the page's CPU path, and its
// WebGPU provider against the page on WebGPU; batch 1 and 32, the warm-up pass excluded, the
// median of the timed passes; the same synthetic inputs (model::benchmark::synthetic_images).
// onnxruntime-web's WebGPU provider refuses SqueezeNet's ceil-mode max pools, so it gets the
// same file with each rewritten as a floor-mode pool padded by one at the end (the same output:
// checked here on the wasm provider against the original, bit for bit expected).
// Needs a built page (./scripts/serve or `trunk build --release`) and tests/e2e's npm install.
//   node benches/ort_bench.mjs [--cpu-only]
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FIXTURES, ROOT, launchChromium, loadFixtureWeights, serveDist } from "../tests/e2e/helpers.mjs";

const cpuOnly = process.argv.includes("--cpu-only");
const ORT = join(ROOT, "benches/ort");
if (!existsSync(join(ORT, "node_modules/onnxruntime-web"))) {
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: ORT, stdio: "inherit" });
}
const ORT_DIST = join(ORT, "node_modules/onnxruntime-web/dist");
const RUNS = [{ batch: 1, repeat: 7 }, { batch: 32, repeat: 3 }];

/** The fixture's ONNX with every MaxPool's ceil_mode 1 → 0 and pads [0,0,0,0] → [0,0,1,1]:
 * a byte-for-byte patch of the protobuf within each MaxPool node's attributes (both fields are
 * one-byte varints, so no length moves; the convolutions' own pads are left alone). */
function floorModePools(bytes) {
  const ceil = Buffer.from([0x0a, 0x09, ...Buffer.from("ceil_mode"), 0x18, 0x01]);
  const pads = Buffer.from([0x0a, 0x04, ...Buffer.from("pads"), 0x40, 0, 0x40, 0, 0x40, 0, 0x40, 0]);
  let pools = 0;
  for (let at = bytes.indexOf("MaxPool"); at >= 0; at = bytes.indexOf("MaxPool", at + 1)) {
    // The node's attributes follow its op_type: ceil_mode, kernel_shape, pads, strides.
    const window = bytes.subarray(at, at + 128);
    const c = window.indexOf(ceil), p = window.indexOf(pads);
    if (c < 0 || p < 0) throw new Error(`MaxPool at byte ${at}: ceil_mode 1 and pads 0 not found`);
    window[c + ceil.length - 1] = 0;
    window[p + pads.length - 3] = 1;
    window[p + pads.length - 1] = 1;
    pools++;
  }
  if (pools !== 3) throw new Error(`expected SqueezeNet's 3 max pools, found ${pools}`);
  return bytes;
}

const original = await readFile(join(FIXTURES, "squeezenet/squeezenet1_1_random.onnx"));
const floor = floorModePools(Buffer.from(original));

// The page that runs onnxruntime-web, served beside layerlens's own files (same origin).
const ORT_PAGE = `<!doctype html><meta charset="utf-8"><title>onnxruntime-web bench</title>
<script type="module">
import * as ort from "./ort/ort.all.min.mjs";
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
// model::benchmark::synthetic_images, value for value.
function synthetic(batch) {
  const n = 3 * 227 * 227, data = new Float32Array(batch * n);
  for (let i = 0; i < batch; i++) for (let j = 0; j < n; j++) data[i * n + j] = ((i * 7919 + j * 104729) % 1000) / 500 - 1;
  return data;
}
window.ortRun = async ({ model, provider, batch, repeat }) => {
  const bytes = new Uint8Array(await (await fetch("./models/" + model)).arrayBuffer());
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider] });
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", synthetic(batch), [batch, 3, 227, 227]) };
  const read = async () => { const out = await session.run(feeds); return out[session.outputNames[0]].getData ? await out[session.outputNames[0]].getData() : out[session.outputNames[0]].data; };
  let start = performance.now();
  const output = await read();
  const first = (performance.now() - start) / 1000;
  const times = [];
  for (let r = 0; r < repeat; r++) { start = performance.now(); await read(); times.push((performance.now() - start) / 1000); }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  await session.release();
  return { imagesPerSecond: batch / median, first, output: Array.from(output.slice(0, 1000)) };
};
window.ortReady = true;
</script>`;

const TYPES = { ".mjs": "text/javascript", ".wasm": "application/wasm", ".js": "text/javascript" };
const server = await serveDist();
const browser = await launchChromium({ webgpu: !cpuOnly });
const results = [];
try {
  // layerlens: the page's own "Measure images/s" (WebGPU, then the CPU), forced onto WebGPU
  // whatever the adapter so both devices are measured.
  {
    const context = await browser.newContext({ serviceWorkers: "block" });
    const page = await context.newPage();
    await page.goto(`${server.url}?backend=${cpuOnly ? "cpu" : "webgpu"}`);
    await page.waitForFunction(() => document.querySelector("#backend")?.textContent.startsWith("Backend:"), null, { timeout: 120_000 });
    console.log(await page.textContent("#backend"));
    await loadFixtureWeights(page);
    await page.click("#bench-run");
    await page.waitForFunction(() => !document.querySelector("#bench-run").disabled && document.querySelectorAll("#bench-results li").length > 0,
      null, { timeout: 3_600_000, polling: 1000 });
    for (const line of await page.$$eval("#bench-results li", (els) => els.map((e) => e.textContent))) {
      console.log("layerlens", line);
      const m = line.match(/^(CPU|WebGPU): ([\d.]+) images\/s on a (\d+)-image batch/);
      if (m) results.push({ engine: "layerlens", device: m[1], batch: +m[3], ips: +m[2] });
    }
    await context.close();
  }
  // onnxruntime-web in a page of its own on the same origin.
  {
    const context = await browser.newContext({ serviceWorkers: "block" });
    const page = await context.newPage();
    page.on("console", (m) => { if (m.type() === "error") console.error("ort page:", m.text()); });
    await page.route("**/ort-bench/**", async (route) => {
      const path = new URL(route.request().url()).pathname.replace(/^.*\/ort-bench\//, "");
      if (path === "" || path === "index.html") return route.fulfill({ contentType: "text/html", body: ORT_PAGE });
      if (path === "models/original.onnx") return route.fulfill({ contentType: "application/octet-stream", body: original });
      if (path === "models/floor.onnx") return route.fulfill({ contentType: "application/octet-stream", body: floor });
      if (path.startsWith("ort/")) {
        const file = join(ORT_DIST, path.slice(4));
        const ext = file.slice(file.lastIndexOf("."));
        try { return route.fulfill({ contentType: TYPES[ext] || "application/octet-stream", body: await readFile(file) }); }
        catch { return route.fulfill({ status: 404, body: "not found" }); }
      }
      return route.fulfill({ status: 404, body: "not found" });
    });
    await page.goto(`${server.url}ort-bench/index.html`);
    await page.waitForFunction(() => window.ortReady === true, null, { timeout: 60_000 });
    // The rewrite changes nothing the network computes: both files on the wasm provider.
    const a = await page.evaluate((o) => window.ortRun(o), { model: "original.onnx", provider: "wasm", batch: 1, repeat: 1 });
    const b = await page.evaluate((o) => window.ortRun(o), { model: "floor.onnx", provider: "wasm", batch: 1, repeat: 1 });
    const diff = Math.max(...a.output.map((v, i) => Math.abs(v - b.output[i])));
    console.log(`floor-mode rewrite: largest output difference ${diff} on the wasm provider`);
    if (!(diff <= 1e-6)) throw new Error("the floor-mode rewrite changed the network's output");
    const providers = cpuOnly ? [["wasm", "original.onnx", "CPU"]] : [["wasm", "original.onnx", "CPU"], ["webgpu", "floor.onnx", "WebGPU"]];
    for (const [provider, model, device] of providers) {
      for (const { batch, repeat } of RUNS) {
        try {
          const r = await page.evaluate((o) => window.ortRun(o), { model, provider, batch, repeat });
          console.log(`onnxruntime-web ${provider}: ${r.imagesPerSecond.toFixed(1)} images/s on a ${batch}-image batch (median of ${repeat}; first pass ${r.first.toFixed(1)} s)`);
          results.push({ engine: "ort", device, batch, ips: r.imagesPerSecond });
        } catch (e) {
          console.log(`onnxruntime-web ${provider}, batch ${batch}: failed: ${e.message.split("\n")[0]}`);
        }
      }
    }
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}

const date = new Date().toISOString().slice(0, 10);
console.log(`\n${date}, headless Chromium (${process.env.CHROMIUM || "/usr/bin/chromium"}), this machine's cores: ${(await import("node:os")).cpus().length}`);
console.log("| device | batch | layerlens images/s | onnxruntime-web images/s | layerlens ÷ ort |");
console.log("|---|---|---|---|---|");
for (const device of cpuOnly ? ["CPU"] : ["CPU", "WebGPU"]) {
  for (const { batch } of RUNS) {
    const ll = results.find((r) => r.engine === "layerlens" && r.device === device && r.batch === batch);
    const ort = results.find((r) => r.engine === "ort" && r.device === device && r.batch === batch);
    const cell = (r) => (r ? r.ips.toFixed(1) : "—");
    console.log(`| ${device} | ${batch} | ${cell(ll)} | ${cell(ort)} | ${ll && ort ? (ll.ips / ort.ips).toFixed(2) + "×" : "—"} |`);
  }
}
