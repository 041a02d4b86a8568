// Shared pieces of the end-to-end tests: a static server for dist/, Chromium, file drops,
// and the fixture's reference tensors.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");
export const FIXTURES = join(ROOT, "tests/fixtures");
export const DIST = join(ROOT, "dist");

const TYPES = {
  ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css",
  ".png": "image/png", ".md": "text/markdown", ".safetensors": "application/octet-stream",
};

/** Serves dist/ on a free loopback port; resolves to { url, close, serve }. `/fixtures/…` serves the
 * test fixtures (for `?weights=URL`); with `bundledWeights` the fixture weights also appear as
 * the site's own, as `scripts/fetch-weights` would ship them in www/weights/: a manifest, the
 * weights and 1,000 class names. `dist` serves another build folder instead of dist/. With `cors`
 * every response allows any origin to read it (a weights host for `?weights=` on another origin). */
export async function serveDist({ bundledWeights = false, prefix = "/", dist = DIST, cors = false } = {}) {
  let root = dist;
  const server = createServer(async (req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    // With a prefix, the site lives under it (as on a static host's sub-path) and nowhere else.
    if (prefix !== "/") {
      if (!path.startsWith(prefix)) { res.writeHead(404).end("not found"); return; }
      path = "/" + path.slice(prefix.length);
    }
    if (bundledWeights && path === "/weights/manifest.json") {
      res.writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ weights: "squeezenet1_1.safetensors", classes: "imagenet_classes.txt" }));
      return;
    }
    if (bundledWeights && path === "/weights/imagenet_classes.txt") {
      res.writeHead(200, { "content-type": "text/plain" })
        .end(Array.from({ length: 1000 }, (_, i) => `fixture class ${i}`).join("\n") + "\n");
      return;
    }
    let file = join(root, path.endsWith("/") ? path + "index.html" : path);
    if (path.startsWith("/fixtures/")) file = join(FIXTURES, path.slice("/fixtures/".length));
    if (bundledWeights && path === "/weights/squeezenet1_1.safetensors") {
      file = join(FIXTURES, "squeezenet/squeezenet1_1_random.safetensors");
    }
    if (!file.startsWith(root) && !file.startsWith(FIXTURES)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      const headers = { "content-type": TYPES[extname(file)] || "application/octet-stream" };
      if (cors) headers["access-control-allow-origin"] = "*";
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  const close = () => new Promise((ok) => { server.close(ok); server.closeAllConnections(); });
  // `serve(dir)` switches the site to another build, as a host does when a new one is deployed.
  return { url: `http://127.0.0.1:${port}${prefix}`, close, serve: (dir) => { root = dir; } };
}

/** The text of each inline <script> of a page (the built page has one: trunk's loader), as
 * scripts/lib/csp-hashes finds them. */
export function inlineScripts(html) {
  return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    .filter((m) => !m[1].includes("src=") && m[2].trim()).map((m) => m[2]);
}

/** A script's Content-Security-Policy source: 'sha256-<base64>'. */
export function cspHash(text) {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** Debian's Chromium, headless, with no outside connections; WebGPU only when asked. */
export async function launchChromium({ webgpu = false } = {}) {
  const args = [
    "--no-sandbox", "--no-first-run", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
  ];
  if (webgpu) args.push("--enable-unsafe-webgpu");
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args });
}

/** Drops files on an element the way a person's drag and drop does (a DataTransfer of Files). */
export async function dropFiles(page, selector, files) {
  await page.waitForSelector(selector);
  const payload = files.map((f) => ({ name: f.name, type: f.type || "", base64: Buffer.from(f.bytes).toString("base64") }));
  await page.evaluate(({ selector, payload }) => {
    const transfer = new DataTransfer();
    for (const f of payload) {
      const raw = atob(f.base64);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const target = document.querySelector(selector);
    for (const type of ["dragenter", "dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  }, { selector, payload });
}

/** Reads one f32 tensor of a safetensors file: { shape, data: Float32Array }. */
export async function readSafetensor(path, key) {
  const bytes = await readFile(path);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString("utf8"));
  const info = header[key];
  if (!info || info.dtype !== "F32") throw new Error(`${key}: no F32 tensor in ${path}`);
  const [start, end] = info.data_offsets;
  const base = 8 + headerLen;
  const copy = bytes.subarray(base + start, base + end);
  const data = new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength));
  return { shape: info.shape, data };
}

/** Indices of the k largest values, largest first. */
export function topK(values, k) {
  return [...values.keys()].sort((a, b) => values[b] - values[a] || a - b).slice(0, k);
}

/** Drops folders the way a file manager does: the drop's items hand out directory entries
 * (the File and Directory Entries API), which the page walks. `files` are
 * { path: "top/class/name.png", bytes }. Headless browsers cannot drag real folders, so the
 * entries are built in the page from these bytes. */
export async function dropFolder(page, selector, files) {
  await page.waitForSelector(selector);
  const payload = files.map((f) => ({ path: f.path, base64: Buffer.from(f.bytes).toString("base64") }));
  await page.evaluate(({ selector, payload }) => {
    const root = { children: new Map() };
    for (const f of payload) {
      const raw = atob(f.base64);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      const parts = f.path.split("/");
      let node = root;
      for (const dir of parts.slice(0, -1)) {
        if (!node.children.has(dir)) node.children.set(dir, { children: new Map() });
        node = node.children.get(dir);
      }
      node.children.set(parts.at(-1), { file: new File([bytes], parts.at(-1)) });
    }
    const entry = (name, node, parent) => {
      const fullPath = `${parent}/${name}`;
      if (node.file) return { isFile: true, isDirectory: false, name, fullPath, file: (ok) => ok(node.file) };
      const children = [...node.children].map(([n, c]) => entry(n, c, fullPath));
      return {
        isFile: false, isDirectory: true, name, fullPath,
        // Like Chromium, hand the children out in batches until an empty batch.
        createReader() { let at = 0; return { readEntries(ok) { const b = children.slice(at, at + 50); at += 50; ok(b); } }; },
      };
    };
    const items = [...root.children].map(([n, c]) => ({ kind: "file", webkitGetAsEntry: () => entry(n, c, "") }));
    const event = new DragEvent("drop", { bubbles: true, cancelable: true });
    Object.defineProperty(event, "dataTransfer", { value: { items, files: [] } });
    document.querySelector(selector).dispatchEvent(event);
  }, { selector, payload });
}

/** Waits until the page has chosen its backend; resolves to the header's text ("Backend: …"). */
export async function waitForBackend(page) {
  await page.waitForFunction(() => document.querySelector("#backend")?.textContent.startsWith("Backend:"),
    null, { timeout: 120_000 });
  return page.textContent("#backend");
}

/** Loads the random-weight fixture with the weights file picker and waits until it is ready. */
export async function loadFixtureWeights(page) {
  await page.setInputFiles("#weights-input", join(FIXTURES, "squeezenet/squeezenet1_1_random.safetensors"));
  await page.waitForFunction(() => document.querySelector("#model-status")?.textContent.includes("classes"),
    null, { timeout: 60_000 });
}
