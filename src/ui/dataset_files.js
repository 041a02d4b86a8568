// Files of a drop or a folder picker, with their paths relative to what the user gave:
// folders dropped are walked recursively through the File and Directory Entries API.
// Returns a Promise of [{ path, file }].

export function filesFromDataTransfer(transfer) {
  // Entries must be taken synchronously, while the drop event is being handled.
  const items = transfer && transfer.items ? [...transfer.items].filter((i) => i.kind === "file") : [];
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  const files = transfer && transfer.files ? [...transfer.files] : [];
  return (async () => {
    const out = [];
    if (entries.length > 0 && entries.every((e) => e)) {
      for (const entry of entries) await walk(entry, out);
    } else {
      for (const file of files) out.push({ path: file.webkitRelativePath || file.name, file });
    }
    return out;
  })();
}

export function filesFromInput(input) {
  return Promise.resolve([...(input.files || [])].map((file) => ({ path: file.webkitRelativePath || file.name, file })));
}

async function walk(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((ok, fail) => entry.file(ok, fail));
    out.push({ path: entry.fullPath.replace(/^\/+/, ""), file });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, out);
    }
  }
}
