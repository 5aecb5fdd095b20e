// chromatize page, colour hints: dots and strokes placed on the picture, listed, recoloured, removed, saved
// and loaded. app.js calls window.chromatizeHints with the page's state and helpers; hints are sent with each
// render as the same JSON the command line and the HTTP API take.
"use strict";

window.chromatizeHints = ({ $, state, setStatus, colorize, scheduleColorize, setReveal }) => {
  const STROKE_START_PX = 4;  // a press that moves farther than this (screen px) paints a stroke, else places a dot
  const STROKE_STEP_PX = 4;  // a stroke keeps one point every this many screen px
  const MAX_STROKE_POINTS = 1000;  // the server's limit per stroke
  // The SVG namespace, as the HTML parser assigns it (no URL in the page's scripts: they load nothing from elsewhere).
  const SVG_NS = (() => {
    const holder = document.createElement("div");
    holder.innerHTML = "<svg></svg>";
    return holder.firstChild.namespaceURI;
  })();

  // A hint is a dot {x, y, color} or a stroke {points: [[x, y], ...], color}: positions in the photo's own
  // pixels (the result has the upload's size), color #rrggbb; either may carry a radius (loaded from a file).

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

  const isStroke = (hint) => Array.isArray(hint.points);

  function describeHint(hint) {
    if (!isStroke(hint)) return `${hint.color} at ${hint.x}, ${hint.y}`;
    const [x, y] = hint.points[0];
    return `${hint.color} stroke of ${hint.points.length} point${hint.points.length > 1 ? "s" : ""} from ${x}, ${y}`;
  }

  function strokeLayer(img) {
    // Strokes as SVG polylines in the photo's own pixels, stretched over the picture like the layer itself.
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "strokes");
    svg.setAttribute("viewBox", `0 0 ${img.naturalWidth || 1} ${img.naturalHeight || 1}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    state.hints.forEach((hint, i) => {
      if (!isStroke(hint)) return;
      const points = hint.points.map(([x, y]) => `${x + 0.5},${y + 0.5}`).join(" ");
      for (const part of ["stroke-edge", "stroke-line"]) {
        const line = document.createElementNS(SVG_NS, "polyline");
        line.setAttribute("class", part + (i === state.selected ? " selected" : ""));
        line.setAttribute("points", points);
        line.dataset.index = String(i);
        if (part === "stroke-line") line.setAttribute("stroke", hint.color);
        svg.append(line);
      }
    });
    return svg;
  }

  function renderHints() {
    const img = $("after");
    const layer = $("markers");
    layer.replaceChildren(strokeLayer(img));
    const list = $("hint-list");
    list.replaceChildren();
    state.hints.forEach((hint, i) => {
      if (!isStroke(hint)) {
        const dot = document.createElement("button");
        dot.type = "button";
        dot.className = "marker" + (i === state.selected ? " selected" : "");
        dot.dataset.index = String(i);
        dot.setAttribute("aria-label", `hint ${i + 1} at ${hint.x}, ${hint.y}, ${hint.color}`);
        dot.style.left = `${(100 * (hint.x + 0.5)) / (img.naturalWidth || 1)}%`;
        dot.style.top = `${(100 * (hint.y + 0.5)) / (img.naturalHeight || 1)}%`;
        dot.style.background = hint.color;
        layer.append(dot);
      }
      const item = document.createElement("li");
      item.className = (i === state.selected ? "selected" : "") + (isStroke(hint) ? " stroke" : "");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = hint.color;
      item.append(swatch, ` ${describeHint(hint)}`);
      item.addEventListener("click", () => selectHint(i));
      list.append(item);
    });
    $("hints-clear").disabled = !state.hints.length;
    $("hints-save").disabled = !state.hints.length;
    document.body.dataset.hints = String(state.hints.length);
    document.body.dataset.strokes = String(state.hints.filter(isStroke).length);
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
    if (!$("after").naturalWidth || event.button > 0) return;
    const target = event.target.closest(".marker, polyline");
    if (target) {
      const index = Number(target.dataset.index);
      selectHint(index);
      if (target.classList.contains("marker")) {  // dots move; strokes are only selected
        state.drag = { index, moved: false, pointer: event.pointerId };
        $("markers").setPointerCapture(event.pointerId);
      }
      event.preventDefault();
      return;
    }
    if (!ensureHintModel()) return;
    // Empty picture: a click places a dot (on release), a drag paints a stroke.
    const start = { sx: event.clientX, sy: event.clientY, p: photoPoint(event) };
    state.paint = { pointer: event.pointerId, start, last: start, index: -1 };
    $("markers").setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  function extendStroke(event, force = false) {
    // Adds the pointer's photo pixel to the stroke being painted, thinned to one every STROKE_STEP_PX on screen.
    const paint = state.paint;
    const far = (a, limit) => Math.hypot(event.clientX - a.sx, event.clientY - a.sy) >= limit;
    if (paint.index < 0) {
      if (!far(paint.start, STROKE_START_PX)) return;
      const { x, y } = paint.start.p;
      state.hints.push({ points: [[x, y]], color: colorAt(x, y) });
      paint.index = state.hints.length - 1;
      selectHint(paint.index);
    }
    if (!force && !far(paint.last, STROKE_STEP_PX)) return;
    const points = state.hints[paint.index].points;
    const p = photoPoint(event);
    const [lx, ly] = points[points.length - 1];
    if ((p.x === lx && p.y === ly) || points.length >= MAX_STROKE_POINTS) return;
    points.push([p.x, p.y]);
    paint.last = { sx: event.clientX, sy: event.clientY };
    renderHints();
  }

  function onMarkersMove(event) {
    if (state.paint && state.paint.pointer === event.pointerId) return extendStroke(event);
    if (!state.drag || state.drag.pointer !== event.pointerId) return;
    const p = photoPoint(event);
    Object.assign(state.hints[state.drag.index], p);
    state.drag.moved = true;
    renderHints();
  }

  function onMarkersUp(event) {
    if (state.paint && state.paint.pointer === event.pointerId) {
      const paint = state.paint;
      if (event.type !== "pointercancel" && paint.index >= 0) extendStroke(event, true);  // the stroke's end
      state.paint = null;
      if (paint.index < 0) {
        if (event.type === "pointercancel") return;
        const { x, y } = paint.start.p;
        state.hints.push({ x, y, color: colorAt(x, y) });
        selectHint(state.hints.length - 1);
      } else {
        selectHint(paint.index);
      }
      scheduleColorize();
      return;
    }
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

  function readHint(h) {
    // One item of a hints file -> a hint of this page, or null when it is neither a dot nor a stroke.
    if (!h || typeof h !== "object" || typeof h.color !== "string") return null;
    const extra = h.radius != null ? { radius: h.radius } : {};
    if (Array.isArray(h.points)) {
      const ok = h.points.length > 0 && h.points.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite));
      return ok ? { points: h.points.map(([x, y]) => [Math.round(x), Math.round(y)]), color: h.color, ...extra } : null;
    }
    if (!Number.isFinite(h.x) || !Number.isFinite(h.y)) return null;
    return { x: Math.round(h.x), y: Math.round(h.y), color: h.color, ...extra };
  }

  async function loadHints(file) {
    if (!file) return;
    try {
      const data = JSON.parse(await file.text());
      const hints = Array.isArray(data) ? data.map(readHint) : [null];
      if (hints.includes(null)) {
        throw new Error('expected a list like [{"x": 120, "y": 340, "color": "#1f3a93"}, {"points": [[10, 20], [60, 25]], "color": "red"}]');
      }
      if (!ensureHintModel()) return;
      state.hints = hints;
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

  return { selectHint, renderHints, wireHints };
};
