// The browser side of sessions (src/ui/session.rs): the newest session file in IndexedDB, and
// the page's form settings read from and written back into its fields.
//
// One record, written in one transaction: a second tab saving at the same time replaces it
// whole or not at all, never leaves half of each. A failed write (the storage quota, a private
// window) rejects with the browser's own error name, and the record before it stays.

const DB = "layerlens";
const STORE = "sessions";
const KEY = "last";

function open() {
  return new Promise((ok, fail) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => ok(request.result);
    request.onerror = () => fail(request.error);
  });
}

function transaction(mode, work) {
  return open().then((db) => new Promise((ok, fail) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); ok(result.result); };
    tx.onerror = tx.onabort = () => { db.close(); fail(tx.error || result.error); };
  }));
}

function failure(error) {
  return `${error?.name || "Error"}: ${error?.message || error}`;
}

/** Stores a session file's bytes; rejects with "Name: message" when the browser refuses. */
export async function saveSession(bytes) {
  // Tests stand in for a full disk with this hook (tests/e2e/session.test.mjs).
  if (globalThis.layerlensSessionTestHooks?.quotaExceeded) {
    throw failure(new DOMException("the quota has been exceeded (simulated)", "QuotaExceededError"));
  }
  try {
    await transaction("readwrite", (store) => store.put(new Blob([bytes]), KEY));
  } catch (error) {
    throw failure(error);
  }
}

/** The stored session file's bytes, or undefined when there is none. */
export async function loadSession() {
  try {
    const blob = await transaction("readonly", (store) => store.get(KEY));
    return blob ? new Uint8Array(await blob.arrayBuffer()) : undefined;
  } catch (error) {
    throw failure(error);
  }
}

/** Deletes the stored session. */
export async function forgetSession() {
  try {
    await transaction("readwrite", (store) => store.delete(KEY));
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
