// The demo page: keys and their lifecycle, encrypt/decrypt through the worker, header preview,
// audit log and metrics. Plain ES modules, no framework, no build step.
import { Kms, KmsError } from "./kms.js";
import { explain } from "./errors.js";
import { pickSaveTarget, openSink, describe } from "./save.js";

const $ = (sel, root = document) => root.querySelector(sel);
const params = new URLSearchParams(location.search);

const state = {
  config: null,
  kms: null,
  keys: [],
  keysLoaded: false,
  encFiles: [],
  decFile: null,
  decHeader: null,
  jobSeq: 0,
};

// ---------------------------------------------------------------- small helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function formatBytes(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}
const shortArn = (arn) => (arn || "").replace(/^arn:aws:kms:[^:]+:\d+:key\//, "key/");
const keyName = (k) => (k ? k.aliases[0] || shortArn(k.arn) : "");
const keyByArn = (arn) => state.keys.find((k) => k.arn === arn || k.id === arn);
const fmtTime = (t) => (t ? new Date(typeof t === "number" ? t * 1000 : t).toLocaleString() : "—");

function announce(text) {
  const a = $("#announcer");
  a.textContent = "";
  setTimeout(() => (a.textContent = text), 30);
}

function errorBox(err, ctx) {
  const e = explain(err, { endpoint: state.config?.kmsEndpoint, ...ctx });
  return h(
    "div",
    { class: "error-box", role: "alert", dataset: { code: e.code } },
    h("div", { class: "error-title" }, h("strong", { text: e.title }), h("span", { class: "code", title: "error code", text: e.code })),
    e.detail ? h("p", { text: e.detail }) : null,
    e.technical && e.technical !== e.detail ? h("details", {}, h("summary", { text: "Technical details" }), h("code", { text: e.technical })) : null,
  );
}

function showInline(el, err, ctx) {
  el.replaceChildren();
  if (!err) { el.hidden = true; return; }
  el.append(errorBox(err, ctx));
  el.hidden = false;
}

// ---------------------------------------------------------------- the worker

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const pending = new Map();
let rpcSeq = 0;
worker.onmessage = ({ data }) => {
  const p = pending.get(data.id);
  if (!p) return;
  if (data.type === "progress") return p.onProgress?.(data);
  pending.delete(data.id);
  if (data.type === "result") p.resolve(data.value);
  else p.reject(Object.assign(new Error(data.error.message), data.error));
};
worker.onerror = (e) => {
  e.preventDefault();
  for (const p of pending.values()) p.reject(Object.assign(new Error(e.message || "worker failed"), { code: "WORKER_FAILED" }));
  pending.clear();
};
function rpc(op, args = {}, { onProgress, transfer, id } = {}) {
  id ??= ++rpcSeq;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage({ id, op, ...args }, transfer || []);
  });
}

// ---------------------------------------------------------------- encryption-context editors

function contextEditor(fieldset, initial = []) {
  const rows = $("[data-rows]", fieldset);
  let n = 0;
  const add = (k = "", v = "", focus = false) => {
    const i = ++n;
    const row = h(
      "div",
      { class: "ctx-row" },
      h("input", { type: "text", class: "ctx-key", "aria-label": `Key ${i}`, placeholder: "key", value: k, spellcheck: "false", autocomplete: "off" }),
      h("span", { class: "eq", "aria-hidden": "true", text: "=" }),
      h("input", { type: "text", class: "ctx-val", "aria-label": `Value ${i}`, placeholder: "value", value: v, spellcheck: "false", autocomplete: "off" }),
      h("button", {
        type: "button", class: "btn icon", "aria-label": `Remove pair ${i}`, title: "Remove pair", text: "×",
        onclick: () => { const next = row.nextElementSibling || row.previousElementSibling; row.remove(); ($("input", next || fieldset) || $("[data-add]", fieldset)).focus(); },
      }),
    );
    rows.append(row);
    if (focus) $("input", row).focus();
  };
  $("[data-add]", fieldset).addEventListener("click", () => add("", "", true));
  initial.forEach(([k, v]) => add(k, v));
  return {
    read() {
      const ctx = {};
      for (const row of rows.children) {
        const k = $(".ctx-key", row).value.trim();
        const v = $(".ctx-val", row).value;
        if (!k && !v) continue;
        if (!k) throw Object.assign(new Error("A context value has no key."), { code: "INVALID_ARGUMENT", field: $(".ctx-key", row) });
        if (k in ctx) throw Object.assign(new Error(`The context key “${k}” appears twice.`), { code: "INVALID_ARGUMENT", field: $(".ctx-key", row) });
        if (k.startsWith("aws-crypto-")) throw Object.assign(new Error("Keys starting with “aws-crypto-” are reserved by the SDK."), { code: "INVALID_ARGUMENT", field: $(".ctx-key", row) });
        ctx[k] = v;
      }
      return ctx;
    },
    clear() { rows.replaceChildren(); },
    add,
  };
}

const encCtx = contextEditor($("#enc-ctx"), [["department", "finance"], ["purpose", "quarterly-report"]]);
const decCtx = contextEditor($("#dec-ctx"));

// ---------------------------------------------------------------- keys

async function refreshKeys({ quiet = false } = {}) {
  try {
    state.keys = await state.kms.keys();
    state.keysLoaded = true;
    setKmsState("ok");
    showInline($("#keys-error"), null);
  } catch (e) {
    state.keysFailed = true;
    if (e.type === "NetworkError") setKmsState("down");
    if (!quiet) showInline($("#keys-error"), kmsErrorToEnvelope(e));
  }
  renderKeys();
  renderKeySelect();
  if (state.decHeader) renderHeader();
}

function kmsErrorToEnvelope(e) {
  if (!(e instanceof KmsError)) return e;
  if (e.type === "NetworkError") return { code: "KMS_NETWORK", message: e.message };
  return { code: "KMS_ERROR", message: `${e.type}: ${e.message}` };
}

const STATE_LABEL = { Enabled: "Enabled", Disabled: "Disabled", PendingDeletion: "Pending deletion", PendingImport: "Pending import", Unavailable: "Unavailable" };

function renderKeys() {
  const list = $("#keys-list");
  const focusedAction = document.activeElement?.dataset?.action ? [document.activeElement.dataset.action, document.activeElement.dataset.arn] : null;
  list.replaceChildren();
  if (!state.keysLoaded) { list.append(h("li", { class: "empty", text: state.keysFailed ? "Keys can't be listed while the KMS is unreachable." : "Loading keys…" })); return; }
  if (!state.keys.length) { list.append(h("li", { class: "empty", text: "No keys yet: create one below." })); return; }
  for (const k of state.keys) {
    const m = k.meta;
    const st = m.KeyState;
    const rot = k.rotation;
    const act = (action, label, extra = {}) =>
      h("button", { type: "button", class: `btn small ${extra.class || ""}`, dataset: { action, arn: k.arn }, "aria-label": `${label} ${keyName(k)}`, text: label, onclick: () => keyAction(action, k, extra) });
    const actions = [];
    if (st === "Enabled") {
      actions.push(act("rotate", "Rotate now"));
      actions.push(act(rot.enabled ? "rotation-off" : "rotation-on", rot.enabled ? "Stop auto-rotation" : "Auto-rotate yearly"));
      actions.push(act("disable", "Disable"));
    } else if (st === "Disabled") {
      actions.push(act("enable", "Enable", { class: "primary-outline" }));
    }
    if (st === "PendingDeletion") actions.push(act("cancel-deletion", "Cancel deletion", { class: "primary-outline" }));
    else actions.push(act("schedule-deletion", "Schedule deletion…", { class: "danger-outline" }));

    const rotText = st === "PendingDeletion"
      ? `Deletes on ${fmtTime(m.DeletionDate)}`
      : `${rot.enabled ? `Auto-rotation every ${rot.periodDays || 365} days` : "Auto-rotation off"} · ${rot.count ? `rotated ${rot.count}× (last ${fmtTime(rot.last)})` : "never rotated"}`;
    const li = h(
      "li",
      { class: "key", dataset: { state: st, arn: k.arn } },
      h(
        "div",
        { class: "key-top" },
        h("div", { class: "key-name" }, h("strong", { text: k.aliases.join(", ") || "(no alias)" }), h("span", { class: `badge state-${st}`, text: STATE_LABEL[st] || st })),
        h("span", { class: "muted small", text: `created ${fmtTime(m.CreationDate)}` }),
      ),
      h("div", { class: "key-arn" }, h("code", { text: k.arn }), h("button", {
        type: "button", class: "btn ghost small", "aria-label": `Copy the ARN of ${keyName(k)}`, title: "Copy ARN", text: "Copy",
        onclick: async (ev) => { try { await navigator.clipboard.writeText(k.arn); ev.target.textContent = "Copied"; setTimeout(() => (ev.target.textContent = "Copy"), 1200); } catch { /* clipboard may be unavailable */ } },
      })),
      h("div", { class: "key-rot small muted", text: rotText }),
      h("div", { class: "key-actions" }, actions),
      h("div", { class: "key-confirm", hidden: true }),
    );
    list.append(li);
  }
  if (focusedAction) {
    // Keep the keyboard where it was: the same button, or the first action of the same key.
    const buttons = [...list.querySelectorAll("[data-action]")].filter((b) => b.dataset.arn === focusedAction[1]);
    (buttons.find((b) => b.dataset.action === focusedAction[0]) || buttons[0])?.focus();
  }
}

async function keyAction(action, k, _extra) {
  const li = $(`#keys-list [data-arn="${CSS.escape(k.arn)}"]`);
  if (action === "schedule-deletion") return confirmDeletion(li, k);
  const ops = {
    rotate: ["RotateKeyOnDemand", `Rotated ${keyName(k)}: new encryptions use new key material; old files still decrypt.`],
    "rotation-on": ["EnableKeyRotation", `Automatic yearly rotation is on for ${keyName(k)}.`],
    "rotation-off": ["DisableKeyRotation", `Automatic rotation is off for ${keyName(k)}.`],
    disable: ["DisableKey", `${keyName(k)} is disabled: KMS refuses to use it until it is enabled again.`],
    enable: ["EnableKey", `${keyName(k)} is enabled.`],
    "cancel-deletion": ["CancelKeyDeletion", `Deletion of ${keyName(k)} cancelled. The key is disabled: enable it to use it.`],
  };
  const [op, msg] = ops[action];
  await kmsOp(op, { KeyId: k.arn }, msg);
}

async function kmsOp(op, body, msg) {
  try {
    await state.kms.call(op, body);
    toast(msg);
    showInline($("#keys-error"), null);
  } catch (e) {
    showInline($("#keys-error"), kmsErrorToEnvelope(e));
  }
  await refreshKeys();
}

function confirmDeletion(li, k) {
  const box = $(".key-confirm", li);
  const id = `days-${k.id}`;
  box.replaceChildren(
    h("p", {}, "Schedule ", h("strong", { text: keyName(k) }), " for deletion? Files encrypted only under this key become unreadable for good once it is deleted. Until then you can cancel."),
    h("div", { class: "confirm-row" },
      h("label", { for: id, text: "Waiting period" }),
      h("select", { id }, [7, 14, 30].map((d) => h("option", { value: d, text: `${d} days` }))),
      h("button", { type: "button", class: "btn small danger", dataset: { action: "confirm-deletion" }, text: "Schedule deletion",
        onclick: () => kmsOp("ScheduleKeyDeletion", { KeyId: k.arn, PendingWindowInDays: Number($(`#${CSS.escape(id)}`).value) }, `${keyName(k)} is scheduled for deletion and can no longer be used.`) }),
      h("button", { type: "button", class: "btn small ghost", text: "Keep the key", onclick: () => { box.hidden = true; $('[data-action="schedule-deletion"]', li).focus(); } }),
    ),
  );
  box.hidden = false;
  $("select", box).focus();
}

function toast(text) {
  const t = h("div", { class: "toast", role: "status", text });
  document.body.append(t);
  announce(text);
  setTimeout(() => t.classList.add("out"), 3200);
  setTimeout(() => t.remove(), 3800);
}

function renderKeySelect() {
  const sel = $("#enc-key");
  const prev = sel.value;
  sel.replaceChildren();
  if (!state.keys.length) sel.append(h("option", { value: "", text: state.keysLoaded ? "No keys: create one" : "Loading keys…" }));
  for (const k of state.keys) {
    const usable = k.meta.KeyState === "Enabled";
    sel.append(h("option", { value: k.arn, text: `${keyName(k)}${usable ? "" : ` (${STATE_LABEL[k.meta.KeyState] || k.meta.KeyState})`}` }));
  }
  const seed = state.keys.find((k) => k.aliases.includes(state.config?.seedAlias));
  sel.value = [...sel.options].some((o) => o.value === prev) ? prev : seed?.arn || state.keys.find((k) => k.meta.KeyState === "Enabled")?.arn || sel.options[0]?.value || "";
}

$("#keys-refresh").addEventListener("click", () => refreshKeys());
$("#create-key").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("#new-alias");
  const alias = input.value.trim().replace(/^alias\//, "");
  try {
    const m = await state.kms.createKey(alias);
    toast(`Created ${alias ? `alias/${alias}` : shortArn(m.Arn)}.`);
    input.value = "";
    showInline($("#keys-error"), null);
  } catch (e) {
    showInline($("#keys-error"), kmsErrorToEnvelope(e));
  }
  await refreshKeys();
});

function setKmsState(s) {
  const pill = $("#kms-pill");
  if (pill.dataset.state === s) return;
  pill.dataset.state = s;
  $("#kms-state").textContent = s === "ok" ? "connected" : s === "down" ? "unreachable" : "connecting…";
}

// ---------------------------------------------------------------- jobs (progress rows)

function jobRow(list, { name, size, verb }) {
  const id = ++state.jobSeq;
  const bar = h("progress", { max: 100, value: 0, "aria-label": `${verb} ${name}` });
  const status = h("span", { class: "job-status", text: "Waiting…" });
  const rate = h("span", { class: "job-rate" });
  const actions = h("div", { class: "job-actions" });
  const li = h(
    "li",
    { class: "job", dataset: { state: "queued", job: id } },
    h("div", { class: "job-top" }, h("span", { class: "job-name", text: name }), h("span", { class: "job-size muted", text: formatBytes(size) })),
    bar,
    h("div", { class: "job-meta" }, status, rate),
    actions,
  );
  list.prepend(li);
  let t0 = 0;
  return {
    id, li, actions,
    start(label) { t0 = performance.now(); li.dataset.state = "running"; status.textContent = label; },
    progress(bytes, total) {
      const pct = total ? Math.min(100, (bytes / total) * 100) : 0;
      bar.value = pct;
      const secs = (performance.now() - t0) / 1000;
      status.textContent = `${status.textContent.replace(/ \d+%$/, "")} ${Math.floor(pct)}%`;
      if (secs > 0.05) rate.textContent = `${formatBytes(bytes / secs)}/s`;
    },
    done(text, ms, bytes) {
      li.dataset.state = "done";
      bar.value = 100;
      status.textContent = text;
      if (ms > 0) rate.textContent = `${formatBytes(bytes / (ms / 1000))}/s · ${(ms / 1000).toFixed(ms < 10000 ? 2 : 0)} s`;
    },
    fail(err, ctx) {
      li.dataset.state = err?.code === "ABORTED" ? "cancelled" : "error";
      status.textContent = err?.code === "ABORTED" ? "Cancelled" : "Failed";
      rate.textContent = "";
      actions.replaceChildren();
      if (err?.code !== "ABORTED") li.append(errorBox(err, ctx));
    },
  };
}

function saveLink(href, name) {
  return h("a", { class: "btn small primary", href, download: name, dataset: { save: name } }, "⬇ Save ", h("span", { class: "fname", text: name }));
}

// One encrypt/decrypt through the worker into the chosen save target.
async function runJob(job, kind, file, outName, args, target) {
  const cancel = h("button", { type: "button", class: "btn small ghost", text: "Cancel", "aria-label": `Cancel ${file.name}`, onclick: () => rpc("cancel", { job: job.id }) });
  job.actions.replaceChildren(cancel);
  job.start(kind === "encrypt" ? "Encrypting…" : "Decrypting…");
  let sink;
  try {
    sink = await openSink(target, outName, file.size, { workerWrites: state.workerWritesFiles });
    const res = await rpc(kind, { file, ...args, sink: sink.writable }, {
      id: `job-${job.id}`,
      onProgress: (p) => job.progress(p.bytes, p.total),
      transfer: sink.writable instanceof WritableStream ? [sink.writable] : [],
    });
    const saved = await sink.finish(res);
    job.actions.replaceChildren();
    if (saved.href) job.actions.append(saveLink(saved.href, outName));
    job.done(saved.text || (kind === "encrypt" ? `Encrypted → ${formatBytes(res.bytesOut)}` : `Decrypted and verified → ${formatBytes(res.bytesOut)}`), res.ms, res.bytesIn);
    announce(`${file.name}: ${kind === "encrypt" ? "encrypted" : "decrypted"}.`);
    return res;
  } catch (err) {
    await sink?.fail?.();
    const ctx = await errorContext(err, args);
    job.fail(err, ctx);
    announce(`${file.name}: ${explain(err, ctx).title}.`);
    throw err;
  } finally {
    refreshMetrics();
  }
}

// What the page knows that makes an error message precise (the key's state, the missing pairs).
async function errorContext(err, args) {
  const ctx = {};
  if (err?.code === "KMS_KEY_UNAVAILABLE") {
    await refreshKeys({ quiet: true });
    const arns = args.keyIds || [];
    const candidates = state.keys.filter((k) => arns.includes(k.arn) && k.meta.KeyState !== "Enabled");
    const edkArns = state.decHeader ? state.decHeader.encryptedDataKeys.map((e) => e.providerInfo) : [];
    ctx.key = candidates.find((k) => edkArns.includes(k.arn)) || candidates[0];
  }
  if (["AUTHENTICATION_FAILED", "KMS_INVALID_CIPHERTEXT"].includes(err?.code) && args.context && state.decHeader) {
    ctx.missingRequired = Object.keys(args.context).filter((k) => !(k in state.decHeader.encryptionContext));
  }
  return ctx;
}

// ---------------------------------------------------------------- encrypt

const encInput = $("#enc-files");
function setEncFiles(files) {
  state.encFiles = [...files];
  const list = $("#enc-selected");
  list.replaceChildren(
    ...state.encFiles.map((f, i) =>
      h("li", { class: "chip" }, h("span", { class: "fname", text: f.name }), h("span", { class: "muted", text: formatBytes(f.size) }),
        h("button", { type: "button", class: "btn icon small", "aria-label": `Remove ${f.name}`, text: "×", onclick: () => { state.encFiles.splice(i, 1); setEncFiles(state.encFiles); $("#enc-go").focus(); } })),
    ),
  );
  const go = $("#enc-go");
  go.disabled = !state.encFiles.length;
  go.textContent = state.encFiles.length > 1 ? `Encrypt ${state.encFiles.length} files` : "Encrypt";
  $("#enc-error").hidden = true;
}
encInput.addEventListener("change", () => { setEncFiles(encInput.files); encInput.value = ""; });

$("#enc-go").addEventListener("click", async () => {
  const files = state.encFiles;
  if (!files.length) return;
  let context;
  try {
    context = encCtx.read();
  } catch (e) {
    showInline($("#enc-error"), e);
    e.field?.focus();
    return;
  }
  const keyArn = $("#enc-key").value;
  if (!keyArn) return showInline($("#enc-error"), { code: "KMS_NOT_FOUND", message: "Choose a KMS key first." });
  const suite = $("#enc-suite").value;
  // The save dialog must open right in the click; everything else can wait.
  let target;
  try {
    target = await pickSaveTarget(files.map((f) => ({ name: `${f.name}.encrypted`, size: f.size })));
  } catch (e) {
    if (e?.name === "AbortError") return; // the user closed the dialog
    return showInline($("#enc-error"), { code: "SAVE_FAILED", message: String(e.message || e) });
  }
  showInline($("#enc-error"), null);
  setEncFiles([]);
  const jobs = files.map((f) => [f, jobRow($("#enc-jobs"), { name: f.name, size: f.size, verb: "Encrypting" })]);
  for (const [i, [f, job]] of jobs.entries()) {
    await runJob(job, "encrypt", f, `${f.name}.encrypted`, { keyIds: [keyArn], suite, context }, target.forFile(i)).catch(() => {});
  }
});

// ---------------------------------------------------------------- decrypt

const decInput = $("#dec-file");
decInput.addEventListener("change", () => { if (decInput.files[0]) selectDecFile(decInput.files[0]); decInput.value = ""; });

async function selectDecFile(file) {
  state.decFile = file;
  state.decHeader = null;
  $("#dec-header").hidden = true;
  $("#dec-ctx").hidden = true;
  $("#dec-actions").hidden = true;
  showInline($("#dec-parse-error"), null);
  try {
    let want = 64 * 1024, header;
    for (;;) {
      const bytes = await file.slice(0, want).arrayBuffer();
      try {
        header = await rpc("parseHeader", { bytes }, { transfer: [bytes] });
        break;
      } catch (e) {
        if (e.code === "TRUNCATED" && want < file.size && want < 16 << 20) { want *= 4; continue; }
        throw e;
      }
    }
    state.decHeader = header;
    renderHeader();
    $("#dec-ctx").hidden = false;
    $("#dec-actions").hidden = false;
    announce(`${file.name}: header read. Review it, then decrypt.`);
  } catch (e) {
    showInline($("#dec-parse-error"), e);
    announce(`${file.name}: ${explain(e).title}.`);
  }
}

const SUITES = {
  0x0578: "AES-256-GCM · HKDF-SHA512 · key commitment · ECDSA P-384 signature",
  0x0478: "AES-256-GCM · HKDF-SHA512 · key commitment · no signature",
};

function renderHeader() {
  const hd = state.decHeader;
  const file = state.decFile;
  const view = $("#dec-header");
  const ctx = Object.entries(hd.encryptionContext).filter(([k]) => !k.startsWith("aws-crypto-"));
  const signed = Object.keys(hd.encryptionContext).includes("aws-crypto-public-key");
  const row = (dt, dd) => [h("dt", { text: dt }), h("dd", {}, dd)];
  const edks = hd.encryptedDataKeys.map((e) => {
    if (e.providerId !== "aws-kms") return h("li", { class: "edk" }, h("code", { text: e.providerId }), h("span", { class: "badge state-unknown", text: "local key, not KMS" }));
    const k = keyByArn(e.providerInfo);
    return h(
      "li",
      { class: "edk", dataset: { arn: e.providerInfo } },
      h("span", { class: "edk-name" }, k ? h("strong", { text: keyName(k) }) : null, h("code", { text: e.providerInfo })),
      k ? h("span", { class: `badge state-${k.meta.KeyState}`, text: STATE_LABEL[k.meta.KeyState] || k.meta.KeyState }) : h("span", { class: "badge state-unknown", text: "not in this KMS" }),
    );
  });
  view.replaceChildren(
    h("div", { class: "header-top" },
      h("h3", {}, "What's inside ", h("span", { class: "fname", text: file.name })),
      h("span", { class: "badge state-unknown", title: "The header is authenticated during decryption", text: "not yet verified" })),
    h("dl", { class: "kv" },
      row("Size", `${formatBytes(file.size)} · header ${formatBytes(hd.headerLength)}`),
      row("Suite", h("span", {}, h("code", { text: `0x${hd.suiteId.toString(16).padStart(4, "0")}` }), " ", SUITES[hd.suiteId] || hd.suiteName)),
      row("Message ID", h("code", { class: "wrap", text: hd.messageId })),
      row("Format", `v${hd.version}, ${hd.contentType}${hd.contentType === "framed" ? `, ${hd.frameLength % 1024 === 0 ? `${hd.frameLength / 1024} KiB` : `${hd.frameLength} B`} frames` : ""}${signed ? ", signed" : ""}`),
      row("Encryption context", ctx.length ? h("ul", { class: "ctx-chips" }, ctx.map(([k, v]) => h("li", {}, h("span", { class: "k", text: k }), h("span", { class: "v", text: v })))) : h("span", { class: "muted", text: "none" })),
      row("Keys that can unwrap it", h("ul", { class: "edks" }, edks)),
    ),
  );
  view.hidden = false;
}

$("#dec-go").addEventListener("click", async () => {
  const file = state.decFile;
  if (!file || !state.decHeader) return;
  let context;
  try {
    context = decCtx.read();
  } catch (e) {
    return showInline($("#dec-parse-error"), e);
  }
  const outName = /\.encrypted$/i.test(file.name) ? file.name.replace(/\.encrypted$/i, "") : `${file.name}.decrypted`;
  let target;
  try {
    target = await pickSaveTarget([{ name: outName, size: file.size }]);
  } catch (e) {
    if (e?.name === "AbortError") return;
    return showInline($("#dec-parse-error"), { code: "SAVE_FAILED", message: String(e.message || e) });
  }
  const job = jobRow($("#dec-jobs"), { name: file.name, size: file.size, verb: "Decrypting" });
  // Strict: only the keys this KMS holds (by ARN), never whatever the file names.
  const keyIds = state.keys.map((k) => k.arn);
  await runJob(job, "decrypt", file, outName, { keyIds, context }, target.forFile(0)).catch(() => {});
});

// ---------------------------------------------------------------- drag and drop

function dropzone(el, onFiles) {
  const on = (t, f) => el.addEventListener(t, f);
  on("dragenter", (e) => { e.preventDefault(); el.classList.add("over"); });
  on("dragover", (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; });
  on("dragleave", (e) => { if (!el.contains(e.relatedTarget)) el.classList.remove("over"); });
  on("drop", (e) => { e.preventDefault(); el.classList.remove("over"); if (e.dataTransfer.files.length) onFiles(e.dataTransfer.files); });
}
dropzone($("#enc-drop"), (files) => setEncFiles([...state.encFiles, ...files]));
dropzone($("#dec-drop"), (files) => selectDecFile(files[0]));
// A file dropped elsewhere must not make the browser navigate away from the page.
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());

// ---------------------------------------------------------------- metrics and audit

let lastMetrics = "";
async function refreshMetrics() {
  let m;
  try { m = await rpc("metrics"); } catch { return; }
  const json = JSON.stringify(m);
  if (json === lastMetrics) return;
  lastMetrics = json;
  const ms = (v) => (v == null ? "—" : `${v.toFixed(v < 10 ? 1 : 0)} ms`);
  const errs = Object.entries(m.errorsByCode);
  const stat = (label, value, cls = "") => h("div", { class: `stat ${cls}` }, h("dt", { text: label }), h("dd", { text: value }));
  $("#metrics-list").replaceChildren(
    stat("KMS calls", m.kmsCalls),
    stat("Succeeded", m.kmsSuccesses),
    stat("Failed", m.kmsFailures, m.kmsFailures ? "warn" : ""),
    stat("Mean latency", ms(m.kmsMeanLatencyMs)),
    stat("Max latency", ms(m.kmsCalls ? m.kmsMaxLatencyMs : null)),
    stat("Cache hits / misses", `${m.cacheHits} / ${m.cacheMisses}`),
    h("div", { class: "stat wide" }, h("dt", { text: "Errors by code" }), h("dd", {}, errs.length ? errs.map(([c, n]) => h("span", { class: "code", text: `${c} × ${n}` })) : h("span", { class: "muted", text: "none" }))),
  );
}

const READS = new Set(["DescribeKey", "ListKeys", "ListAliases", "GetKeyRotationStatus", "ListKeyRotations"]);
function caller(e) {
  const ua = e.user_agent || "";
  if (/Mozilla|Chrome|Safari/.test(ua)) return "browser";
  if (/kms-envelope|^ureq\//i.test(ua)) return "kms-envelope CLI"; // the native CLI's HTTP client
  if (/Botocore|boto3|aws-cli/i.test(ua)) return /aws-cli/.test(ua) ? "AWS CLI" : "Python (boto)";
  if (/curl/i.test(ua)) return "curl";
  return ua.split(/[ /]/)[0] || "unknown";
}
let lastAudit = "";
async function refreshAudit() {
  let entries;
  try {
    entries = await state.kms.audit(100);
    setKmsState("ok");
  } catch (e) {
    setKmsState("down");
    return;
  }
  const all = $("#audit-all").checked;
  const shown = entries.filter((e) => all || !READS.has(e.operation)).slice(-50).reverse();
  const sig = JSON.stringify([all, shown.map((e) => e.request_id), state.keys.length]);
  if (sig === lastAudit) return;
  lastAudit = sig;
  const body = $("#audit-rows");
  body.replaceChildren(
    ...shown.map((e) => {
      const k = e.key_arn ? keyByArn(e.key_arn) : null;
      const ctx = Object.entries(e.encryption_context || {}).filter(([key]) => !key.startsWith("aws-crypto-"));
      return h(
        "tr",
        { dataset: { op: e.operation, outcome: e.outcome } },
        h("td", { class: "nowrap", text: new Date(e.time).toLocaleTimeString() }),
        h("td", { title: e.key_arn || "" }, h("code", { class: "op", text: e.operation }),
          h("span", { class: "caller" }, e.key_arn ? h("strong", { text: k ? keyName(k) : shortArn(e.key_arn) }) : null, e.key_arn ? " · " : "", caller(e))),
        h("td", {}, ctx.length ? ctx.map(([a, b]) => h("span", { class: "ctx-mini", title: `${a}=${b}`, text: `${a}=${b}` })) : h("span", { class: "muted", text: "—" })),
        h("td", {}, e.outcome === "ok" ? h("span", { class: "badge state-Enabled", text: "ok" }) : h("span", { class: "badge state-error", text: e.error_type || "error" })),
      );
    }),
  );
  if (!shown.length) body.append(h("tr", {}, h("td", { colspan: 4, class: "muted empty", text: "No requests yet." })));
}
$("#audit-all").addEventListener("change", () => { lastAudit = ""; refreshAudit(); });

// ---------------------------------------------------------------- start

async function main() {
  try {
    state.config = await (await fetch("config.json", { cache: "no-store" })).json();
  } catch {
    state.config = { kmsEndpoint: "http://127.0.0.1:4599", region: "us-east-1", account: "111122223333", seedAlias: "alias/demo" };
  }
  if (params.get("kms")) state.config.kmsEndpoint = params.get("kms");
  $("#kms-endpoint").textContent = state.config.kmsEndpoint;
  state.kms = new Kms(state.config.kmsEndpoint);
  renderKeys();
  const [init] = await Promise.allSettled([rpc("init", { config: state.config }), refreshKeys()]);
  if (init.status === "rejected") showInline($("#enc-error"), { code: "WORKER_FAILED", message: init.reason?.message });
  else state.workerWritesFiles = init.value.writesFiles;
  $("#save-mode").textContent = describe();
  refreshMetrics();
  refreshAudit();
  setInterval(refreshAudit, 2000);
  setInterval(refreshMetrics, 2000);
  setInterval(() => refreshKeys({ quiet: true }), 20000);
  document.body.dataset.ready = "true";
}
main();
