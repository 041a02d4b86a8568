// Assembles www/demo/, the page's embedded demo data set, from open-licensed emoji sets on npm
// (run by scripts/make-demo at development time; the output is committed).
//
// Classes: the Food & Drink subcategories of emoji-datasource (the reference workflow's theme is
// food). Each emoji is drawn by three sets — Twemoji (CC BY 4.0), Noto (Apache 2.0) and
// OpenMoji (CC BY-SA 4.0) — and each drawing is composited, at a seeded size and place, on one
// of several seeded backgrounds shared by every class, so a class cannot be told by its
// background. Deterministic: no clock, no platform randomness, files written in a fixed order;
// the same packages give the same bytes.
//
//   node make-demo.mjs OUT_DIR
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { Resvg, initWasm } from "@resvg/resvg-wasm";

/** A package's folder (some packages do not export their package.json). */
const pkg = (name) => join(dirname(fileURLToPath(import.meta.url)), "node_modules", name);
const version = (name) => JSON.parse(readFileSync(join(pkg(name), "package.json"), "utf8")).version;

/** Subcategory → class folder, in the order the page lists them. */
export const CLASSES = [
  ["food-fruit", "fruit"], ["food-vegetable", "vegetable"], ["food-prepared", "prepared"],
  ["food-asian", "asian"], ["food-sweet", "sweet"], ["drink", "drink"],
];
/** Images per class at most (each one emoji drawn by one set). */
const PER_CLASS = 36;
/** Side of every image, pixels (the network resizes to 227 anyway; small keeps the site small). */
const SIDE = 80;
/** Drawing size range, pixels. */
const MIN_DRAWN = 40, MAX_DRAWN = 64;

/** The emoji sets used, each with its licence and why redistributing it here is allowed. */
export const SETS = {
  twemoji: {
    title: "Twemoji (jdecked/twemoji fork, as packaged by emoji-datasource-twitter)",
    npm: "emoji-datasource-twitter", licence: "CC-BY-4.0",
    source: "https://github.com/jdecked/twemoji",
    licenceUrl: "https://creativecommons.org/licenses/by/4.0/",
    why: "CC BY 4.0 allows copying, redistributing and adapting (here: composited on a background) for any purpose, with attribution — given here.",
  },
  noto: {
    title: "Noto Emoji (Google, as packaged by emoji-datasource-google)",
    npm: "emoji-datasource-google", licence: "Apache-2.0",
    source: "https://github.com/googlefonts/noto-emoji",
    licenceUrl: "https://www.apache.org/licenses/LICENSE-2.0",
    why: "The Apache License 2.0 allows reproducing and distributing derivative works in any medium, with a copy of the licence (linked) and notice of changes (each image is composited on a background).",
  },
  openmoji: {
    title: "OpenMoji (HfG Schwäbisch Gmünd)",
    npm: "openmoji", licence: "CC-BY-SA-4.0",
    source: "https://openmoji.org",
    licenceUrl: "https://creativecommons.org/licenses/by-sa/4.0/",
    why: "CC BY-SA 4.0 allows copying, redistributing and adapting with attribution, if adaptations are shared under the same licence: these composites are CC BY-SA 4.0.",
  },
};

/** A 32-bit FNV-1a hash of a string: the seed of everything about one image. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h;
}

/** mulberry32: a small seeded generator, the same everywhere. */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Background colours: light and dark, warm and cool, so none belongs to a class. */
const COLOURS = [
  [245, 240, 225], [220, 235, 245], [235, 220, 240], [225, 245, 225], [250, 225, 215],
  [60, 70, 90], [90, 60, 60], [50, 80, 70], [120, 120, 120], [200, 180, 140],
];

/** Fills an RGB canvas with one of four kinds of background. */
function background(random) {
  const pick = () => COLOURS[Math.floor(random() * COLOURS.length)];
  const a = pick(), b = pick(), kind = Math.floor(random() * 4);
  const period = 8 + Math.floor(random() * 10);
  const rgb = new Float64Array(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let t;
      if (kind === 0) t = y / (SIDE - 1); // vertical gradient
      else if (kind === 1) t = Math.floor((x + y) / period) % 2; // diagonal stripes
      else if (kind === 2) t = Math.min(1, Math.hypot(x - SIDE / 2, y - SIDE / 2) / (SIDE / 1.4)); // vignette
      else t = (Math.floor(x / period) + Math.floor(y / period)) % 2 ? 0.35 : 0; // soft checks
      for (let c = 0; c < 3; c++) rgb[(y * SIDE + x) * 3 + c] = a[c] * (1 - t) + b[c] * t;
    }
  }
  return rgb;
}

/** Draws an RGBA image (w × h), scaled to `size` with bilinear filtering of premultiplied
 * colour, over the canvas at (left, top). */
function composite(canvas, rgba, w, h, size, left, top) {
  const at = (x, y, c) => rgba[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * 4 + c];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const cx = left + x, cy = top + y;
      if (cx < 0 || cy < 0 || cx >= SIDE || cy >= SIDE) continue;
      const sx = ((x + 0.5) * w) / size - 0.5, sy = ((y + 0.5) * h) / size - 0.5;
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      const weights = [[x0, y0, (1 - fx) * (1 - fy)], [x0 + 1, y0, fx * (1 - fy)], [x0, y0 + 1, (1 - fx) * fy], [x0 + 1, y0 + 1, fx * fy]];
      let alpha = 0;
      const colour = [0, 0, 0];
      for (const [px, py, wgt] of weights) {
        const a = at(px, py, 3) / 255;
        alpha += a * wgt;
        for (let c = 0; c < 3; c++) colour[c] += at(px, py, c) * a * wgt;
      }
      const i = (cy * SIDE + cx) * 3;
      for (let c = 0; c < 3; c++) canvas[i + c] = colour[c] + canvas[i + c] * (1 - alpha);
    }
  }
}

/** The set's drawing of an emoji as RGBA, or null where the set has none. */
function drawing(set, emoji) {
  if (set === "twemoji" || set === "noto") {
    const folder = set === "twemoji" ? "twitter" : "google";
    if (!emoji[`has_img_${folder}`]) return null;
    const png = PNG.sync.read(readFileSync(join(pkg(SETS[set].npm), "img", folder, "64", emoji.image)));
    return { rgba: png.data, w: png.width, h: png.height };
  }
  for (const code of [emoji.unified, emoji.non_qualified].filter(Boolean)) {
    let svg;
    try { svg = readFileSync(join(pkg("openmoji"), "color", "svg", `${code}.svg`)); } catch { continue; }
    const image = new Resvg(svg, { fitTo: { mode: "width", value: 64 }, font: { loadSystemFonts: false } }).render();
    return { rgba: image.pixels, w: image.width, h: image.height };
  }
  return null;
}

function attribution(counts) {
  const lines = [
    "# The demo data set: where its images come from",
    "",
    "Each image is one emoji, drawn by one of the sets below, scaled and composited on a",
    "generated background by `scripts/make-demo` (deterministic; see that script). The classes are",
    "the Food & Drink subcategories of emoji-datasource " + version("emoji-datasource") + " (MIT).",
    "Apple's and Facebook's emoji sets are not used: Apple's are not licensed for redistribution",
    "and Facebook's have no clear licence (emoji-datasource's README says so).",
    "",
    "Machine-read lines (tests check every image's set against them): `set <name>: <SPDX licence>`.",
    "",
  ];
  for (const [name, set] of Object.entries(SETS)) {
    lines.push(`## ${set.title}`, "", `set ${name}: ${set.licence}`, "",
      `- Package: ${set.npm} ${version(set.npm)} (npm)`, `- Source: ${set.source}`,
      `- Licence: ${set.licence} (${set.licenceUrl})`, `- Images: ${counts[name] || 0}, file names ending in \`-${name}.png\``,
      `- Why it may be redistributed here: ${set.why}`, "");
  }
  return lines.join("\n");
}

async function main() {
  const out = process.argv[2];
  if (!out) throw new Error("usage: node make-demo.mjs OUT_DIR");
  await initWasm(readFileSync(join(pkg("@resvg/resvg-wasm"), "index_bg.wasm")));
  const emoji = JSON.parse(readFileSync(join(pkg("emoji-datasource"), "emoji.json"), "utf8"))
    .sort((a, b) => a.sort_order - b.sort_order);
  rmSync(out, { recursive: true, force: true });
  const images = [];
  const counts = {};
  for (const [subcategory, folder] of CLASSES) {
    const candidates = [];
    for (const e of emoji.filter((e) => e.subcategory === subcategory)) {
      for (const set of Object.keys(SETS)) candidates.push({ e, set, key: `${folder}/${e.short_name}-${set}` });
    }
    // A seeded choice of PER_CLASS drawings, then in name order.
    const shuffle = generator(hash(folder));
    const order = candidates.map((c) => [shuffle(), c]).sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    const chosen = [];
    for (const c of order) {
      if (chosen.length === PER_CLASS) break;
      const drawn = drawing(c.set, c.e);
      if (drawn) chosen.push({ ...c, drawn });
    }
    chosen.sort((a, b) => (a.key < b.key ? -1 : 1));
    mkdirSync(join(out, folder), { recursive: true });
    for (const { e, set, key, drawn } of chosen) {
      const random = generator(hash(key));
      const canvas = background(random);
      const size = MIN_DRAWN + Math.floor(random() * (MAX_DRAWN - MIN_DRAWN + 1));
      const left = Math.floor(random() * (SIDE - size + 1)), top = Math.floor(random() * (SIDE - size + 1));
      composite(canvas, drawn.rgba, drawn.w, drawn.h, size, left, top);
      const png = new PNG({ width: SIDE, height: SIDE, colorType: 2, inputColorType: 2, inputHasAlpha: false });
      png.data = Buffer.from(Uint8Array.from(canvas, (v) => Math.max(0, Math.min(255, Math.round(v)))));
      const path = `${key}.png`;
      writeFileSync(join(out, path), PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 9 }));
      images.push({ path, class: folder, set, emoji: e.name.toLowerCase() });
      counts[set] = (counts[set] || 0) + 1;
    }
  }
  const manifest = { format: "layerlens-demo/1", classes: CLASSES.map(([, f]) => f), images };
  writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
  writeFileSync(join(out, "ATTRIBUTION.md"), attribution(counts));
  console.error(`${images.length} images in ${CLASSES.length} classes → ${out}`);
}

await main();
