// Where results go, without ever holding a multi-GB file in memory:
//  1. File System Access API (Chrome, Edge): a save dialog (or a folder for many files), and the
//     worker's output is piped straight into the file. A failed job aborts the write, which
//     discards it (and a file we created is removed).
//  2. Otherwise, small results (≤ MEMORY_LIMIT) are collected into a Blob in the worker and offered
//     as a download only once everything verified.
//  3. Larger results stream through a service worker (sw.js) as a normal browser download; the
//     download starts with the first verified bytes, and a failure mid-way cancels it, so the
//     browser marks it failed instead of saving a partial file.
// `?save=memory|stream|fsa` forces a method (the end-to-end test uses `memory`).

export const MEMORY_LIMIT = 512 * 1024 * 1024;
const forced = new URLSearchParams(location.search).get("save");
const fsaAvailable = typeof window.showSaveFilePicker === "function" && typeof window.showDirectoryPicker === "function";
const useFsa = forced ? forced === "fsa" && fsaAvailable : fsaAvailable;

function transferableStreams() {
  try {
    const rs = new ReadableStream();
    structuredClone(rs, { transfer: [rs] });
    return true;
  } catch {
    return false;
  }
}
const swWanted = !useFsa && forced !== "memory" && "serviceWorker" in navigator && transferableStreams();
const swReady = swWanted
  ? navigator.serviceWorker.register("sw.js", { scope: "./" }).then(() => navigator.serviceWorker.ready).catch(() => null)
  : Promise.resolve(null);

export function describe() {
  if (useFsa) return "Saves straight to disk";
  if (forced === "stream") return "Saves as streamed downloads";
  return swWanted ? "Saves as downloads" : `Saves as downloads (up to ${MEMORY_LIMIT / 2 ** 20} MiB each)`;
}

/** Ask where to save, inside the click that started the job (the pickers need it). */
export async function pickSaveTarget(files) {
  if (useFsa && files.length === 1) {
    const handle = await window.showSaveFilePicker({ suggestedName: files[0].name, id: "kms-envelope" });
    return { forFile: () => ({ mode: "fsa", handle }) };
  }
  if (useFsa) {
    const dir = await window.showDirectoryPicker({ mode: "readwrite", id: "kms-envelope" });
    return { forFile: () => ({ mode: "fsa", dir }) };
  }
  return { forFile: (i) => ({ mode: forced === "stream" || files[i].size > MEMORY_LIMIT ? "stream" : "memory" }) };
}

async function freshFileIn(dir, name) {
  const dot = name.lastIndexOf(".");
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? name : dot > 0 ? `${name.slice(0, dot)} (${i})${name.slice(dot)}` : `${name} (${i})`;
    try {
      await dir.getFileHandle(candidate);
    } catch (e) {
      if (e.name === "NotFoundError") return dir.getFileHandle(candidate, { create: true });
      throw e;
    }
  }
}

/** A sink for one job: `writable` ({ handle }, a WritableStream, or "memory"), `finish(result)`,
 * `fail()`. `workerWrites`: the worker can open file handles itself (no hop through the page). */
export async function openSink(target, name, size, { workerWrites = false } = {}) {
  if (target.mode === "fsa") {
    const created = !target.handle;
    const handle = target.handle || (await freshFileIn(target.dir, name));
    let writable = { handle }, done = Promise.resolve();
    if (!workerWrites) {
      const ts = new TransformStream();
      done = ts.readable.pipeTo(await handle.createWritable());
      done.catch(() => {});
      writable = ts.writable;
    }
    return {
      writable,
      async finish() {
        await done;
        return { text: `Saved to ${handle.name}` };
      },
      async fail() {
        await done.catch(() => {});
        try {
          // The write was aborted, so nothing of the result is in the file. Remove the empty
          // file the dialog created (never a file that had content before).
          if (created) await target.dir.removeEntry(handle.name);
          else if ((await handle.getFile()).size === 0) await handle.remove?.();
        } catch { /* best effort */ }
      },
    };
  }
  if (target.mode === "stream" && (await swReady)) return streamedDownload(name);
  if (size > MEMORY_LIMIT) throw Object.assign(new Error(`${name} is ${size} bytes`), { code: "TOO_LARGE_FOR_DOWNLOAD" });
  let href = null;
  return {
    writable: "memory",
    async finish(res) {
      href = URL.createObjectURL(res.blob);
      return { href };
    },
    async fail() {},
  };
}

function streamedDownload(name) {
  const ts = new TransformStream();
  const reader = ts.readable.getReader();
  // Start the download with the first bytes, so a job that fails before producing anything
  // (wrong context, disabled key) leaves no download behind.
  const started = (async () => {
    const first = await reader.read();
    const body = new ReadableStream({
      start(c) { if (!first.done) c.enqueue(first.value); else c.close(); },
      async pull(c) {
        if (first.done) return;
        const { done, value } = await reader.read();
        if (done) c.close(); else c.enqueue(value);
      },
      cancel(reason) { reader.cancel(reason); },
    });
    const sw = (await swReady).active;
    const id = crypto.randomUUID();
    const ack = new MessageChannel();
    const acked = new Promise((resolve) => (ack.port1.onmessage = resolve));
    sw.postMessage({ type: "download", id, name, stream: body }, [body, ack.port2]);
    await acked;
    const a = document.createElement("a");
    a.href = `__download/${id}/${encodeURIComponent(name)}`;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
  })();
  started.catch(() => {});
  return {
    writable: ts.writable,
    async finish() {
      await started;
      return { text: "Saved by the browser's downloads" };
    },
    async fail() {},
  };
}
