import base64
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.evaluate import evaluate_folder
from chromatize.evaluate.figures import read_loss_log
from chromatize.evaluate.report import compared_files
from chromatize.evaluate.runner import best_and_worst
from chromatize.registry import create_model

N_COLOUR = 4


def _colour_image(i: int, h: int = 20, w: int = 26) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x / w, y / h, 0.5 + 0.5 * np.sin(x / 3 + i)], axis=-1)
    return Image.fromarray((rgb * 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = root / "photos"
    (data / "sub").mkdir(parents=True)
    for i in range(N_COLOUR):
        _colour_image(i).save(data / ("sub" if i == 3 else "") / f"c{i}.png")
    (data / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (data / "notes.txt").write_text("not an image, ignored")
    run = root / "run"
    save_checkpoint(run / "last.pt", create_model("baseline", width=4))
    (run / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 0.5, "val_loss": 0.7}\n{"epoch": 2, "train_loss": 0.4, "val_loss": 0.6}\n')
    return {"root": root, "data": data, "ckpt": run / "last.pt"}


@pytest.fixture(scope="module")
def evaluated(workspace):
    out = workspace["root"] / "out1"
    results = evaluate_folder([workspace["ckpt"]], workspace["data"], out=out, size=16, best_worst=2, progress=False)
    return results, out


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.metric_rows, self.images = [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.stack.append(attrs.get("id"))
        if tag == "tr" and self.stack and self.stack[-1] == "metrics" and self.in_tbody:
            self.metric_rows += 1
        if tag == "tbody":
            self.in_tbody = True
        if tag == "thead":
            self.in_tbody = False
        if tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "table":
            self.stack.pop()

    in_tbody = False


def test_results_cover_every_model_and_readable_image(evaluated, workspace):
    results, out = evaluated
    names = ["gray", "mean-chroma", str(workspace["ckpt"])]
    assert list(results["models"]) == names
    assert results["images"] == ["c0.png", "c1.png", "c2.png", "sub/c3.png"]
    on_disk = json.loads((out / "results.json").read_text())
    for name in names:
        model = on_disk["models"][name]
        assert [r["file"] for r in model["rows"]] == results["images"]
        s = model["summary"]
        mses = [r["mse"] for r in model["rows"]]
        assert s["mse"]["mean"] == pytest.approx(np.mean(mses)) and s["mse"]["std"] == pytest.approx(np.std(mses))
        assert s["delta_cf"] == pytest.approx(abs(s["cf_pred"]["mean"] - s["cf_orig"]["mean"]))
        assert 0 <= s["ab_auc_pooled"] <= 1 and len(s["ab_accuracy_curve"]) == 151
    assert on_disk["models"]["gray"]["summary"]["cf_pred"]["mean"] < 1.0  # gray is (nearly) colourless
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(names) * N_COLOUR


def test_corrupt_file_skipped_and_listed(evaluated):
    results, out = evaluated
    assert [s["file"] for s in results["skipped"]] == ["broken.jpg"]
    assert results["skipped"][0]["reason"]
    assert "broken.jpg" in (out / "report.html").read_text()


def test_report_renders_table_rows_and_images(evaluated):
    results, out = evaluated
    parser = _Collect()
    parser.feed((out / "report.html").read_text())
    n_models = len(results["models"])
    assert parser.metric_rows == n_models
    by_class = {}
    for img in parser.images:
        assert img["src"].startswith("data:image/")  # self-contained
        by_class[img["class"]] = by_class.get(img["class"], 0) + 1
    shown = sum(len(m["best"]) + len(m["worst"]) for m in results["models"].values())
    assert shown == n_models * 4  # best 2 + worst 2 of 4 images
    assert by_class["triptych"] == 3 * shown
    assert by_class["compare"] == len(compared_files(results)) * (n_models + 2)
    assert by_class["curve"] == 1 and by_class["loss"] == 1  # the checkpoint's metrics.jsonl is plotted


def test_same_model_twice_gives_identical_outputs(evaluated, workspace):
    _, out1 = evaluated
    out2 = workspace["root"] / "out2"
    evaluate_folder([workspace["ckpt"]], workspace["data"], out=out2, size=16, best_worst=2, progress=False)
    for name in ("results.json", "results.csv"):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes()


def test_perfect_prediction_psnr_is_null_in_json_and_inf_in_csv(tmp_path):
    # A gray photo used to give the perfect prediction (the gray reference); gray photos are now skipped, so an
    # oracle that knows one original stands in for a model that gets it exactly right.
    from chromatize.evaluate.data import gray_input, load_original
    from chromatize.evaluate.predictors import Predictor
    from chromatize.evaluate.runner import evaluate_predictors

    data = tmp_path / "photos"
    data.mkdir()
    _colour_image(1).save(data / "a_known.png")
    _colour_image(0).save(data / "b_colour.png")
    known = load_original(data / "a_known.png", 16)
    key = gray_input(known).tobytes()
    oracle = Predictor("oracle", "model", lambda gray: known if gray.tobytes() == key else gray)
    results = evaluate_predictors([oracle], data, size=16, best_worst=1, progress=False)
    rows = {r["file"]: r for r in results["models"]["oracle"]["rows"]}
    assert rows["a_known.png"]["mse"] == 0.0  # the oracle reproduces that photo exactly
    from chromatize.evaluate.report import results_csv, results_json

    on_disk = json.loads(results_json(results))
    psnr = on_disk["models"]["oracle"]["summary"]["psnr"]
    assert on_disk["models"]["oracle"]["rows"][0]["psnr"] is None
    assert psnr["infinite"] == 1 and psnr["mean"] == pytest.approx(rows["b_colour.png"]["psnr"])
    assert "oracle,model,a_known.png,0.0,inf," in results_csv(results)


def test_mean_chroma_uses_the_mean_ab_of_the_originals(evaluated):
    from chromatize.evaluate.data import load_original
    from chromatize.metrics import to_lab

    results, _ = evaluated
    data = results["settings"]["data"]
    labs = [to_lab(load_original(f"{data}/{f}", 16)) for f in results["images"]]
    expected = np.concatenate([lab[..., 1:].reshape(-1, 2) for lab in labs]).mean(axis=0)
    assert results["models"]["mean-chroma"]["describe"]["ab"] == pytest.approx(expected.tolist(), abs=1e-4)


def test_limit_and_bad_arguments(workspace, tmp_path):
    results = evaluate_folder([], workspace["data"], out=tmp_path / "o", size=16, limit=2, best_worst=1, progress=False)
    assert results["images"] == ["c0.png", "c1.png"]
    with pytest.raises(ValueError, match="more than once"):
        evaluate_folder([workspace["ckpt"], workspace["ckpt"]], workspace["data"], out=tmp_path / "o", progress=False)
    with pytest.raises(ValueError, match="reference"):
        evaluate_folder(["gray"], workspace["data"], out=tmp_path / "o", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no readable images"):
        evaluate_folder([], empty, out=tmp_path / "o", progress=False)


def test_best_and_worst_do_not_overlap():
    rows = [{"file": f, "mse": m} for f, m in [("a", 0.3), ("b", 0.1), ("c", 0.2), ("d", 0.1)]]
    assert best_and_worst(rows, 2) == (["b", "d"], ["a", "c"])
    assert best_and_worst(rows[:3], 2) == (["b", "c"], ["a"])


def test_loss_log_reads_epochs_and_loss_keys(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"epoch": 1, "train_loss": 0.5, "lr": 0.1}\nnot json\n{"epoch": 2, "train_loss": 0.25, "val_loss": 0.3}\n')
    assert read_loss_log(log) == ("epoch", {"train_loss": [(1.0, 0.5), (2.0, 0.25)], "val_loss": [(2.0, 0.3)]})


def test_cli_end_to_end(workspace, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["evaluate", str(workspace["ckpt"]), "--data", str(workspace["data"]), "--size", "16", "--out", str(out),
            "--best-worst", "1", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "mean-chroma" in printed and "broken.jpg" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["best_worst"] == 1 and len(results["models"]) == 3
    assert (out / "report.html").stat().st_size > 0 and (out / "results.csv").exists()
    assert main(["evaluate", "no-such-model", "--data", str(workspace["data"]), "--quiet"]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_full_resolution_and_shipped_loss_curve_png(workspace, tmp_path):
    from chromatize.evaluate.figures import training_curve_uri

    png = workspace["root"] / "curve.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(png)
    uri = training_curve_uri({"loss_curve.png": str(png), "metrics.jsonl": "ignored"}, "x")
    assert base64.b64decode(uri.split(",", 1)[1]) == png.read_bytes()  # embedded as is, not re-plotted
    results = evaluate_folder([workspace["ckpt"]], workspace["data"], out=tmp_path / "o", size=None, render_size=16,
                              best_worst=1, progress=False)
    assert results["settings"]["full_res"] is True
    # at full resolution each pixel of the 20x26 originals counts: the pooled curve is over 4 * 520 pixels
    curve = np.array(results["models"]["gray"]["summary"]["ab_accuracy_curve"])
    assert np.allclose(curve * N_COLOUR * 20 * 26, np.round(curve * N_COLOUR * 20 * 26))


def test_grayscale_photos_are_skipped_and_listed(tmp_path, capsys):
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(2):
        _colour_image(i).save(data / f"c{i}.png")
    Image.fromarray(np.tile(np.arange(26, dtype=np.uint8) * 9, (20, 1)), "L").save(data / "bw.png")
    gray_rgb = np.repeat(np.tile(np.arange(26, dtype=np.uint8) * 9, (20, 1))[..., None], 3, axis=-1)
    Image.fromarray(gray_rgb, "RGB").save(data / "bw_as_rgb.jpg", quality=95)  # a scan saved as colour: still gray
    ckpt = save_checkpoint(tmp_path / "m.pt", create_model("baseline", width=4))
    results = evaluate_folder([ckpt], data, out=tmp_path / "out", size=16, best_worst=1, progress=False)
    assert results["images"] == ["c0.png", "c1.png"]
    assert {s["file"]: s["reason"] for s in results["skipped"]} == {"bw.png": "grayscale", "bw_as_rgb.jpg": "grayscale"}
    psnr = results["models"]["gray"]["summary"]["psnr"]
    assert psnr["mean"] is not None and "infinite" not in psnr  # no perfect 'gray' prediction skews the means
    assert main(["evaluate", str(ckpt), "--data", str(data), "--out", str(tmp_path / "out2"), "--size", "16", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 grayscale photo(s) (no colour to compare against): bw.png, bw_as_rgb.jpg" in out
    assert "unreadable" not in out
    only_gray = tmp_path / "gray_only"
    only_gray.mkdir()
    Image.fromarray(gray_rgb, "RGB").save(only_gray / "g.png")
    assert main(["evaluate", str(ckpt), "--data", str(only_gray), "--out", str(tmp_path / "o3"), "--quiet"]) == 2
    assert "1 grayscale" in capsys.readouterr().err  # and says why no image was left
