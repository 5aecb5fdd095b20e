"""ONNX export and the ONNX Runtime backend: same pipeline, same colours, self-describing files."""

import numpy as np
import pytest
import torch

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.inference.pipeline import Colorizer
from chromatize.registry import create_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from chromatize.inference import onnx  # noqa: E402


@pytest.fixture
def weights(tmp_path):
    model = create_model("unet", base=4, levels=3)  # size multiple 8: padding happens at odd sizes
    return save_checkpoint(tmp_path / "m.safetensors", model, readout={"render_size": 40, "chroma_gain": 1.3})


def test_exported_network_matches_pytorch_at_unseen_sizes(weights, tmp_path):
    out = onnx.export_onnx(weights, tmp_path / "m.onnx")
    net = onnx.OnnxNetwork(out)
    assert net.info.name == "unet" and net.readout.render_size == 40 and net.readout.chroma_gain == 1.3
    model = Colorizer.from_pretrained(weights, backend="torch").model
    for shape in ((1, 1, 24, 40), (3, 1, 56, 32)):  # export used 64x64: batch, height and width are dynamic
        L = torch.rand(shape) * 2 - 1
        with torch.inference_mode():
            assert (net(L) - model(L)).abs().max() < 1e-4


def test_onnx_backend_colorizes_like_torch_within_one_level(weights, rng):
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    by_torch = Colorizer.from_pretrained(weights, backend="torch")
    by_onnx = Colorizer.from_pretrained(weights, backend="onnx")
    assert isinstance(by_onnx.model, onnx.OnnxNetwork) and by_onnx.chroma_gain == 1.3
    assert np.abs(by_onnx.colorize_array(rgb).astype(int) - by_torch.colorize_array(rgb)).max() <= 1
    assert isinstance(Colorizer.from_pretrained(weights).model, onnx.OnnxNetwork)  # auto: ONNX Runtime on the CPU


def test_checkpoints_are_exported_to_the_cache_once(weights):
    first = onnx.cached_onnx(weights)
    stamp = first.stat().st_mtime_ns
    assert onnx.cached_onnx(weights) == first and first.stat().st_mtime_ns == stamp
    assert first.parent == onnx.onnx_cache_dir()
    assert onnx.cached_onnx(first) == first  # an .onnx file is used as it is


def test_cli_exports_onnx_and_colorizes_with_it(weights, tmp_path, capsys):
    from PIL import Image

    target = tmp_path / "m.onnx"
    assert main(["export", str(weights), str(target), "--chroma-gain", "2.0"]) == 0
    assert onnx.OnnxNetwork(target).readout.chroma_gain == 2.0
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(tmp_path / "p.png")
    assert main(["colorize", str(tmp_path / "p.png"), "--model", str(target), "-q"]) == 0
    assert (tmp_path / "p_color.png").is_file()
    capsys.readouterr()
    assert main(["colorize", str(tmp_path / "p.png"), "--model", str(target), "--backend", "torch", "--overwrite"]) == 2
    assert "ONNX file" in capsys.readouterr().err
    assert main(["export", str(weights), str(tmp_path / "h.onnx"), "--half"]) == 1


def test_a_damaged_or_foreign_onnx_file_is_refused_in_one_line(tmp_path, weights):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match="not a readable ONNX model") as err:
        onnx.OnnxNetwork(bad)
    assert "\n" not in str(err.value)
    import onnx as onnx_lib

    plain = tmp_path / "plain.onnx"
    onnx.export_onnx(weights, plain)
    proto = onnx_lib.load(str(plain))
    del proto.metadata_props[:]
    onnx_lib.save(proto, str(plain))
    with pytest.raises(ValueError, match="not exported by chromatize"):
        onnx.OnnxNetwork(plain)


def test_export_records_flip_averaging(tmp_path):
    from chromatize.checkpoint import readout_from_header, weights_header

    weights = save_checkpoint(tmp_path / "m.safetensors", create_model("baseline", width=4))
    assert main(["export", str(weights), str(tmp_path / "f.safetensors"), "--flip"]) == 0
    assert readout_from_header(weights_header(tmp_path / "f.safetensors")).flip
    assert not readout_from_header(weights_header(weights)).flip and "flip" not in (weights_header(weights).get("readout") or {})


def test_hint_networks_export_and_run_on_onnx_runtime_like_torch(tmp_path, rng):
    from chromatize.hints import Hint

    torch.manual_seed(0)
    model = create_model("unet_hints", base=4, levels=3)
    for p in model.parameters():  # the guide channels start at zero in real models; here they must matter
        torch.nn.init.normal_(p, std=0.3)
    weights = save_checkpoint(tmp_path / "h.safetensors", model, readout={"render_size": 40})
    net = onnx.OnnxNetwork(onnx.export_onnx(weights, tmp_path / "h.onnx"))
    assert net.info.inputs == ("L", "hints", "hint_prior")
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    hints = [Hint(10, 12, "navy"), Hint(40, 30, "#c01010")]
    by_torch = Colorizer.from_pretrained(weights, backend="torch")
    by_onnx = Colorizer.from_pretrained(weights)  # auto: ONNX Runtime, hints and all
    assert isinstance(by_onnx.model, onnx.OnnxNetwork) and by_onnx.takes_hints
    hinted = by_onnx.colorize_array(rgb, hints=hints).astype(int)
    assert np.abs(hinted - by_torch.colorize_array(rgb, hints=hints)).max() <= 1
    assert np.abs(hinted - by_onnx.colorize_array(rgb)).max() > 5  # the hints reached the graph
