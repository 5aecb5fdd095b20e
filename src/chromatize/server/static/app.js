// chromatize page: upload a photo, show the colorized result over the original, re-render on changes.
// Every render is a request to POST /api/colorize, so the colour maths stays in one place (the server)
// and the download is exactly the server's full-resolution output.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const RENDER_CHOICES = [128, 192, 256, 384, 512, 768, 1024];
  const PREFERRED_RENDER = 256;
  const DEBOUNCE_MS = 250;
  const state = {
    limits: null, models: [], file: null, originalUrl: null, resultUrl: null, xhr: null, seq: 0, renders: 0, timer: null,
    beforeBroken: false, hints: [], selected: -1, reference: null, drag: null, paint: null,
  };
  // Colour hints (dots and strokes) live in hints.js, loaded before this file.
  const hints = window.chromatizeHints({ $, state, setStatus, colorize, scheduleColorize, setReveal });

  function setStatus(text, { progress = null, error = false } = {}) {
    $("status-text").textContent = text;
    $("status").classList.toggle("error", error);
    const bar = $("progress");
    bar.hidden = progress === null;
    if (progress === "busy") bar.removeAttribute("value");
    else if (progress !== null) bar.value = progress;
  }

  function option(value, label, selected) {
    const o = document.createElement("option");
    o.value = String(value);
    o.textContent = label;
    o.selected = selected;
    return o;
  }

  async function loadModels() {
    try {
      const response = await fetch("/api/models");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const info = await response.json();
      state.models = info.models;
      for (const m of info.models) $("model").append(option(m.name, m.name, m.name === info.default));
      state.limits = info.limits;
      const { min_render_size: lo, max_render_size: hi } = info.limits;
      const sizes = RENDER_CHOICES.filter((s) => s >= lo && s <= hi);
      if (!sizes.length) sizes.push(Math.min(hi, Math.max(lo, PREFERRED_RENDER)));
      const preferred = sizes.includes(PREFERRED_RENDER) ? PREFERRED_RENDER : sizes[0];
      for (const s of sizes) $("render-size").append(option(s, `${s} px`, s === preferred));
      $("saturation").max = String(Math.min(2, info.limits.max_saturation));
      document.body.dataset.ready = "1";
    } catch (err) {
      setStatus(`Could not reach the server: ${err.message}`, { error: true });
    }
  }

  function errorMessage(xhr) {
    return new Promise((resolve) => {
      const fallback = `The server answered ${xhr.status} ${xhr.statusText}`;
      if (!(xhr.response instanceof Blob)) return resolve(fallback);
      xhr.response.text().then((text) => {
        try {
          const detail = JSON.parse(text).detail;
          resolve(Array.isArray(detail) ? detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ") : String(detail));
        } catch {
          resolve(fallback);
        }
      }, () => resolve(fallback));
    });
  }

  function pickFile(file) {
    if (!file) return;
    const limit = state.limits && state.limits.max_upload_bytes;
    if (limit && file.size > limit) {
      const mib = (n) => (n / 2 ** 20).toFixed(1);
      return fail(`${file.name} is ${mib(file.size)} MiB; this server accepts up to ${mib(limit)} MiB.`);
    }
    state.file = file;
    state.hints = [];  // hints are positions in one photo
    hints.selectHint(-1);
    if (state.originalUrl) URL.revokeObjectURL(state.originalUrl);
    state.originalUrl = URL.createObjectURL(file);
    state.beforeBroken = false;
    $("compare").classList.remove("gray-before");
    $("before").src = state.originalUrl;
    colorize();
  }

  function colorize() {
    clearTimeout(state.timer);
    if (!state.file) return;
    if (state.xhr) state.xhr.abort();
    const seq = ++state.seq;
    const form = new FormData();
    form.append("image", state.file, state.file.name);
    form.append("model", $("model").value);
    form.append("render_size", $("render-size").value);
    form.append("saturation", $("saturation").value);
    form.append("format", $("format").value);
    if (state.hints.length) form.append("hints", JSON.stringify(state.hints));
    if (state.reference) form.append("reference", state.reference, state.reference.name);

    const xhr = new XMLHttpRequest();
    state.xhr = xhr;
    xhr.open("POST", "/api/colorize");
    xhr.responseType = "blob";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) setStatus(`Uploading… ${Math.round((100 * e.loaded) / e.total)}%`, { progress: (100 * e.loaded) / e.total });
    };
    xhr.upload.onload = () => setStatus("Colorizing…", { progress: "busy" });
    xhr.onload = async () => {
      if (seq !== state.seq) return;
      state.xhr = null;
      if (xhr.status === 200) await showResult(xhr.response, seq);
      else fail(await errorMessage(xhr));
    };
    xhr.onerror = () => seq === state.seq && fail("Network error: is the server still running?");
    document.body.dataset.state = "working";
    setStatus("Uploading…", { progress: 0 });
    xhr.send(form);
  }

  function clearResult() {
    // An error must not leave an earlier photo's result (or a broken "original") on screen.
    $("result").hidden = true;
    $("after").removeAttribute("src");
    $("before").removeAttribute("src");
    $("compare").classList.remove("gray-before");
    $("result-info").textContent = "";
    const link = $("download");
    link.removeAttribute("href");
    link.setAttribute("aria-disabled", "true");
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = null;
  }

  function fail(message) {
    clearResult();
    document.body.dataset.state = "error";
    setStatus(message, { error: true });
  }

  async function showResult(blob, seq) {
    const url = URL.createObjectURL(blob);
    const after = $("after");
    after.src = url;
    try {
      await after.decode();
    } catch {
      return fail("The browser could not display the result.");
    }
    if (seq !== state.seq) return URL.revokeObjectURL(url);
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = url;
    const ext = $("format").value === "jpeg" ? "jpg" : "png";
    const base = state.file.name.replace(/\.[^.]*$/, "") || "photo";
    const link = $("download");
    link.href = url;
    link.download = `${base}-colour.${ext}`;
    link.setAttribute("aria-disabled", "false");
    if (state.beforeBroken) {
      $("compare").classList.add("gray-before");
      $("before").src = url;
    } else if ($("before").getAttribute("src") !== state.originalUrl) {
      $("before").src = state.originalUrl;
      await $("before").decode().catch(() => {});
    }
    $("result").hidden = false;
    $("result-info").textContent =
      `${after.naturalWidth} × ${after.naturalHeight} px · model ${$("model").value} · ` +
      `render ${$("render-size").value} px · saturation ${Number($("saturation").value).toFixed(2)}` +
      (state.hints.length ? ` · ${state.hints.length} hint${state.hints.length > 1 ? "s" : ""}` : "") +
      (state.reference ? ` · reference ${state.reference.name}` : "");
    state.renders += 1;
    document.body.dataset.renders = String(state.renders);
    document.body.dataset.state = "done";
    setStatus($("hint-mode").checked
      ? "Done. Click the picture to add a hint, drag across it to paint a stroke, drag a dot to move it; the result re-renders."
      : "Done. Drag across the picture to compare; change a setting to re-render.");
  }

  function scheduleColorize() {
    clearTimeout(state.timer);
    state.timer = setTimeout(colorize, DEBOUNCE_MS);
  }

  function setReveal(percent) {
    $("after").style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
    $("divider").style.left = `${percent}%`;
  }

  function wire() {
    hints.wireHints();
    $("file").addEventListener("change", (e) => {
      pickFile(e.target.files[0]);
      e.target.value = "";
    });
    const drop = $("drop");
    for (const type of ["dragenter", "dragover"]) {
      window.addEventListener(type, (e) => {
        e.preventDefault();
        drop.classList.add("over");
      });
    }
    window.addEventListener("dragleave", (e) => {
      if (!e.relatedTarget) drop.classList.remove("over");
    });
    window.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      pickFile(e.dataTransfer && e.dataTransfer.files[0]);
    });
    $("before").addEventListener("error", () => {
      // A format the browser cannot show (e.g. TIFF): the result in gray stands in as the "before".
      if ($("before").src === state.originalUrl) state.beforeBroken = true;
    });
    $("saturation").addEventListener("input", (e) => {
      $("saturation-value").textContent = Number(e.target.value).toFixed(2);
      scheduleColorize();
    });
    $("saturation").addEventListener("change", colorize);
    for (const id of ["model", "render-size", "format"]) $(id).addEventListener("change", colorize);
    $("reveal").addEventListener("input", (e) => setReveal(Number(e.target.value)));
    $("after").addEventListener("load", hints.renderHints);
    setReveal(Number($("reveal").value));
  }

  wire();
  loadModels();
})();
