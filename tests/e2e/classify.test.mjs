// End to end: headless Chromium drives the built page like a person — loads weights, drops
// photos, reads the top-5 classes — and checks them against onnxruntime's reference `prob`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FIXTURES, dropFiles, launchChromium, readSafetensor, serveDist, topK, loadFixtureWeights, waitForBackend } from "./helpers.mjs";

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

const PHOTOS = ["china_227.png", "flower_227.png"]; // the reference's photos_u8, 227×227 (no resize)

async function file(relative, type) {
  const name = relative.split("/").pop();
  return { name, type, bytes: await readFile(join(FIXTURES, relative)) };
}

test("CPU fallback: weights, two photos, top-5 with the reference probabilities, bad files", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(server.url);

    // Without a WebGPU adapter the page says so and uses the CPU.
    assert.match(await waitForBackend(page), /^Backend: CPU/);
    // The Speed panel says what it waits for; with weights loaded it can measure.
    assert.match(await page.textContent("#bench-needs"), /Load a network in step 2/);
    assert.equal(await page.$eval("#bench-run", (b) => b.disabled), true);

    await loadFixtureWeights(page);
    assert.match(await page.textContent("#model-status"), /1000 classes/);
    assert.equal(await page.$("#bench-needs"), null);
    assert.equal(await page.$eval("#bench-run", (b) => b.disabled), false);

    await dropFiles(page, "#images", await Promise.all(PHOTOS.map((p) => file(`photos/${p}`, "image/png"))));
    await page.waitForFunction(() => document.querySelectorAll(".result .top-class").length === 10,
      null, { timeout: 120_000 });

    const prob = await readSafetensor(join(FIXTURES, "squeezenet/reference.safetensors"), "prob");
    const shown = await page.$$eval(".result", (items) => items.map((li) => ({
      name: li.dataset.name,
      rows: [...li.querySelectorAll(".top-class")].map((tr) => ({
        cls: Number(tr.dataset.class), text: tr.querySelector(".prob").textContent,
      })),
      timing: li.querySelector(".timing")?.textContent,
    })));
    assert.deepEqual(shown.map((s) => s.name), PHOTOS);
    shown.forEach((image, i) => {
      const row = prob.data.subarray(i * 1000, (i + 1) * 1000);
      assert.deepEqual(image.rows.map((r) => r.cls), topK(row, 5), `${image.name}: top-5 classes`);
      for (const r of image.rows) {
        const expected = row[r.cls];
        // Three significant digits: half a unit of the third digit, plus the float32 tolerance.
        const unit = 10 ** (Math.floor(Math.log10(expected)) - 2);
        assert.ok(Math.abs(Number(r.text) - expected) <= unit / 2 + 5e-6,
          `${image.name} class ${r.cls}: shown ${r.text}, reference ${expected.toPrecision(6)}`);
        assert.equal(r.text.replace(/^0\.0*/, "").replace(".", "").length, 3, `${r.text} has 3 significant digits`);
      }
      assert.match(image.timing, /forward pass \d+ ms/);
    });

    // A text file and a truncated JPEG: a clear message each, and the page keeps working.
    const jpeg = await readFile(join(FIXTURES, "photos/china.jpg"));
    await dropFiles(page, "#images", [
      { name: "notes.txt", type: "text/plain", bytes: Buffer.from("this is not a picture") },
      { name: "broken.jpg", type: "image/jpeg", bytes: jpeg.subarray(0, 4000) },
    ]);
    await page.waitForFunction(() => document.querySelectorAll(".result .error").length === 2, null, { timeout: 60_000 });
    const messages = await page.$$eval(".result .error", (els) => els.map((e) => e.textContent));
    assert.match(messages[0], /notes\.txt: not a supported image/);
    assert.match(messages[1], /broken\.jpg: the JPEG data could not be decoded/);

    await dropFiles(page, "#images", [await file("photos/china_227.png", "image/png")]);
    await page.waitForFunction(() => document.querySelectorAll(".result .top-class").length === 15, null, { timeout: 60_000 });
    assert.deepEqual(errors, [], "no uncaught errors in the page");
  } finally {
    await browser.close();
  }
});

test("a wrong weights file is refused with a message naming the problem", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await waitForBackend(page);
    await page.setInputFiles("#weights-input", join(FIXTURES, "photos/china.jpg"));
    await page.waitForFunction(() => document.querySelector("#model-status.error"));
    assert.match(await page.textContent("#model-status"), /china\.jpg: not a weights file/);
  } finally {
    await browser.close();
  }
});

test("a software WebGPU adapter: auto picks the CPU and says why; the person can choose WebGPU, which reloads", async () => {
  // Chromium's only adapter here is SwiftShader, a software renderer (isFallbackAdapter).
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    assert.match(await waitForBackend(page),
      /^Backend: CPU \(WebGPU's only adapter here, .*swiftshader.*, is a software renderer, far slower than the CPU path\)/);
    assert.equal(await page.$eval("#backend-choice", (s) => s.value), "auto");
    await Promise.all([page.waitForNavigation(), page.selectOption("#backend-choice", "webgpu")]);
    assert.match(page.url(), /\?backend=webgpu$/);
    assert.match(await waitForBackend(page), /^Backend: WebGPU \(.*swiftshader.*, chosen with \?backend=webgpu\)/);
    assert.equal(await page.$eval("#backend-choice", (s) => s.value), "webgpu");
    // A value the page does not know is said, and the choice made automatically.
    await page.goto(`${server.url}?backend=tpu`);
    assert.match(await waitForBackend(page), /^Backend: CPU/);
    assert.match(await page.textContent("header .status.error"), /^\?backend=: unknown backend `tpu`: use auto, webgpu or cpu; choosing automatically$/);
  } finally {
    await browser.close();
  }
});

test("a hardware adapter: auto times WebGPU against the CPU, says so while it waits, and keeps the faster", async () => {
  // SwiftShader dressed as a discrete GPU (its adapter info replaced before the page asks), so
  // the page takes the branch real GPUs take: the short probe on both devices.
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      Object.defineProperty(GPUAdapter.prototype, "info", {
        get: () => ({ vendor: "nvidia", architecture: "ada-lovelace", description: "NVIDIA GeForce RTX 4070", device: "", isFallbackAdapter: false }),
      });
      // Every line the backend paragraph shows, in order (the probe's line lasts seconds).
      window.__backendLines = [];
      new MutationObserver(() => {
        const text = document.querySelector("#backend")?.textContent;
        if (text && window.__backendLines.at(-1) !== text) window.__backendLines.push(text);
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector("#backend")?.textContent.startsWith("Backend:"), null, { timeout: 300_000 });
    const shown = await page.textContent("#backend");
    const lines = await page.evaluate(() => window.__backendLines);
    assert.ok(lines.some((l) => /^Starting: timing WebGPU on .*RTX 4070.* against the CPU…$/.test(l)), lines.join(" | "));
    // Both speeds measured, and the choice follows them (the CPU only when clearly faster).
    const m = shown.match(/measured here: WebGPU ([\d.]+) images\/s, CPU ([\d.]+)\)$/);
    assert.ok(m, shown);
    const [gpu, cpu] = [Number(m[1]), Number(m[2])];
    console.log(`auto on a "hardware" adapter: ${shown}`);
    assert.ok(gpu > 0 && cpu > 0, shown);
    if (shown.startsWith("Backend: CPU")) {
      assert.match(shown, /^Backend: CPU \(faster than WebGPU on .*RTX 4070.*: measured here/);
      assert.ok(cpu + 0.1 > 1.25 * gpu, shown); // CPU_MARGIN, with the one decimal shown
    } else {
      assert.match(shown, /^Backend: WebGPU \(.*RTX 4070.*; measured here/);
      assert.ok(1.25 * gpu + 0.1 >= cpu, shown);
    }
    assert.equal(await page.$eval("#backend-choice", (s) => s.value), "auto");
  } finally {
    await browser.close();
  }
});

test("weights from ?weights=URL, and the site's bundled weights by default", async () => {
  const browser = await launchChromium({ webgpu: false });
  const bundled = await serveDist({ bundledWeights: true });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}?weights=fixtures/squeezenet/squeezenet1_1_random.onnx`);
    await page.waitForFunction(() => document.querySelector("#model-status")?.textContent.startsWith("Loaded"),
      null, { timeout: 60_000 });
    assert.match(await page.textContent("#model-status"), /squeezenet1_1_random\.onnx \(ONNX\): 1000 classes, 1,235,496 parameters/);
    // The status names the full address the weights came from.
    const fetchedFrom = new URL("fixtures/squeezenet/squeezenet1_1_random.onnx", page.url()).href;
    assert.ok((await page.textContent("#model-status")).includes(fetchedFrom), await page.textContent("#model-status"));

    // Only http(s) addresses are fetched: a shared link cannot make the page run or read others.
    for (const [given, scheme] of [["javascript:alert(1)", "javascript"], ["data:application/octet-stream,AAAA", "data"]]) {
      await page.goto(`${server.url}?weights=${encodeURIComponent(given)}`);
      await page.waitForFunction(() => document.querySelector("#model-status.error"), null, { timeout: 60_000 });
      assert.match(await page.textContent("#model-status"), new RegExp(`only http and https addresses are fetched, not \`${scheme}\``));
    }

    await page.goto(`${server.url}?weights=fixtures/no/such/file.onnx`);
    await page.waitForFunction(() => document.querySelector("#model-status.error"), null, { timeout: 60_000 });
    assert.match(await page.textContent("#model-status"), /not found/);

    // A site without weights/manifest.json ships none, and says what that means.
    await page.goto(server.url);
    await waitForBackend(page);
    assert.match(await page.textContent("#model-status"), /No pretrained weights loaded: fine-tuning would start from random weights/);

    // The manifest names the weights and their class names.
    await page.goto(bundled.url);
    await page.waitForFunction(() => document.querySelector("#model-status")?.textContent.startsWith("Loaded"),
      null, { timeout: 60_000 });
    assert.match(await page.textContent("#model-status"), /weights\/squeezenet1_1\.safetensors \(safetensors\)/);
    await dropFiles(page, "#images", [await file("photos/china_227.png", "image/png")]);
    await page.waitForFunction(() => document.querySelectorAll(".result .top-class").length === 5, null, { timeout: 60_000 });
    assert.equal(await page.textContent(".result .class-name"), "fixture class 989", "the manifest's class names are used");
  } finally {
    await browser.close();
    await bundled.close();
  }
});

test("a class-names file names the classes; a wrong count is refused with a message", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await waitForBackend(page);
    await dropFiles(page, "#weights", [
      { name: "names.txt", type: "text/plain", bytes: Buffer.from([...Array(1000).keys()].map((i) => `label${i}`).join("\n")) },
      await file("squeezenet/squeezenet1_1_random.safetensors", ""),
    ]);
    await page.waitForFunction(() => /1000 classes\.$/.test(document.querySelector("#class-names-status").textContent), null, { timeout: 60_000 });
    await dropFiles(page, "#images", [await file("photos/china_227.png", "image/png")]);
    await page.waitForFunction(() => document.querySelectorAll(".result .top-class").length === 5, null, { timeout: 60_000 });
    assert.equal(await page.textContent(".result .class-name"), "label989");

    await dropFiles(page, "#weights", [{ name: "short.txt", type: "text/plain", bytes: Buffer.from("cat\ndog\n") }]);
    await page.waitForFunction(() => /not used/.test(document.querySelector("#class-names-status").textContent));
    assert.match(await page.textContent("#class-names-status"), /short\.txt names 2 classes but the network has 1000/);
  } finally {
    await browser.close();
  }
});
