// End to end: whatever people drop, every place that takes a file answers with a specific
// message and stays usable — the next good action succeeds. Images (classify and data set),
// weights, matrices and session files; 0-byte files, text named like an image, files cut short
// at a tenth, a third, two thirds and all but their last bytes, a PNG that claims 30000×30000
// pixels; and the odd but valid images that must work: CMYK and grey JPEGs, a 16-bit PNG, a
// palette PNG with transparency, a 1×1 image, an animated GIF and a JPEG whose EXIF block is
// nonsense (tests/fixtures/bad-input/, written by scripts/make-bad-inputs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateRawSync, deflateSync } from "node:zlib";
import { FIXTURES, dropFiles, dropFolder, launchChromium, loadFixtureWeights, serveDist, waitForBackend } from "./helpers.mjs";

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

const BAD = join(FIXTURES, "bad-input");
const fixture = (name) => readFile(join(BAD, name));

/** The odd but valid images: each must be accepted and classified. */
const ODD_BUT_VALID = ["cmyk.jpg", "grey.jpg", "grey-16bit.png", "palette-transparent.png", "one-pixel.png", "animated.gif", "exif-nonsense.jpg"];

/** Files no image reader should take, each with the message it must get. */
async function badImages() {
  const jpeg = await fixture("noisy.jpg");
  const png = await fixture("noisy.png");
  const cuts = (bytes, ext) => [
    [`tenth.${ext}`, bytes.subarray(0, Math.floor(bytes.length / 10)), /cut short|could not be decoded/],
    [`third.${ext}`, bytes.subarray(0, Math.floor(bytes.length / 3)), /cut short/],
    [`two-thirds.${ext}`, bytes.subarray(0, Math.floor((2 * bytes.length) / 3)), /cut short/],
    [`all-but-the-end.${ext}`, bytes.subarray(0, bytes.length - 2), /cut short/],
  ];
  return [
    ["empty.jpg", Buffer.alloc(0), /not a supported image/],
    ["notes.jpg", Buffer.from("Shopping list: eggs, flour, milk.\n"), /not a supported image/],
    ...cuts(jpeg, "jpg"),
    ...cuts(png, "png"),
    ["claims-30000x30000.png", await fixture("claims-30000x30000.png"), /30000×30000 = 900 megapixels; the limit is 100 megapixels/],
  ];
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An 8×8 RGB PNG of one colour with a little noise from `seed`. */
function tinyPng([r, g, b], seed) {
  const rows = [];
  for (let y = 0; y < 8; y++) {
    rows.push(0);
    for (let x = 0; x < 8; x++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const noise = (seed >>> 24) % 16;
      rows.push(Math.min(255, r + noise), Math.min(255, g + noise), Math.min(255, b + noise));
    }
  }
  const chunk = (kind, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(kind, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const header = Buffer.from([0, 0, 0, 8, 0, 0, 0, 8, 8, 2, 0, 0, 0]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.from(rows))), chunk("IEND", Buffer.alloc(0))]);
}

/** A zip archive of `entries` (name → text), stored without compression. */
function storedZip(entries) {
  return zipArchive(Object.entries(entries).map(([name, text]) => {
    const data = Buffer.from(text);
    return { name, body: data, method: 0, crc: crc32(data), size: data.length };
  }));
}

/** A zip archive of `[{ name, body, method (0 stored, 8 deflated), crc, size }]`: `body` is what
 * the archive holds, `crc` and `size` what its headers declare about the inflated file (so a
 * test can make them lie). */
function zipArchive(entries) {
  const parts = [];
  const centrals = [];
  let offset = 0;
  for (const { name, body, method, crc, size } of entries) {
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14); local.writeUInt32LE(body.length, 18); local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16); central.writeUInt32LE(body.length, 20); central.writeUInt32LE(size, 24);
    central.writeUInt16LE(nameBytes.length, 28); central.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}

/** A stored zip entry holding `data` truthfully. */
function stored(name, data) {
  return { name, body: data, method: 0, crc: crc32(data), size: data.length };
}

function watchErrors(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  return errors;
}

test("images to classify: a message for each bad file, and the odd but valid ones are classified", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    await loadFixtureWeights(page);

    const bad = await badImages();
    await dropFiles(page, "#images", bad.map(([name, bytes]) => ({ name, bytes })));
    await page.waitForFunction((n) => document.querySelectorAll(".result .error").length === n, bad.length, { timeout: 60_000 });
    const messages = await page.$$eval(".result .error", (els) => els.map((e) => e.textContent));
    bad.forEach(([name, , expected], i) => {
      assert.ok(messages[i].startsWith(`${name}: `), `message ${i} names its file: ${messages[i]}`);
      assert.match(messages[i], expected, name);
    });

    const odd = await Promise.all(ODD_BUT_VALID.map(async (name) => ({ name, bytes: await fixture(name) })));
    await dropFiles(page, "#images", odd);
    await page.waitForFunction((n) => document.querySelectorAll(".result .top-class").length === 5 * n, odd.length, { timeout: 120_000 });
    const classified = await page.$$eval(".result", (items) => items.filter((li) => li.querySelector(".top-class")).map((li) => li.dataset.name));
    assert.deepEqual(classified, ODD_BUT_VALID);
    assert.equal(await page.$$eval(".result .error", (els) => els.length), bad.length, "no new errors");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("a data set with bad files among odd but valid ones: each refusal listed, the rest trains", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    await loadFixtureWeights(page);
    const files = [];
    ODD_BUT_VALID.forEach((name, i) => files.push({ path: `odd/${i % 2 ? "b" : "a"}/${name}`, name }));
    files.push({ path: "odd/b/noisy.jpg", name: "noisy.jpg" });
    for (const file of files) file.bytes = await fixture(file.name);
    const bad = await badImages();
    bad.forEach(([name, bytes], i) => files.push({ path: `odd/${i % 2 ? "b" : "a"}/${name}`, bytes }));
    await dropFolder(page, "#dataset", files);
    await page.waitForSelector("#dataset-summary", { timeout: 60_000 });
    assert.equal(await page.textContent("#dataset-summary"), "8 images in 2 classes.");
    const rejected = await page.$$eval(".rejected", (items) => items.map((li) => li.textContent));
    assert.equal(rejected.length, bad.length, rejected.join("\n"));
    for (const [name, , expected] of bad) {
      const line = rejected.find((r) => r.includes(`/${name}: `));
      assert.ok(line, `${name} is listed as rejected`);
      assert.match(line, expected, name);
    }

    // The next good action: a short fine-tuning run on the 8 accepted images.
    await page.fill("#epochs", "1");
    await page.fill("#batch-size", "4");
    for (const box of ["#flip-lr", "#flip-ud", "#scale"]) await page.uncheck(box);
    await page.click("#train-start");
    await page.waitForSelector("#validation-accuracy", { timeout: 300_000 });
    assert.equal(await page.$("#train-error"), null);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("5,000 tiny images: read with progress, the page never frozen for more than 100 ms", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    const colours = [[200, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30], [30, 200, 200]];
    const files = Array.from({ length: 5000 }, (_, i) => ({ path: `tiny/c${i % 5}/${i}.png`, bytes: tinyPng(colours[i % 5], i) }));
    await dropFolder(page, "#dataset", files);
    await page.evaluate(() => {
      window.__maxFrameGap = 0;
      window.__sawProgress = false;
      let last = performance.now();
      const tick = (now) => {
        window.__maxFrameGap = Math.max(window.__maxFrameGap, now - last);
        last = now;
        if (/Reading files… [1-9]\d*\/5000/.test(document.querySelector("#dataset")?.textContent)) window.__sawProgress = true;
        if (!document.querySelector("#dataset-summary")) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await page.waitForSelector("#dataset-summary", { timeout: 300_000 });
    assert.equal(await page.textContent("#dataset-summary"), "5000 images in 5 classes.");
    const { gap, progress } = await page.evaluate(() => ({ gap: window.__maxFrameGap, progress: window.__sawProgress }));
    console.log(`5,000 tiny images: longest frame gap while reading ${gap.toFixed(0)} ms`);
    assert.ok(progress, "the page showed how far it had read");
    assert.ok(gap <= 100, `the page went ${gap.toFixed(0)} ms without a frame`);
  } finally {
    await browser.close();
  }
});

test("one class, or a class of one image: training says why it cannot start", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    await loadFixtureWeights(page);
    const digits = async (cls, count) => {
      const names = (await readdir(join(FIXTURES, "digits3", String(cls)))).sort().slice(0, count);
      return Promise.all(names.map(async (name) => ({ path: `set/${cls}/${name}`, bytes: await readFile(join(FIXTURES, "digits3", String(cls), name)) })));
    };

    await dropFolder(page, "#dataset", await digits(0, 4));
    await page.waitForFunction(() => document.querySelector("#dataset-summary")?.textContent === "4 images in 1 class.");
    await page.click("#train-start");
    await page.waitForSelector("#train-error");
    assert.match(await page.textContent("#train-error"), /training needs at least 2 classes; found 1/);

    await dropFolder(page, "#dataset", [...(await digits(0, 4)), ...(await digits(1, 1))]);
    await page.waitForFunction(() => document.querySelector("#dataset-summary")?.textContent === "5 images in 2 classes.");
    await page.click("#train-start");
    await page.waitForFunction(() => /class `1` has 1 image\(s\); every class needs at least 2/.test(document.querySelector("#train-error")?.textContent));

    // With a second image in that class it trains.
    await dropFolder(page, "#dataset", [...(await digits(0, 4)), ...(await digits(1, 2))]);
    await page.waitForFunction(() => document.querySelector("#dataset-summary")?.textContent === "6 images in 2 classes.");
    await page.fill("#epochs", "1");
    await page.click("#train-start");
    await page.waitForSelector("#validation-accuracy", { timeout: 300_000 });
  } finally {
    await browser.close();
  }
});

test("weights: empty, text, cut short and another network's are refused; the right file then loads", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    const good = await readFile(join(FIXTURES, "squeezenet/squeezenet1_1_random.safetensors"));
    // A safetensors file of a two-layer network: valid, but not SqueezeNet 1.1.
    const header = Buffer.from(JSON.stringify({ "fc1.weight": { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] }, "fc2.weight": { dtype: "F32", shape: [2], data_offsets: [16, 24] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    const other = Buffer.concat([length, header, Buffer.alloc(24)]);
    const cases = [
      ["empty.safetensors", Buffer.alloc(0), /empty\.safetensors: .*(not a weights file|damaged or truncated)/],
      ["notes.safetensors", Buffer.from("these are not weights\n"), /notes\.safetensors: .*(not a weights file|damaged or truncated)/],
      ["cut.safetensors", good.subarray(0, Math.floor(good.length / 3)), /cut\.safetensors: the safetensors file is damaged or truncated/],
      ["mlp.safetensors", other, /mlp\.safetensors: not a SqueezeNet 1\.1: tensor `[^`]+` is missing/],
    ];
    for (const [name, bytes, expected] of cases) {
      await page.setInputFiles("#weights-input", { name, mimeType: "application/octet-stream", buffer: bytes });
      await page.waitForFunction((name) => document.querySelector("#model-status.error")?.textContent.includes(name), name);
      assert.match(await page.textContent("#model-status"), expected);
    }
    await page.setInputFiles("#weights-input", { name: "squeezenet.safetensors", mimeType: "application/octet-stream", buffer: good });
    await page.waitForFunction(() => /1000 classes/.test(document.querySelector("#model-status").textContent));
  } finally {
    await browser.close();
  }
});

test("matrices: ragged rows and words among the numbers are refused by line; a good matrix then maps", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    const cases = [
      ["empty.csv", "", /empty\.csv: the file is empty/],
      ["ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n", /ragged\.csv: CSV line 3: /],
      ["words.csv", "a,b\n1,2\n3,lots\n", /words\.csv: CSV line 3, column `b`: `lots` is not a number/],
    ];
    for (const [name, text, expected] of cases) {
      await dropFiles(page, "#tsne", [{ name, bytes: Buffer.from(text) }]);
      await page.waitForFunction((name) => document.querySelector("#tsne-summary.error")?.textContent.startsWith(name), name);
      assert.match(await page.textContent("#tsne-summary"), expected);
    }
    const rows = Array.from({ length: 40 }, (_, i) => `${i % 2 ? 10 : 0 + (i % 5)},${(i * 7) % 11},${i % 3}`);
    await dropFiles(page, "#tsne", [{ name: "good.csv", bytes: Buffer.from(["x,y,z", ...rows].join("\n")) }]);
    await page.waitForFunction(() => /good\.csv: CSV, 40 rows × 3 columns/.test(document.querySelector("#tsne-summary").textContent));
    await page.fill("#tsne-perplexity", "5");
    await page.fill("#tsne-iterations", "100");
    await page.click("#tsne-run");
    await page.waitForFunction(() => document.querySelector("#tsne-progress").dataset.state === "done", null, { timeout: 60_000 });
  } finally {
    await browser.close();
  }
});

test("session files: empty, text and damaged ones are refused with a message; the page goes on", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    const cases = [
      ["empty.zip", Buffer.alloc(0), /not a layerlens session file|damaged/],
      ["notes.zip", Buffer.from("not a zip at all\n"), /not a layerlens session file|damaged/],
      ["photos.zip", storedZip({ "holiday/readme.txt": "photos to come" }), /not a layerlens session file/],
    ];
    for (const [name, bytes, expected] of cases) {
      // "Forget this session" resets the status, so each refusal is seen afresh.
      await page.click("#session-forget");
      await page.waitForFunction(() => document.querySelector("#session-status").dataset.state === "forgotten");
      await page.setInputFiles("#session-import", { name, mimeType: "application/zip", buffer: bytes });
      await page.waitForFunction(() => document.querySelector("#session-status").dataset.state === "failed");
      assert.match(await page.textContent("#session-status"), expected, name);
    }
    // The page goes on: a data set loads.
    await dropFolder(page, "#dataset", [{ path: "s/a/0.png", bytes: await readFile(join(FIXTURES, "digits3/0/0000.png")) },
      { path: "s/b/0.png", bytes: await readFile(join(FIXTURES, "digits3/1/0001.png")) }]);
    await page.waitForFunction(() => document.querySelector("#dataset-summary")?.textContent === "2 images in 2 classes.");
  } finally {
    await browser.close();
  }
});

test("zips: escaping and nested entries are listed as refused and the rest loads; a zip bomb is refused before it is unpacked", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    // trunk announces the instantiated module: kept to read the wasm memory's size.
    await page.addInitScript(() => addEventListener("TrunkApplicationStarted", (e) => { window.__layerlensWasm = e.detail.wasm; }));
    await page.goto(server.url + "?backend=cpu");
    await waitForBackend(page);
    const wasmBytes = () => page.evaluate(() => window.__layerlensWasm?.memory?.buffer.byteLength ?? 0);
    const dropZip = (name, bytes) => dropFiles(page, "#dataset", [{ name, type: "application/zip", bytes }]);

    // A bomb: 17 entries of 64 MiB of zeros, 1,088 MiB in all from about a megabyte.
    const zeros = Buffer.alloc(64 << 20);
    const [zerosDeflated, zerosCrc] = [deflateRawSync(zeros, { level: 9 }), crc32(zeros)];
    const bomb = zipArchive(Array.from({ length: 17 }, (_, i) => ({ name: `a/${i}.png`, body: zerosDeflated, method: 8, crc: zerosCrc, size: zeros.length })));
    assert.ok(bomb.length < 2 << 20, `the bomb is small (${bomb.length} bytes)`);
    const before = await wasmBytes();
    await dropZip("bomb.zip", bomb);
    await page.waitForSelector("#dataset .status.error", { timeout: 60_000 });
    assert.match(await page.textContent("#dataset .status.error"),
      /bomb\.zip: the zip would inflate to 1088 MB from \d+ KB \(a zip bomb\?\); refused before unpacking anything/);
    const grown = (await wasmBytes()) - before;
    assert.ok(grown < 16 << 20, `the wasm memory grew by ${grown} bytes refusing it`);

    // Entries that climb out, absolute ones, a zip inside the zip and one whose header hides
    // 64 MiB behind a declared 100 bytes: each listed with its reason; the honest rest loads.
    const png = (i) => tinyPng([40 * i, 200 - 30 * i, 90], i + 1);
    const hostile = zipArchive([
      stored("cats/0.png", png(0)), stored("cats/1.png", png(1)),
      stored("dogs/0.png", png(2)), stored("dogs/1.png", png(3)),
      stored("../escape/0.png", png(4)), stored("/abs/0.png", png(5)),
      stored("dogs/more.zip", storedZip({ "dogs/2.png": png(6) })),
      { name: "cats/liar.png", body: zerosDeflated, method: 8, crc: zerosCrc, size: 100 },
    ]);
    await dropZip("hostile.zip", hostile);
    await page.waitForFunction(() => document.querySelector("#dataset-summary")?.textContent === "4 images in 2 classes.", null, { timeout: 60_000 });
    const rejected = await page.$$eval(".rejected", (items) => items.map((li) => li.textContent));
    const reason = (name) => rejected.find((r) => r.includes(name)) ?? `${name} not listed in:\n${rejected.join("\n")}`;
    assert.match(reason("../escape/0.png"), /unsafe path in the zip/);
    assert.match(reason("/abs/0.png"), /unsafe path in the zip/);
    assert.match(reason("dogs/more.zip"), /a zip inside the zip is not opened/);
    assert.match(reason("cats/liar.png"), /larger than its declared uncompressed size|holds more than its header declares/);
    assert.equal(rejected.length, 4, rejected.join("\n"));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
