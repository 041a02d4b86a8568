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
//   cached files the new page no longer references (old hashed builds) are deleted.
//
// Everything is relative to this file's folder, so the site works under any sub-path.

const CACHE = "layerlens-v1";
const BASE = new URL("./", self.location.href).href;
/** Files that are data, not the build: kept across builds. */
const KEEP = ["demo/", "weights/", "favicon.svg"];

/** The site's files a page (or a JS module) refers to: attributes, imports, the wasm. */
function referencedBy(text, base) {
  const found = new Set();
  for (const match of text.matchAll(/(?:href|src)=["']([^"']+)["']|from\s*["']([^"']+)["']|["']([^"'\s]+\.wasm)["']/g)) {
    const url = new URL(match[1] || match[2] || match[3], base).href;
    if (url.startsWith(BASE)) found.add(url.split("#")[0]);
  }
  return found;
}

/** Caches the page and every file it loads, the JS modules' own imports included. */
async function cacheBuild(cache) {
  const page = await fetch(BASE);
  if (!page.ok) return;
  const html = await page.clone().text();
  await cache.put(BASE, page);
  const pending = [...referencedBy(html, BASE)];
  const seen = new Set(pending);
  while (pending.length) {
    const url = pending.pop();
    const response = await fetch(url);
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
    const isData = KEEP.some((prefix) => url.startsWith(BASE + prefix));
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
          event.waitUntil(response.clone().text().then((html) => pruneOldBuilds(cache, html)));
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
