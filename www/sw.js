// layerlens's service worker: after a first visit the site loads and runs with the network off.
//
// - The page itself (navigations): network first, so a new build is seen as soon as it is
//   online; the cached copy when offline.
// - Everything else of this site (the hashed .js/.wasm/.css, the demo, the weights): from the
//   cache when there, else from the network and then cached.
// - At install the page and everything it loads (read from index.html and the JS it imports)
//   are cached, and the demo data set whole: the first visit is enough to work offline, even
//   for "Try the demo" if it was never run online.
// - A new build replaces the old one cleanly: whenever the page is fetched from the network,
//   cached files the new page no longer references (old hashed builds) are deleted, and the
//   compute worker's files (which trunk does not hash: the page's wasm names them) are fetched
//   again, so a page never runs with an older build's worker.
//
// Everything is relative to this file's folder, so the site works under any sub-path.

const CACHE = "layerlens-v1";
const BASE = new URL("./", self.location.href).href;
/** Files that are data, not the build: kept across builds. */
const KEEP = ["demo/", "weights/", "favicon.svg"];
/** The compute workers' entry points (src/ui/map_workers.rs, src/ui/training_worker.rs): named
 *  by the page's wasm, not by index.html, and the same names in every build. */
const WORKERS = ["layerlens-map-worker", "layerlens-training-worker"];
const WORKER_ROOTS = WORKERS.map((name) => BASE + name + "_loader.js");
const isWorkerFile = (url) => WORKERS.some((name) => url.startsWith(BASE + name));

/** The site's files a page (or a script) refers to: attributes, imports, the wasm. */
function referencedBy(text, base) {
  const found = new Set();
  for (const match of text.matchAll(/(?:href|src)=["']([^"']+)["']|from\s*["']([^"']+)["']|["']([^"'\s]+\.wasm)["']|importScripts\(\s*["']([^"']+)["']/g)) {
    const url = new URL(match[1] || match[2] || match[3] || match[4], base).href;
    if (url.startsWith(BASE)) found.add(url.split("#")[0]);
  }
  return found;
}

/** Caches the page and every file it loads, the JS modules' own imports included, and the
 *  compute worker's files. */
async function cacheBuild(cache) {
  const page = await fetch(BASE);
  if (!page.ok) return;
  const html = await page.clone().text();
  await cache.put(BASE, page);
  await cacheFiles(cache, [...referencedBy(html, BASE), ...WORKER_ROOTS]);
}

/** Fetches `roots` and every file they refer to (revalidated with the server, not from the
 *  browser's HTTP cache) into the cache. */
async function cacheFiles(cache, roots) {
  const pending = [...roots];
  const seen = new Set(pending);
  while (pending.length) {
    const url = pending.pop();
    const response = await fetch(url, { cache: "no-cache" });
    if (!response.ok) continue;
    if (url.endsWith(".js")) {
      for (const next of referencedBy(await response.clone().text(), url)) {
        if (!seen.has(next)) { seen.add(next); pending.push(next); }
      }
    }
    await cache.put(url, response);
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cacheBuild(cache);
    try {
      const response = await fetch(BASE + "demo/manifest.json");
      if (response.ok) {
        const manifest = await response.clone().json();
        await cache.put(BASE + "demo/manifest.json", response);
        await cache.addAll(manifest.images.map((image) => BASE + "demo/" + image.path));
      }
    } catch (e) {
      // No demo on this site (or not reachable): the rest still works offline.
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

/** Deletes cached build files the freshly fetched page does not reference. */
async function pruneOldBuilds(cache, html) {
  const referenced = referencedBy(html, BASE);
  for (const request of await cache.keys()) {
    const url = request.url.split("?")[0];
    const isData = KEEP.some((prefix) => url.startsWith(BASE + prefix)) || isWorkerFile(url);
    const isBuild = /\.(js|wasm|css)$/.test(url) && !url.includes("/snippets/");
    if (!isData && isBuild && !referenced.has(url)) await cache.delete(request);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !request.url.startsWith(BASE)) return;
  // Whether the site ships weights may change with a new build: ask the network first, and
  // keep its answer (a 404 included, which says "no weights") for offline use.
  if (request.url.startsWith(BASE + "weights/manifest.json")) {
    event.respondWith((async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok || response.status === 404) await cache.put(request, response.clone());
        return response;
      } catch (offline) {
        return (await cache.match(request, { ignoreSearch: true })) || new Response("", { status: 404 });
      }
    })());
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith((async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok) {
          await cache.put(BASE, response.clone());
          event.waitUntil(response.clone().text().then(async (html) => {
            await pruneOldBuilds(cache, html);
            await cacheFiles(cache, WORKER_ROOTS);
          }));
        }
        return response;
      } catch (offline) {
        return (await cache.match(BASE)) || Response.error();
      }
    })());
    return;
  }
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  })());
});
