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
    beforeBroken: false, hints: [], selected: -1, reference: null, drag: null,
  };

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
    selectHint(-1);
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
      ? "Done. Click the picture to add a hint, drag a dot to move it; the result re-renders."
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

  // ------------------------------------------------------------------ colour hints
  // A hint is {x, y, color}: x, y in the photo's own pixels (the result has the upload's size), color #rrggbb.

  function modelTakesHints(name) {
    const m = state.models.find((item) => item.name === name);
    return Boolean(m && m.hints);
  }

  function ensureHintModel() {
    // Hints need a model that takes them: switch to one (the first such) if the chosen one does not.
    if (modelTakesHints($("model").value)) return true;
    const m = state.models.find((item) => item.hints);
    if (!m) {
      setStatus("This server has no model that takes colour hints.", { error: true });
      return false;
    }
    $("model").value = m.name;
    return true;
  }

  const hex = (v) => v.toString(16).padStart(2, "0");

  function colorAt(x, y) {
    // The colour under a point of the current result (same-origin blob, so the canvas can be read).
    const img = $("after");
    if (!img.naturalWidth) return "#808080";
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 1;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, Math.floor(x), Math.floor(y), 1, 1, 0, 0, 1, 1);
    const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
    return `#${hex(r)}${hex(g)}${hex(b)}`;
  }

  function photoPoint(event) {
    // Pointer position -> pixel of the photo, clamped inside it.
    const img = $("after");
    const rect = $("compare").getBoundingClientRect();
    const fx = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 0.9999);
    const fy = Math.min(Math.max((event.clientY - rect.top) / rect.height, 0), 0.9999);
    return { x: Math.floor(fx * img.naturalWidth), y: Math.floor(fy * img.naturalHeight) };
  }

  function selectHint(index) {
    state.selected = index;
    const hint = state.hints[index];
    $("hint-color").disabled = !hint;
    $("hint-remove").disabled = !hint;
    if (hint) $("hint-color").value = hint.color;
    renderHints();
  }

  function renderHints() {
    const img = $("after");
    const layer = $("markers");
    layer.replaceChildren();
    const list = $("hint-list");
    list.replaceChildren();
    state.hints.forEach((hint, i) => {
      const dot = document.createElement("button");
      dot.type = "button";
      dot.className = "marker" + (i === state.selected ? " selected" : "");
      dot.dataset.index = String(i);
      dot.setAttribute("aria-label", `hint ${i + 1} at ${hint.x}, ${hint.y}, ${hint.color}`);
      dot.style.left = `${(100 * (hint.x + 0.5)) / (img.naturalWidth || 1)}%`;
      dot.style.top = `${(100 * (hint.y + 0.5)) / (img.naturalHeight || 1)}%`;
      dot.style.background = hint.color;
      layer.append(dot);
      const item = document.createElement("li");
      item.className = i === state.selected ? "selected" : "";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = hint.color;
      item.append(swatch, ` ${hint.color} at ${hint.x}, ${hint.y}`);
      item.addEventListener("click", () => selectHint(i));
      list.append(item);
    });
    $("hints-clear").disabled = !state.hints.length;
    $("hints-save").disabled = !state.hints.length;
    document.body.dataset.hints = String(state.hints.length);
  }

  function hintsChanged() {
    renderHints();
    scheduleColorize();
  }

  function setHintMode(on) {
    $("hint-mode").checked = on;
    $("compare").classList.toggle("hinting", on);
    setReveal(on ? 100 : Number($("reveal").value));
  }

  function onMarkersDown(event) {
    if (!$("after").naturalWidth) return;
    const dot = event.target.closest(".marker");
    if (dot) {
      const index = Number(dot.dataset.index);
      selectHint(index);
      state.drag = { index, moved: false, pointer: event.pointerId };
      $("markers").setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (!ensureHintModel()) return;
    const p = photoPoint(event);
    state.hints.push({ x: p.x, y: p.y, color: colorAt(p.x, p.y) });
    selectHint(state.hints.length - 1);
    scheduleColorize();
  }

  function onMarkersMove(event) {
    if (!state.drag || state.drag.pointer !== event.pointerId) return;
    const p = photoPoint(event);
    Object.assign(state.hints[state.drag.index], p);
    state.drag.moved = true;
    renderHints();
  }

  function onMarkersUp(event) {
    if (!state.drag || state.drag.pointer !== event.pointerId) return;
    const { moved } = state.drag;
    state.drag = null;
    if (moved) scheduleColorize();
  }

  function removeHint(index) {
    if (index < 0 || index >= state.hints.length) return;
    state.hints.splice(index, 1);
    selectHint(Math.min(index, state.hints.length - 1));
    scheduleColorize();
  }

  function saveHints() {
    const blob = new Blob([JSON.stringify(state.hints, null, 1)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    const base = (state.file && state.file.name.replace(/\.[^.]*$/, "")) || "photo";
    link.download = `${base}-hints.json`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  async function loadHints(file) {
    if (!file) return;
    try {
      const data = JSON.parse(await file.text());
      const ok = Array.isArray(data) && data.every((h) => h && Number.isFinite(h.x) && Number.isFinite(h.y) && typeof h.color === "string");
      if (!ok) throw new Error('expected a list like [{"x": 120, "y": 340, "color": "#1f3a93"}]');
      if (!ensureHintModel()) return;
      state.hints = data.map((h) => ({ x: Math.round(h.x), y: Math.round(h.y), color: h.color, ...(h.radius != null ? { radius: h.radius } : {}) }));
      selectHint(state.hints.length ? 0 : -1);
      colorize();
    } catch (err) {
      setStatus(`${file.name}: not a hints file (${err.message})`, { error: true });
    }
  }

  function pickReference(file) {
    state.reference = file || null;
    $("reference-clear").hidden = !state.reference;
    if (state.reference && !ensureHintModel()) return;
    colorize();
  }

  function wireHints() {
    $("hint-mode").addEventListener("change", (e) => setHintMode(e.target.checked));
    const layer = $("markers");
    layer.addEventListener("pointerdown", onMarkersDown);
    layer.addEventListener("pointermove", onMarkersMove);
    layer.addEventListener("pointerup", onMarkersUp);
    layer.addEventListener("pointercancel", onMarkersUp);
    $("hint-color").addEventListener("input", (e) => {
      const hint = state.hints[state.selected];
      if (!hint) return;
      hint.color = e.target.value;
      hintsChanged();
    });
    $("hint-remove").addEventListener("click", () => removeHint(state.selected));
    $("hints-clear").addEventListener("click", () => {
      state.hints = [];
      selectHint(-1);
      scheduleColorize();
    });
    document.addEventListener("keydown", (e) => {
      if ((e.key === "Delete" || e.key === "Backspace") && e.target.closest && e.target.closest(".marker")) removeHint(state.selected);
    });
    $("hints-save").addEventListener("click", saveHints);
    $("hints-load").addEventListener("change", (e) => {
      loadHints(e.target.files[0]);
      e.target.value = "";
    });
    $("reference").addEventListener("change", (e) => pickReference(e.target.files[0]));
    $("reference-clear").addEventListener("click", () => {
      $("reference").value = "";
      pickReference(null);
    });
  }

  function wire() {
    wireHints();
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
    $("after").addEventListener("load", renderHints);
    setReveal(Number($("reveal").value));
  }

  wire();
  loadModels();
})();
