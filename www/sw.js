// Streamed downloads for browsers without the File System Access API: the page hands this
// service worker a ReadableStream, then opens __download/ID/NAME, and the worker answers that
// request with the stream as an attachment, so the browser writes it to disk as it arrives.
const pending = new Map();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("message", (e) => {
  const { type, id, name, stream } = e.data || {};
  if (type !== "download" || !(stream instanceof ReadableStream)) return;
  pending.set(id, { name, stream });
  setTimeout(() => pending.delete(id), 60_000);
  e.ports[0]?.postMessage("ok");
});

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  const at = url.pathname.indexOf("/__download/");
  if (url.origin !== self.location.origin || at < 0) return;
  const id = url.pathname.slice(at + "/__download/".length).split("/")[0];
  const d = pending.get(id);
  pending.delete(id);
  if (!d) {
    e.respondWith(new Response("This download has expired. Run the job again.", { status: 404, headers: { "Content-Type": "text/plain" } }));
    return;
  }
  e.respondWith(
    new Response(d.stream, {
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(d.name)}`,
        "X-Content-Type-Options": "nosniff",
      },
    }),
  );
});
