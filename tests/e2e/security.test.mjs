// The page runs under its Content-Security-Policy (index.html, filled in at build time by
// scripts/lib/csp-hashes, narrowed by www/boot.js) without a single violation, and requests
// nothing outside its own origin except a `?weights=` URL the person gave.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  DIST, FIXTURES, cspHash, dropFiles, inlineScripts, launchChromium, loadFixtureWeights, serveDist, waitForBackend,
} from "./helpers.mjs";

/** The policy's directives: { "script-src": ["'self'", …], … }. */
function directives(policy) {
  return Object.fromEntries(policy.split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name, values]));
}

test("the built page's policy allows no inline script but trunk's loader and no eval but WebAssembly's", async () => {
  const html = await readFile(join(DIST, "index.html"), "utf8");
  const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]+)"/g)];
  assert.equal(metas.length, 1, "one policy in the built page");
  const policy = directives(metas[0][1]);
  const scripts = policy["script-src"];
  assert.ok(scripts.includes("'self'") && scripts.includes("'wasm-unsafe-eval'"), scripts.join(" "));
  assert.ok(!scripts.includes("'unsafe-eval'") && !scripts.includes("'unsafe-inline'"), scripts.join(" "));
  const hashes = scripts.filter((s) => s.startsWith("'sha256-"));
  assert.deepEqual(hashes.sort(), inlineScripts(html).map(cspHash).sort(), "every inline script, and only those, allowed by hash");
  assert.deepEqual(policy["object-src"], ["'none'"]);
  assert.deepEqual(policy["default-src"], ["'self'"]);
});

test("no policy violation and no request outside the origin; ?weights= on another origin is the one exception", async () => {
  const site = await serveDist();
  const weightsHost = await serveDist({ cors: true }); // another port: another origin
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const requests = [];
    page.on("request", (request) => requests.push(request.url()));
    const origin = new URL(site.url).origin;
    const outside = () => requests.filter((url) => !url.startsWith(origin + "/") && !/^(blob|data):/.test(url));

    // A normal session: the page starts, loads weights, classifies a photo (blob: thumbnails).
    await page.goto(site.url);
    await waitForBackend(page);
    await loadFixtureWeights(page);
    const photo = { name: "china_227.png", type: "image/png", bytes: await readFile(join(FIXTURES, "photos/china_227.png")) };
    await dropFiles(page, "#images", [photo]);
    await page.waitForFunction(() => document.querySelectorAll(".result .top-class").length === 5, null, { timeout: 60_000 });
    assert.deepEqual(await page.evaluate(() => window.__violations), [], "the page broke none of its own rules");
    assert.deepEqual(outside(), [], "nothing requested outside the page's origin");

    // Anything else on another origin is refused by the policy, whoever asks.
    const elsewhere = `${weightsHost.url}fixtures/squeezenet/squeezenet1_1_random.onnx`;
    const outcome = await page.evaluate((url) => fetch(url).then(() => "fetched", () => "refused"), elsewhere);
    assert.equal(outcome, "refused");
    assert.match((await page.evaluate(() => window.__violations)).join("\n"), /connect-src/);

    // …except the weights URL the person typed, which the page says it fetches from.
    requests.length = 0;
    await page.goto(`${site.url}?weights=${encodeURIComponent(elsewhere)}`);
    await page.waitForFunction(() => {
      const status = document.querySelector("#model-status");
      return status && (status.textContent.startsWith("Loaded") || status.classList.contains("error"));
    }, null, { timeout: 60_000 });
    const status = await page.textContent("#model-status");
    assert.ok(status.startsWith(`Loaded ${elsewhere} (ONNX): 1000 classes`), status);
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(outside(), [elsewhere], "the weights URL and nothing else outside the origin");
  } finally {
    await browser.close();
    await site.close();
    await weightsHost.close();
  }
});
