"""scripts/build_composites.py: cut-outs pasted onto training photos, deterministic, licences recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from scripts_loader import load_script

bcomp = load_script("build_composites")


def test_cutout_list_records_a_licence_and_holder_for_every_file():
    records = json.loads(bcomp.CUTOUTS.read_text())
    assert len(records) >= 300
    assert len({(r["package"], r["path"]) for r in records}) == len(records)
    for r in records:
        assert r["licence"] and r["copyright"] and r["version"] and r["category"], r


def fake_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    photos = []
    for split, colour in (("train", (200, 40, 40)), ("val", (40, 40, 200))):
        path = corpus / split / "g" / f"{split}.jpg"
        path.parent.mkdir(parents=True)
        Image.new("RGB", (300, 200), colour).save(path)
        photos.append({"file": f"{split}/g/{split}.jpg", "split": split, "licence": "CC0", "copyright": "me"})
    (corpus / "manifest.json").write_text(json.dumps({"photos": photos}))
    return corpus


def test_composites_paste_cutouts_on_training_photos_only(tmp_path, monkeypatch):
    star = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    star.paste((30, 220, 30, 255), (10, 10, 30, 30))  # an opaque green square on transparency
    cut = {"package": "p", "path": "a.png", "licence": "GPL-2", "copyright": "someone", "category": "thing"}
    monkeypatch.setattr(bcomp, "load_cutouts", lambda cache: [(cut, star.crop(star.getchannel("A").getbbox()))])
    corpus = fake_corpus(tmp_path)
    out = tmp_path / "out"
    result = bcomp.build(corpus, out, tmp_path / "cache", count=3, size=64, seed=1)
    files = sorted(p.name for p in out.glob("*.jpg"))
    assert files == ["composite_0000.jpg", "composite_0001.jpg", "composite_0002.jpg"]
    for rec in result["composites"]:
        assert rec["background"]["file"] == "train/g/train.jpg"  # never a validation photo
        assert rec["cutouts"] and all(c["licence"] == "GPL-2" and c["copyright"] == "someone" for c in rec["cutouts"])
        px = np.asarray(Image.open(out / rec["file"]), dtype=int).reshape(-1, 3)
        green = (px[:, 1] > 150) & (px[:, 0] < 100)
        red = (px[:, 0] > 150) & (px[:, 1] < 100)
        assert green.any() and red.any()  # the cut-out and the background are both visible
    assert json.loads((out / "composites.json").read_text())["composites"] == result["composites"]
    again = bcomp.build(corpus, tmp_path / "again", tmp_path / "cache", count=3, size=64, seed=1)
    assert again["composites"] == result["composites"]
