// The browser side of sessions (src/ui/session.rs): each tab's newest session in IndexedDB, and
// the page's form settings read from and written back into its fields.
//
// Each tab saves under its own key (an id kept in sessionStorage, which a reload keeps): a
// second tab of the page never replaces the first's session, and a reload offers the tab's own
// session, or, in a new tab, the newest of any. Only the newest few are kept.
//
// A data set of picked files is saved as the browser's `File` handles, beside a session file
// without its images (`images:<id>`, written once per data set and shared while a session
// refers to it). Every save is one transaction: a session and its images are stored together
// or not at all. A failed write (the storage quota, a private window) rejects with the
// browser's own error name, and what was stored before stays.

const DB = "layerlens";
const STORE = "sessions";
const LEGACY = "last"; // the single record of earlier versions, offered until replaced
const KEEP = 3;
const SESSION = "session:";
const IMAGES = "images:";

/** This tab's id: the same across reloads, another in a new tab. */
function tabKey() {
  let id = sessionStorage.getItem("layerlens-tab");
  if (!id) {
    id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    sessionStorage.setItem("layerlens-tab", id);
  }
  return SESSION + id;
}

function open() {
  return new Promise((ok, fail) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => ok(request.result);
    request.onerror = () => fail(request.error);
  });
}

/** Runs `work(store, done)` in one transaction; resolves with what `done` was given once the
 * transaction has committed. */
function transaction(mode, work) {
  return open().then((db) => new Promise((ok, fail) => {
    const tx = db.transaction(STORE, mode);
    let result;
    work(tx.objectStore(STORE), (value) => { result = value; });
    tx.oncomplete = () => { db.close(); ok(result); };
    tx.onerror = tx.onabort = (event) => { db.close(); fail(tx.error || event?.target?.error); };
  }));
}

/** Every stored record as [key, value], in one request each for keys and values. */
function everything(store, then) {
  const keys = store.getAllKeys();
  keys.onsuccess = () => {
    const values = store.getAll();
    values.onsuccess = () => then(keys.result.map((k, i) => [k, values.result[i]]));
  };
}

/** Deletes sessions beyond the newest KEEP, and images no kept session refers to. */
function prune(store, records, written) {
  const sessions = records.filter(([k]) => typeof k === "string" && k.startsWith(SESSION));
  for (const [key, value] of written) {
    const i = sessions.findIndex(([k]) => k === key);
    if (i >= 0) sessions[i] = [key, value]; else sessions.push([key, value]);
  }
  sessions.sort(([, a], [, b]) => b.saved - a.saved);
  const kept = sessions.slice(0, KEEP);
  for (const [key] of sessions.slice(KEEP)) store.delete(key);
  const used = new Set(kept.map(([, v]) => v.imagesId).filter(Boolean));
  for (const [key] of records) {
    if (typeof key === "string" && key.startsWith(IMAGES) && !used.has(key.slice(IMAGES.length))) store.delete(key);
  }
  if (kept.length > 0 && records.some(([k]) => k === LEGACY)) store.delete(LEGACY);
}

function failure(error) {
  return `${error?.name || "Error"}: ${error?.message || error}`;
}

/** The largest data set (its files' bytes) whose File handles are stored beside its session.
 * A File put in IndexedDB is copied into the browser's storage (counted against the origin's
 * quota; in a private window, held in memory): a folder of photos would be duplicated, and at
 * 12 GB Chromium's browser process went down instead of refusing. Larger data sets are saved
 * with their thumbnails only. Tests lower it with the hook below. */
export function keepFilesUpToBytes() {
  return globalThis.layerlensSessionTestHooks?.keepFilesUpToBytes ?? 256 * 1024 * 1024;
}

/** Stores this tab's session: the session file's bytes, and, when its images are not in it,
 * their handles and thumbnails ([{path, file, thumb, thumbWidth, thumbHeight}]) under `imagesId`
 * (stored once per id). Rejects with
 * "Name: message" when the browser refuses. */
export async function saveSession(bytes, images, imagesId) {
  // Tests stand in for a full disk with this hook (tests/e2e/session.test.mjs).
  if (globalThis.layerlensSessionTestHooks?.quotaExceeded) {
    throw failure(new DOMException("the quota has been exceeded (simulated)", "QuotaExceededError"));
  }
  const key = tabKey();
  const record = { saved: Date.now(), session: new Blob([bytes]), imagesId: images ? imagesId : null };
  try {
    await transaction("readwrite", (store) => everything(store, (records) => {
      if (images && !records.some(([k]) => k === IMAGES + imagesId)) store.put({ images }, IMAGES + imagesId);
      store.put(record, key);
      prune(store, records, [[key, record]]);
    }));
  } catch (error) {
    throw failure(error);
  }
}

/** The session to offer: this tab's, or the newest of any tab. `{ key, bytes, images }`
 * (`images` the stored handles and `imagesId` their id, or undefined when the file holds its
 * images or they are gone), or undefined when there is none. */
export async function loadSession() {
  try {
    const found = await transaction("readonly", (store, done) => everything(store, (records) => {
      const own = records.find(([k]) => k === tabKey());
      const newest = records
        .filter(([k]) => typeof k === "string" && k.startsWith(SESSION))
        .sort(([, a], [, b]) => b.saved - a.saved)[0];
      const legacy = records.find(([k]) => k === LEGACY);
      const [key, value] = own || newest || legacy || [];
      if (!key) return done(undefined);
      const blob = value instanceof Blob ? value : value.session;
      const images = value.imagesId ? records.find(([k]) => k === IMAGES + value.imagesId)?.[1]?.images : undefined;
      done({ key, blob, images, imagesId: images ? value.imagesId : undefined });
    }));
    if (!found) return undefined;
    const bytes = new Uint8Array(await found.blob.arrayBuffer());
    return { key: found.key, bytes, images: found.images, imagesId: found.imagesId };
  } catch (error) {
    throw failure(error);
  }
}

/** Deletes this tab's stored session, and `key` (one `loadSession` gave: the session this
 * tab offered or restored) when given, with the images only they referred to. */
export async function forgetSession(key) {
  try {
    await transaction("readwrite", (store) => everything(store, (records) => {
      const gone = new Set([tabKey(), key].filter(Boolean));
      for (const k of gone) store.delete(k);
      prune(store, records.filter(([k]) => !gone.has(k)), []);
    }));
  } catch (error) {
    throw failure(error);
  }
}

/** The page's settings: every field with an id inside `main`, except file pickers. */
export function collectSettings() {
  const settings = {};
  for (const field of document.querySelectorAll("main input[id], main select[id]")) {
    if (field.type === "file") continue;
    settings[field.id] = field.type === "checkbox" ? String(field.checked) : field.value;
  }
  return settings;
}

/** Writes settings back into their fields, as if typed (the page's signals follow). Choices
 * first (a preset fills other fields), then the fields themselves. */
export function applySettings(settings) {
  const fields = Object.entries(settings)
    .map(([id, value]) => [document.getElementById(id), value])
    .filter(([field]) => field && field.type !== "file")
    .sort(([a], [b]) => (b.tagName === "SELECT") - (a.tagName === "SELECT"));
  for (const [field, value] of fields) {
    if (field.type === "checkbox") field.checked = value === "true";
    else field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }
}
