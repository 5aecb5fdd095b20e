"""scripts/build_textures.py: textures read from package files and zip archives, licences kept, bad files skipped."""

from __future__ import annotations

import io
import json
import zipfile

from PIL import Image

from scripts_loader import load_script

bt = load_script("build_textures")


def png(colour, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def test_textures_come_from_files_and_archives_with_their_licences(tmp_path, monkeypatch):
    root = tmp_path / "x" / "pkg"
    (root / "usr/share/game").mkdir(parents=True)
    (root / "usr/share/game/grass.png").write_bytes(png((40, 160, 40), (2000, 1000)))
    with zipfile.ZipFile(root / "usr/share/game/base.pk3", "w") as z:
        z.writestr("textures/bark.png", png((120, 80, 40)))
        z.writestr("textures/broken.png", b"not an image")
    listed = [
        {"package": "pkg", "path": "usr/share/game/grass.png", "licence": "GPL-2+", "copyright": "A", "material": "grass"},
        {"package": "pkg", "path": "usr/share/game/base.pk3!/textures/bark.png", "licence": "CC0", "copyright": "B", "material": "tree bark"},
        {"package": "pkg", "path": "usr/share/game/base.pk3!/textures/broken.png", "licence": "CC0", "copyright": "B", "material": "rock"},
    ]
    (tmp_path / "textures.json").write_text(json.dumps(listed))
    monkeypatch.setattr(bt, "TEXTURES", tmp_path / "textures.json")
    monkeypatch.setattr(bt.corpus_packages, "fetch_package", lambda name, cache: (root, "1.0-1"))
    out = tmp_path / "out"
    result = bt.build(out, tmp_path, max_side=512)
    files = {t["file"]: t for t in result["textures"]}
    assert set(files) == {"grass__pkg__grass.jpg", "tree-bark__pkg__bark.jpg"}
    assert files["tree-bark__pkg__bark.jpg"]["licence"] == "CC0" and files["grass__pkg__grass.jpg"]["version"] == "1.0-1"
    assert Image.open(out / "grass__pkg__grass.jpg").size == (512, 256)  # long side limited
    r, g, b = Image.open(out / "tree-bark__pkg__bark.jpg").getpixel((5, 5))
    assert abs(r - 120) < 8 and abs(g - 80) < 8 and abs(b - 40) < 8
    assert [s["path"] for s in result["skipped"]] == ["pkg:usr/share/game/base.pk3!/textures/broken.png"]
    assert json.loads((out / "textures.json").read_text()) == result
