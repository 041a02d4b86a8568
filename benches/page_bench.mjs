// Benchmark (not a test): the page's own "Measure images/s" in headless Chromium, on WebGPU
// (Chromium's software adapter unless the machine has a GPU) and on the CPU fallback.
// Needs a built page (./scripts/serve or `trunk build --release`) and tests/e2e's npm install.
//   node benches/page_bench.mjs
import { join } from "node:path";
import { FIXTURES, launchChromium, serveDist } from "../tests/e2e/helpers.mjs";

const server = await serveDist();
const browser = await launchChromium({ webgpu: true });
try {
  const page = await browser.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
  // WebGPU whatever the adapter (auto would pick the CPU on a software one); the bench panel
  // measures the CPU as well.
  await page.goto(`${server.url}?backend=webgpu`);
  await page.waitForFunction(() => document.querySelector("#backend")?.textContent.startsWith("Backend:"), null, { timeout: 120_000 });
  console.log(await page.textContent("#backend"));
  await page.setInputFiles("#weights-input", join(FIXTURES, "squeezenet/squeezenet1_1_random.safetensors"));
  await page.waitForFunction(() => document.querySelector("#model-status")?.textContent.includes("classes"));
  const started = Date.now();
  await page.click("#bench-run");
  await page.waitForFunction(() => !document.querySelector("#bench-run").disabled && document.querySelectorAll("#bench-results li").length > 0,
    null, { timeout: 1_800_000, polling: 1000 });
  for (const line of await page.$$eval("#bench-results li", (els) => els.map((e) => e.textContent))) console.log(line);
  console.log(`wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await browser.close();
  await server.close();
}
