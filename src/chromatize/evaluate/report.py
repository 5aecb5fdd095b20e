"""Write an evaluation: ``results.json``, ``results.csv`` and a self-contained ``report.html``.

JSON has no NaN/Infinity: a non-finite number (the PSNR of a perfect prediction) is ``null`` there, and
``inf`` in the CSV (which Python and pandas read back as infinity). Summaries leave such values out of
mean and std and count them in ``"infinite"``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from html import escape
from pathlib import Path
from typing import Any

from chromatize.evaluate.figures import accuracy_curves_png, data_uri, training_curve_uri
from chromatize.evaluate.gallery import INPUT, ORIGINAL
from chromatize.fsutil import atomic_write_text
from chromatize.metrics import IMAGE_METRICS

#: (summary key, column title, format) of the HTML metrics table, in order.
COLUMNS = [
    ("mse", "MSE (RGB)", ".5f"),
    ("psnr", "PSNR dB", ".2f"),
    ("ssim", "SSIM", ".4f"),
    ("delta_e2000", "ΔE00", ".2f"),
    ("ab_auc", "AuC ab", ".4f"),
    ("cf_pred", "CF", ".1f"),
]


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def results_json(results: dict[str, Any]) -> str:
    """The results as JSON text (non-finite numbers as ``null``)."""
    return json.dumps(_finite_or_none(results), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def classifiers(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ImageNet classifiers that scored agreement in ``results`` (name -> description), in use order."""
    return results.get("classifier_agreement", {}).get("classifiers", {})


def results_csv(results: dict[str, Any]) -> str:
    """One line per model and image: ``model, kind, file, <IMAGE_METRICS>``, then ``top5_agreement[C]``,
    ``top1_agreement[C]`` for each classifier C in use (empty where C did not score that model)."""
    judges = list(classifiers(results))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "kind", "file", *IMAGE_METRICS, *(f"top{k}_agreement[{j}]" for j in judges for k in (5, 1))])
    for name, model in results["models"].items():
        for row in model["rows"]:
            scores = row.get("agreement", {})
            extra = [repr(float(scores[j][f"top{k}"])) if j in scores else "" for j in judges for k in (5, 1)]
            writer.writerow([name, model["kind"], row["file"], *(repr(float(row[k])) for k in IMAGE_METRICS), *extra])
    return buf.getvalue()


def _fmt(stats: dict[str, Any], spec: str) -> str:
    if stats["mean"] is None:
        return "∞"
    text = f"{stats['mean']:{spec}} ± {stats['std']:{spec}}"
    return text + (f" (+{stats['infinite']} ∞)" if stats.get("infinite") else "")


def _img(uri: str, cls: str, alt: str) -> str:
    return f'<img class="{cls}" src="{uri}" alt="{escape(alt)}">'


def _metrics_table(results: dict[str, Any]) -> str:
    judges = classifiers(results)
    head = "".join(f"<th>{escape(title)}</th>" for _, title, _ in COLUMNS)
    agree_head = "".join(f"<th>top-{k} agreement ({escape(d['title'])})</th>" for d in judges.values() for k in (5, 1))
    rows = []
    for name, model in results["models"].items():
        s = model["summary"]
        cells = "".join(f"<td>{_fmt(s[key], spec)}</td>" for key, _, spec in COLUMNS)
        scored = s.get("agreement", {})
        agree = "".join(
            f"<td>{_fmt(scored[j][f'top{k}'], '.3f')}</td>" if j in scored else "<td>-</td>" for j in judges for k in (5, 1)
        )
        rows.append(
            f"<tr><th>{escape(name)}</th><td>{model['kind']}</td>{cells}"
            f"<td>{s['delta_cf']:.1f}</td><td>{s['ab_auc_pooled']:.4f}</td>{agree}</tr>"
        )
    return (
        f'<div class="scroll"><table id="metrics"><thead><tr><th>model</th><th>kind</th>{head}<th>ΔCF</th><th>AuC pooled</th>{agree_head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _agreement_note(results: dict[str, Any]) -> str:
    info = results.get("classifier_agreement", {})
    used = "".join(f"<li>{escape(d['title'])}: weights {escape(d['weights'])}; input {escape(d['input'])}</li>"
                   for d in classifiers(results).values())
    notes = "".join(f"<li>{escape(n)}</li>" for n in info.get("notes", ()))
    return (f"<p><small>{escape(info.get('definition', ''))}. Higher is better; the references are scored by every "
            f"classifier in use.</small></p><ul>{used}{notes}</ul>") if info else ""


def _triptychs(results: dict[str, Any], gallery: dict[str, dict[str, str]]) -> str:
    parts = []
    for name, model in results["models"].items():
        mse = {r["file"]: r["mse"] for r in model["rows"]}
        parts.append(f"<h3>{escape(name)}</h3>")
        for label, files in (("best", model["best"]), ("worst", model["worst"])):
            figs = "".join(
                f'<figure>{"".join(_img(gallery[f][k], "triptych", f"{f} {k}") for k in (INPUT, name, ORIGINAL))}'
                f"<figcaption>{escape(f)}: MSE {mse[f]:.5f}</figcaption></figure>"
                for f in files
            )
            parts.append(f'<h4>{label} {len(files)} (input / prediction / original)</h4><div class="row">{figs}</div>')
    return "".join(parts)


def compared_files(results: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Files shown side by side across models, with why: the best and worst of each evaluated model
    (of the references too when no model was given), sorted by file name."""
    models = {n: m for n, m in results["models"].items() if m["kind"] == "model"} or results["models"]
    why: dict[str, list[str]] = {}
    for name, model in models.items():
        for label in ("best", "worst"):
            for f in model[label]:
                why.setdefault(f, []).append(f"{label} of {name}")
    return sorted(why.items())


def _comparison(results: dict[str, Any], gallery: dict[str, dict[str, str]]) -> str:
    columns = [INPUT, *results["models"], ORIGINAL]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    rows = "".join(
        f"<tr><th>{escape(f)}<br><small>{escape('; '.join(why))}</small></th>"
        + "".join(f"<td>{_img(gallery[f][c], 'compare', f'{f} {c}')}</td>" for c in columns)
        + "</tr>"
        for f, why in compared_files(results)
    )
    return f'<div class="scroll"><table class="compare"><thead><tr><th>file</th>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _training(results: dict[str, Any]) -> str:
    parts = []
    for name, model in results["models"].items():
        uri = training_curve_uri(model["describe"].get("training_logs", {}), name)
        if uri:
            parts.append(f"<figure>{_img(uri, 'loss', f'{name} training loss')}<figcaption>{escape(name)}</figcaption></figure>")
    return f'<div class="row">{"".join(parts)}</div>' if parts else "<p>No run directory with metrics.jsonl or loss_curve.png beside the checkpoints.</p>"


#: Fits a 1280 px screen: the page is at most 1232 px wide, and the metrics table (with one or two classifiers'
#: agreement columns) and the comparison table fit in it; a wider table (many models) scrolls inside its own box
#: instead of widening the page. On a phone the page is the screen's width: long names wrap, tables scroll in
#: their boxes, pictures shrink. The comparison table is laid out fixed: its file column keeps 11em and the
#: picture columns share the rest.
STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em auto;padding:0 1.5em;max-width:1232px;box-sizing:border-box}
p,li,h1,h2,h3,h4,figcaption{overflow-wrap:anywhere}
table{border-collapse:collapse}.scroll{overflow-x:auto;max-width:100%}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}th{text-align:left}
#metrics{font-size:.9em}#metrics td{white-space:normal;min-width:4.2em}#metrics td,#metrics th{padding:.25em .4em}
thead th,tbody th{white-space:normal;overflow-wrap:anywhere;max-width:16em}#metrics tbody th{min-width:8em}
table.compare{table-layout:fixed;width:100%;min-width:44em}table.compare th:first-child{width:11em;max-width:none}
table.compare td{padding:2px;text-align:center}img.compare{width:100%;max-width:160px;vertical-align:middle}
.row{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;max-width:100%}
img.triptych{width:min(160px,22vw);margin-right:2px}
img.curve,img.loss{max-width:min(600px,100%)}figcaption,small{font-size:.8em;color:#444}"""


def _describe(model: dict[str, Any]) -> str:
    d = model["describe"]
    if model["kind"] == "reference":
        return d["definition"]
    arch = d["arch"]
    kwargs = ", ".join(f"{k}={v}" for k, v in sorted(arch["kwargs"].items()))
    text = f"{arch['name']}({kwargs}), target {arch['target']}, weights {d['weights']}, render size {d['render_size']}"
    if d.get("chroma_gain", 1.0) != 1.0:
        text += f", chroma gain {d['chroma_gain']:g}"
    if model.get("classifiers"):
        text += f", agreement scored by {', '.join(model['classifiers'])}"
    return text + (f"; checkpoint metrics {json.dumps(d['checkpoint_metrics'])}" if d["checkpoint_metrics"] else "")


def _degraded(settings: dict[str, Any]) -> str:
    d = settings.get("degrade")
    if not d:
        return ""
    return (f", then degraded like an old print's scan (grain, blur, faded tone, uneven light, dust, scratches, JPEG; "
            f"seed {d['seed']}, strength {d['strength']:g}); predictions are scored against the clean originals,")


def report_html(results: dict[str, Any], gallery: dict[str, dict[str, str]]) -> str:
    """The whole report as one HTML page (images embedded as data URIs)."""
    st = results["settings"]
    size = "full resolution" if st["full_res"] else f"short side {st['size']} px, centre-cropped square"
    cf_orig = next(iter(results["models"].values()))["summary"]["cf_orig"]
    refs = "".join(f"<li><b>{escape(n)}</b>: {escape(_describe(m))}</li>" for n, m in results["models"].items())
    mean_ab = results["models"].get("mean-chroma", {}).get("describe", {}).get("ab")
    skipped = "".join(f"<li>{escape(s['file'])}: {escape(s['reason'])}</li>" for s in results["skipped"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chromatize evaluation</title><style>{STYLE}</style></head><body>
<h1>Colorization evaluation</h1>
<p>{len(results['images'])} images from <code>{escape(st['data'])}</code> ({size}); {len(results['skipped'])} skipped.
Each photo is turned gray (its Lab L, no chroma){_degraded(st)} and every model colorizes it; predictions are 8-bit images.</p>
<h2>Metrics</h2>
{_metrics_table(results)}
<p><small>Mean ± std (population) over images. MSE and PSNR on RGB in [0,1] (PSNR of a perfect prediction is
infinite: left out of the mean, counted as ∞). SSIM: scikit-image. ΔE00: mean CIEDE2000. AuC ab: area under the
share of pixels with ab error within 0..150 (Zhang et al. 2016), normalised to [0,1]; per image, and pooled over
all pixels. CF: colourfulness (Hasler and Süsstrunk 2003) of the predictions; originals: {_fmt(cf_orig, '.1f')};
ΔCF = |mean CF(pred) − mean CF(orig)|. Lower is better for MSE, ΔE00 and ΔCF; higher for PSNR, SSIM and AuC.</small></p>
<ul>{refs}</ul>
{_agreement_note(results)}
<p><small>mean-chroma ab: {escape(str([round(v, 2) for v in mean_ab]) if mean_ab else '-')}</small></p>
{_img(data_uri(accuracy_curves_png(results), 'image/png'), 'curve', 'ab accuracy curves')}
<h2>Best and worst images per model (by MSE)</h2>
{_triptychs(results, gallery)}
<h2>The same images across models</h2>
{_comparison(results, gallery)}
<h2>Training curves</h2>
{_training(results)}
<h2>Skipped files</h2>
<ul>{skipped or '<li>none</li>'}</ul>
</body></html>
"""


def write_report(results: dict[str, Any], gallery: dict[str, dict[str, str]], out: str | os.PathLike) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv`` and ``report.html`` into ``out`` atomically; returns their paths."""
    out = Path(out)
    paths = {"json": out / "results.json", "csv": out / "results.csv", "html": out / "report.html"}
    atomic_write_text(paths["json"], results_json(results))
    atomic_write_text(paths["csv"], results_csv(results))
    atomic_write_text(paths["html"], report_html(results, gallery))
    return paths
