"use strict";
// The studio page: one round trip per edit (debounced) to /api/analyse, which answers with the
// problems, the template fields, the syncs and the preview; Save posts the same draft to
// /api/save. The editor is a <textarea> under a <pre> that shows the same text highlighted,
// with problems underlined.
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const q = "?token=" + encodeURIComponent(token);
  const $ = (id) => document.getElementById(id);
  const ACTIONS = ["add", "update", "remove"];
  const HASHES = ["none", "sha256", "sha512", "md5"];
  const NORMALIZE = ["none", "trim", "lowercase", "email", "phone_digits", "phone_e164"];

  const state = {
    action: "add",
    templates: {},      // action -> text in the editor
    sources: {},        // action -> {source, file}
    fieldEdits: {},     // field name -> settings the author changed
    analysis: null,
    seq: 0,             // the latest request sent; older answers are dropped
    timer: 0,
    loaded: false,
  };

  function draft() {
    const templates = {};
    for (const a of ACTIONS) {
      const s = state.sources[a];
      if (s && s.source !== "use_add" && a in state.templates) templates[a] = state.templates[a];
    }
    return { templates, fields: state.fieldEdits };
  }

  function request() {
    const records = $("records").value;
    const count = Math.max(0, Math.min(1000, parseInt($("count").value, 10) || 0));
    const sync = $("sync").value || null;
    return { action: state.action, sync, records: records.trim() ? records : null, count };
  }

  async function call(path, body) {
    const response = await fetch(path + q, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(path + ": " + response.status + " " + (await response.text()));
    return response.json();
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(analyse, 120);
  }

  async function analyse() {
    const seq = ++state.seq;
    try {
      const analysis = await call("/api/analyse", { draft: state.loaded ? draft() : {}, request: request() });
      if (seq !== state.seq) return;
      show(analysis);
      $("status").textContent = checkStatus(analysis);
    } catch (e) {
      if (seq === state.seq) $("status").textContent = "check failed: " + e.message;
    }
  }

  async function save() {
    clearTimeout(state.timer);
    const seq = ++state.seq;
    $("status").textContent = "saving…";
    try {
      const outcome = await call("/api/save", { draft: draft(), request: request() });
      if (seq !== state.seq) return;
      show(outcome.analysis);
      $("status").textContent = outcome.status;
    } catch (e) {
      if (seq === state.seq) $("status").textContent = "not saved: " + e.message;
    }
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function checkStatus(a) {
    if (a.errors === 0 && a.warnings === 0) return "checked: no problems";
    return "checked: " + plural(a.errors, "error") + ", " + plural(a.warnings, "warning");
  }

  function show(a) {
    state.analysis = a;
    if (!state.loaded && a.actions.length) {
      for (const v of a.actions) {
        state.sources[v.action] = { source: v.source, file: v.file };
        if (v.source !== "use_add") state.templates[v.action] = v.template;
      }
      state.loaded = true;
      showEditor();
    }
    showSyncs(a);
    showDiagnostics(a);
    showFields(a);
    highlight();
    showPreview(a);
  }

  // ---- editor ----

  function shownTemplate() {
    const s = state.sources[state.action];
    if (s && s.source === "use_add") return state.templates.add || "";
    return state.templates[state.action] || "";
  }

  function showEditor() {
    const editor = $("editor");
    const s = state.sources[state.action] || { source: "inline" };
    editor.value = shownTemplate();
    editor.readOnly = s.source === "use_add";
    $("source").textContent =
      s.source === "use_add" ? "update uses add's template, method, path and batch size (use_add = true); edit it under add." :
      s.source === "file" ? "The template is in " + s.file + " (saved there)." : "";
    for (const tab of document.querySelectorAll("[data-role=action-tab]")) {
      const on = tab.dataset.action === state.action;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    }
    $("panel").setAttribute("aria-labelledby", "tab-" + state.action);
    fit();
  }

  function fit() {
    const editor = $("editor");
    editor.style.height = "auto";
    editor.style.height = Math.max(editor.scrollHeight + 2, 192) + "px";
  }

  // UTF-16 index of each byte offset of `text` (the server counts bytes of UTF-8).
  function byteIndex(text) {
    const map = [0];
    let bytes = 0;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i);
      const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      const units = cp >= 0x10000 ? 2 : 1;
      for (let k = 1; k < len; k++) map[bytes + k] = i + units;
      bytes += len;
      i += units;
      map[bytes] = i;
    }
    return (b) => map[Math.min(Math.max(b, 0), bytes)];
  }

  const KEYWORDS = new Set(["and", "or", "in", "true", "false", "null", "function"]);

  // One class per UTF-16 unit: the template language's tokens, roughly (the checker is the truth).
  function tokenClasses(text) {
    const cls = new Array(text.length).fill("");
    const mark = (from, to, c) => { for (let k = from; k < to; k++) cls[k] = c; };
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === "/" && text[i + 1] === "*") {
        const end = text.indexOf("*/", i + 2);
        const to = end < 0 ? text.length : end + 2;
        mark(i, to, "t-com"); i = to;
      } else if (c === '"' || c === "'") {
        let j = i + 1;
        while (j < text.length && text[j] !== c) j += text[j] === "\\" ? 2 : 1;
        mark(i, Math.min(j + 1, text.length), "t-str"); i = j + 1;
      } else if (c === "`") {
        const end = text.indexOf("`", i + 1);
        const to = end < 0 ? text.length : end + 1;
        mark(i, to, ""); i = to;
      } else if (/[0-9]/.test(c)) {
        const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
        mark(i, i + m[0].length, "t-num"); i += m[0].length;
      } else if (c === "$") {
        const m = /^\$\$?[A-Za-z0-9_]*/.exec(text.slice(i));
        mark(i, i + m[0].length, "t-var"); i += m[0].length;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
        if (KEYWORDS.has(m[0])) mark(i, i + m[0].length, "t-key");
        i += m[0].length;
      } else {
        if (/[-+*/%&=<>!?:~.,;|^]/.test(c)) cls[i] = "t-op";
        i += 1;
      }
    }
    return cls;
  }

  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function shownAction() {
    const s = state.sources[state.action];
    return s && s.source === "use_add" ? "add" : state.action;
  }

  function highlight() {
    const text = $("editor").value;
    const cls = tokenClasses(text);
    const under = new Array(text.length + 1).fill("");
    const toIndex = byteIndex(text);
    const diags = (state.analysis ? state.analysis.diagnostics : []).filter((d) => d.action === shownAction() && d.start != null);
    // Warnings first, so that an error's underline wins where they overlap.
    diags.sort((x, y) => (x.severity === "error") - (y.severity === "error"));
    for (const d of diags) {
      let from = toIndex(d.start), to = toIndex(d.end);
      if (to <= from) { to = from + 1; }
      for (let k = from; k < to; k++) under[k] = "u-" + d.severity;
    }
    let html = "", run = "", key = null;
    const flush = () => {
      if (!run) return;
      const [c, u] = key.split("|");
      const classes = (c + " " + u).trim();
      html += classes ? '<span class="' + classes + '">' + escapeHtml(run) + "</span>" : escapeHtml(run);
      run = "";
    };
    for (let k = 0; k < text.length; k++) {
      const kk = cls[k] + "|" + under[k];
      if (kk !== key) { flush(); key = kk; }
      run += text[k];
    }
    flush();
    // A problem at the very end (a missing bracket, say) gets a space to underline.
    if (under[text.length]) html += '<span class="' + under[text.length] + '"> </span>';
    $("highlight").innerHTML = html + "\n";
  }

  // ---- problems ----

  function showDiagnostics(a) {
    const list = $("diagnostics");
    list.textContent = "";
    $("counts").textContent = a.diagnostics.length ? "(" + plural(a.errors, "error") + ", " + plural(a.warnings, "warning") + ")" : "(none)";
    for (const d of a.diagnostics) {
      const li = document.createElement("li");
      li.dataset.role = "diagnostic";
      li.dataset.code = d.code;
      li.dataset.severity = d.severity;
      if (d.action && d.start != null) {
        li.dataset.action = d.action;
        li.dataset.start = d.start;
        li.dataset.end = d.end;
      } else {
        li.dataset.key = d.key || "";
      }
      const link = document.createElement("a");
      link.className = "code";
      link.href = "/explain/" + encodeURIComponent(d.code) + q;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = d.code;
      li.append(link, " " + d.severity + ": " + d.message);
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = d.action && d.line != null ? d.action + " " + d.line + ":" + d.column : (d.key || "");
      li.append(where);
      if (d.action && d.start != null) {
        const go = document.createElement("button");
        go.type = "button";
        go.textContent = "show";
        go.setAttribute("aria-label", "show " + d.code + " in the " + d.action + " template");
        go.addEventListener("click", () => reveal(d));
        li.append(go);
      }
      if (d.hint) {
        const hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = "hint: " + d.hint;
        li.append(hint);
      }
      list.append(li);
    }
  }

  function reveal(d) {
    if (state.action !== d.action) selectAction(d.action);
    const editor = $("editor");
    const toIndex = byteIndex(editor.value);
    editor.focus();
    editor.setSelectionRange(toIndex(d.start), Math.max(toIndex(d.end), toIndex(d.start)));
  }

  // ---- fields ----

  function select(options, value, label, onChange) {
    const s = document.createElement("select");
    s.setAttribute("aria-label", label);
    const all = options.includes(value) ? options : options.concat([value]);
    for (const o of all) s.append(new Option(o, o, false, o === value));
    s.addEventListener("change", () => onChange(s.value));
    return s;
  }

  function checkbox(value, label, onChange) {
    const c = document.createElement("input");
    c.type = "checkbox";
    c.checked = value;
    c.setAttribute("aria-label", label);
    c.addEventListener("change", () => onChange(c.checked));
    return c;
  }

  function showFields(a) {
    const body = $("fields");
    const view = a.actions.find((v) => v.action === state.action);
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    body.textContent = "";
    if (!view) return;
    for (const f of view.fields) {
      const settings = Object.assign({ required: f.required, static: f.static, hash: f.hash, normalize: f.normalize }, state.fieldEdits[f.name] || {});
      const edit = (key, value) => {
        state.fieldEdits[f.name] = Object.assign({}, settings, { [key]: value });
        settings[key] = value;
        schedule();
      };
      const tr = document.createElement("tr");
      tr.dataset.role = "field";
      tr.dataset.name = f.name;
      tr.dataset.action = view.action;
      const name = document.createElement("td");
      name.textContent = f.name;
      const cells = [
        checkbox(settings.required, f.name + " required", (v) => edit("required", v)),
        checkbox(settings.static, f.name + " static", (v) => edit("static", v)),
        select(HASHES, settings.hash, f.name + " hash", (v) => edit("hash", v)),
        select(NORMALIZE, settings.normalize, f.name + " normalize", (v) => edit("normalize", v)),
      ];
      tr.append(name);
      for (const c of cells) { const td = document.createElement("td"); td.append(c); tr.append(td); }
      body.append(tr);
    }
    if (focused) { const again = body.querySelector('[aria-label="' + CSS.escape(focused) + '"]'); if (again) again.focus(); }
  }

  // ---- connection and preview ----

  function showSyncs(a) {
    const s = $("sync");
    const names = a.syncs.map((x) => x.name);
    if (Array.from(s.options).map((o) => o.value).join("\n") !== names.join("\n")) {
      s.textContent = "";
      for (const n of names) s.append(new Option(n, n));
    }
    if (a.sync) s.value = a.sync;
    s.disabled = names.length === 0;
    const dl = $("connection");
    dl.textContent = "";
    const row = (k, v) => { const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); };
    const sync = a.syncs.find((x) => x.name === a.sync);
    if (sync) {
      row("audience name", sync.audience_name);
      row("audience ID", sync.audience_id);
      row("hash_pii", String(sync.hash_pii));
    } else {
      row("no sync", "a sample connection (audience ID 1234567890) and hash_pii = true");
    }
  }

  function showPreview(a) {
    const p = a.preview;
    $("preview-error").textContent = a.preview_error || "";
    $("method").textContent = p ? p.method : "";
    $("url").textContent = p ? p.url : "";
    const headers = $("headers");
    headers.textContent = "";
    $("body").textContent = p && p.body_text != null ? p.body_text : "";
    $("pretty").textContent = p && p.body_pretty != null ? p.body_pretty : "";
    const rejected = $("rejected");
    rejected.textContent = "";
    const size = $("size");
    size.textContent = "";
    if (!p) return;
    for (const [k, v] of Object.entries(p.headers)) { const li = document.createElement("li"); li.textContent = k + ": " + v; headers.append(li); }
    for (const r of p.rejected) { const li = document.createElement("li"); li.textContent = "sample " + r.index + ": " + r.error; rejected.append(li); }
    if (!p.rejected.length) rejected.innerHTML = "<li>none</li>";
    const over = p.max_request_bytes != null && p.body_bytes > p.max_request_bytes;
    const limit = p.max_request_bytes != null ? p.max_request_bytes + " bytes" : "none";
    size.innerHTML = "";
    const text = document.createElement("span");
    text.textContent = "body " + p.body_bytes + " bytes, " + plural(p.records, "record") + " of batch_size " + p.batch_size + "; max_request_bytes: " + limit;
    if (over) text.className = "over";
    size.append(text);
  }

  // ---- warehouse ----

  // A warehouse call: its JSON, or an Error with the studio's message (`{error}`).
  async function warehouseCall(path, body) {
    const response = await fetch(path + q, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { /* a plain-text refusal */ }
    if (!response.ok) throw new Error(json && json.error ? json.error : response.status + " " + text);
    return json;
  }

  // One warehouse call at a time. The buttons stay enabled (a disabled button would lose the
  // keyboard focus); a click while a call runs is ignored.
  let warehouseRunning = false;

  function warehouseBusy(what) {
    warehouseRunning = !!what;
    $("warehouse-error").textContent = "";
    $("warehouse-status").textContent = what || "";
    for (const id of ["sample-rows", "dry-run"]) $(id).setAttribute("aria-disabled", what ? "true" : "false");
  }

  async function sampleRows() {
    if (warehouseRunning) return;
    const limit = Math.max(1, Math.min(1000, parseInt($("row-count").value, 10) || 10));
    const r = request();
    warehouseBusy("reading the model of " + (r.sync || "the first sync") + "…");
    $("refused-rows").textContent = "";
    try {
      const sample = await warehouseCall("/api/rows", { draft: draft(), request: { action: r.action, sync: r.sync }, limit });
      // One record a line: short enough to read, and each line a row of the model.
      $("records").value = sample.records.length ? "[\n" + sample.records.map((x) => "  " + JSON.stringify(x)).join(",\n") + "\n]" : "[]";
      $("warehouse-status").textContent = "sync " + sample.sync + ": " + plural(sample.records.length, "row") + " of the model taken as samples";
      // A row refused alike by several actions is listed once, with those actions.
      const shown = new Map();
      for (const x of sample.refused) {
        const key = x.index + "\n" + x.reason;
        let li = shown.get(key);
        if (!li) {
          li = document.createElement("li");
          li.dataset.index = x.index;
          li.dataset.actions = "";
          li.dataset.key = x.key == null ? "" : x.key;
          li.dataset.reason = x.reason;
          shown.set(key, li);
          $("refused-rows").append(li);
        }
        if (x.action) li.dataset.actions = (li.dataset.actions + " " + x.action).trim();
        const who = li.dataset.actions ? " (" + li.dataset.actions.split(" ").join(", ") + ")" : "";
        li.textContent = "sample " + x.index + ", key " + (x.key == null ? "null" : x.key) + who + ": " + x.reason;
      }
      schedule();
    } catch (e) {
      $("warehouse-status").textContent = "";
      $("warehouse-error").textContent = "no sample rows: " + e.message;
    } finally {
      warehouseRunning = false;
      for (const id of ["sample-rows", "dry-run"]) $(id).setAttribute("aria-disabled", "false");
    }
  }

  const COUNTS = ["inserted", "updated", "deleted", "failed", "invalid"];
  const COUNT_LABELS = { inserted: "would add", updated: "would update", deleted: "would remove", failed: "would fail", invalid: "invalid rows" };

  async function dryRun() {
    if (warehouseRunning) return;
    const r = request();
    warehouseBusy("dry run of " + (r.sync || "the first sync") + "…");
    const dl = $("dry-run-counts");
    dl.textContent = "";
    $("dry-run-text").hidden = true;
    try {
      const answer = await warehouseCall("/api/dry-run", { draft: draft(), request: { action: r.action, sync: r.sync } });
      const s = answer.syncs[0];
      $("warehouse-status").textContent = "dry run of sync " + s.sync + ": " + s.status;
      if (s.error) $("warehouse-error").textContent = s.error;
      const row = (label, value, key) => {
        const dt = document.createElement("dt"); dt.textContent = label;
        const dd = document.createElement("dd"); dd.textContent = String(value);
        if (key) dd.dataset.count = key;
        dl.append(dt, dd);
      };
      row("status", s.status, "status");
      for (const k of COUNTS) row(COUNT_LABELS[k], s[k], k);
      const text = $("dry-run-text");
      text.textContent = answer.text + (answer.notices.length ? "\n" + answer.notices.join("\n") : "");
      text.hidden = false;
    } catch (e) {
      $("warehouse-status").textContent = "";
      $("warehouse-error").textContent = "no dry run: " + e.message;
    } finally {
      warehouseRunning = false;
      for (const id of ["sample-rows", "dry-run"]) $(id).setAttribute("aria-disabled", "false");
    }
  }

  // ---- wiring ----

  function selectAction(action) {
    state.action = action;
    showEditor();
    if (state.analysis) { showFields(state.analysis); highlight(); }
    schedule();
  }

  const tabs = Array.from(document.querySelectorAll("[data-role=action-tab]"));
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectAction(tab.dataset.action));
    tab.addEventListener("keydown", (e) => {
      const i = tabs.indexOf(tab);
      const next = e.key === "ArrowRight" ? tabs[(i + 1) % 3] : e.key === "ArrowLeft" ? tabs[(i + 2) % 3] : null;
      if (next) { e.preventDefault(); next.focus(); selectAction(next.dataset.action); }
    });
  }
  $("editor").addEventListener("input", () => {
    if ($("editor").readOnly) return;
    state.templates[state.action] = $("editor").value;
    fit();
    highlight();
    schedule();
  });
  $("editor").addEventListener("scroll", () => { $("highlight").scrollTop = $("editor").scrollTop; });
  $("records").addEventListener("input", schedule);
  $("count").addEventListener("input", schedule);
  $("sync").addEventListener("change", schedule);
  $("save").addEventListener("click", save);
  $("sample-rows").addEventListener("click", sampleRows);
  $("dry-run").addEventListener("click", dryRun);
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
  });
  window.addEventListener("resize", fit);
  analyse();
})();
