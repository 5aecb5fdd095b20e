"""Sharded colorization of a folder: N processes together do every file exactly once, reruns skip."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.inference.shard import parse_shard, shard_from_env, shard_pairs
from chromatize.registry import create_model

NAMES = ["a.png", "b.jpg", "sub/c.png", "sub/d.tif", "sub/deeper/e.png", "f.webp", "g.png"]


@pytest.fixture
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("baseline", width=4)))


@pytest.fixture
def archive(tmp_path):
    rng = np.random.default_rng(0)
    for name in NAMES:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (9, 12), dtype=np.uint8), "L").save(path)
    return tmp_path / "in"


def colorize(*args):
    return main(["colorize", "-q", "--render-size", "16", *map(str, args)])


def summary(out, i, n):
    return json.loads((out / f"colorize-shard-{i}-of-{n}.json").read_text())


def test_three_shards_cover_every_file_once_and_a_rerun_skips_all(archive, model, tmp_path, capsys):
    out = tmp_path / "out"
    for i in range(3):
        assert colorize(archive, "-o", out, "--model", model, "--shard", f"{i}/3") == 0
    assert f"summary in {out / 'colorize-shard-2-of-3.json'}" in capsys.readouterr().out
    done = [Path(src).relative_to(archive).as_posix() for i in range(3) for src, _ in summary(out, i, 3)["files"]["done"]]
    assert sorted(done) == sorted(NAMES)  # each file exactly once
    assert [summary(out, i, 3)["done"] for i in range(3)] == [3, 2, 2]
    outputs = sorted(p.relative_to(out).with_suffix("").as_posix() for p in out.rglob("*") if p.is_file() and p.suffix != ".json")
    assert outputs == sorted(n.rsplit(".", 1)[0] for n in NAMES)
    for i in range(3):
        assert colorize(archive, "-o", out, "--model", model, "--shard", f"{i}/3") == 0
        s = summary(out, i, 3)
        assert s["done"] == 0 and s["failed"] == 0 and s["skipped"] == [3, 2, 2][i]


def test_shard_from_the_environment_and_failures_in_the_summary(archive, model, tmp_path, monkeypatch):
    (archive / "broken.png").write_bytes(b"not a png")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert colorize(archive, "-o", tmp_path / "out", "--model", model) in (0, 1)
    s = summary(tmp_path / "out", 1, 2)
    assert s["shard"] == 1 and s["shards"] == 2 and s["done"] + s["failed"] == 4
    monkeypatch.setenv("RANK", "0")
    assert colorize(archive, "-o", tmp_path / "out", "--model", model) in (0, 1)
    both = [summary(tmp_path / "out", i, 2) for i in range(2)]
    assert sum(s["failed"] for s in both) == 1
    (failure,) = [f for s in both for f in s["files"]["failed"]]
    assert failure["input"].endswith("broken.png") and failure["reason"]


def test_more_shards_than_files_and_bad_shards(archive, model, tmp_path, capsys):
    assert colorize(archive / "a.png", "-o", tmp_path / "out", "--model", model, "--shard", "5/8") == 0
    assert summary(tmp_path / "out", 5, 8)["done"] == 0 and not list((tmp_path / "out").glob("*.png"))
    for bad in ("3/3", "x/2", "1", "-1/2"):
        assert colorize(archive, "--model", model, f"--shard={bad}") == 2
        err = capsys.readouterr().err
        assert "--shard must be I/N" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_shard_pairs_depend_only_on_relative_paths():
    rel = [Path(n) for n in NAMES]
    here = [(Path("/mnt/a/photos") / r, Path("/out") / r) for r in rel]
    there = [(Path("/data/x/photos") / r, Path("/o2") / r) for r in rel]
    random.Random(0).shuffle(there)
    for i in range(3):
        mine = [s.relative_to("/mnt/a/photos") for s, _ in shard_pairs(here, i, 3)]
        theirs = [s.relative_to("/data/x/photos") for s, _ in shard_pairs(there, i, 3)]
        assert mine == theirs
    assert shard_pairs(here, 0, 1) == sorted(here)
    assert parse_shard("2/4") == (2, 4) and shard_from_env({}) is None
    assert shard_from_env({"RANK": "3", "WORLD_SIZE": "4"}) == (3, 4)
